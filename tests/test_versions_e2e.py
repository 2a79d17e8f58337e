"""Cases bound to their published version on a real Temporal server: old cases read, list and
mask by their own version, running workers take new processes without a restart, a hash a
worker lacks makes the case wait (never run on another definition), and upgrades."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from activities.channels.config import ChannelSetup
from activities.channels.email import AddressRule, SmtpChannel, SmtpSettings
from activities.messaging import ConsoleChannel
from activities.storage import CaseEventRow, Publication, get_case, list_events, list_outbox
from api import Principal, TokenTable, create_app
from api.views import case_body
from process.compiler import compile_definition
from process.loader import load_definition_text
from service.cases import CaseFilter, Kesu, KesuError
from tests.api_support import serving
from tests.messaging_support import shipped_renderer
from tests.receivers import Mailbox
from tests.temporal_support import eventually
from tests.versions_support import (
    CLAIM_V1,
    VersionedHarness,
    claim_worker,
    publish_claim_v2,
    publish_folder,
    write_definitions,
)
from workflows.case import CaseInput, CaseWorkflow

pytestmark = pytest.mark.temporal

HISTORIES = Path(__file__).parent / "histories"
AGENT = ("王敏", ["agent"])


async def open_claims(h: VersionedHarness) -> tuple[str, str]:
    """Two v1 claims: one in handling, one still in intake."""
    fields = {"customer_id": "C-1", "description": "车损理赔被拒"}
    handling = (await h.kesu.start_case("claim", fields, roles=["agent"])).case_id
    await h.kesu.send_event(handling, "accept", actor=AGENT[0], roles=AGENT[1])
    intake = (await h.kesu.start_case("claim", {"customer_id": "C-2"}, roles=["agent"])).case_id

    async def stored() -> bool:  # upgrades plan from the database's open cases
        with h.sessions() as session:
            return get_case(session, intake) is not None

    await eventually(stored, "the intake case stored")
    return handling, intake


async def test_old_cases_read_list_and_mask_by_their_own_version(
    temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    async with claim_worker(temporal_env.client, tmp_path) as h:
        old, _ = await open_claims(h)
        publish_claim_v2(h)
        h.kesu.refresh()
        new = (await h.kesu.start_case("claim", {"customer_id": "C-3"}, roles=["agent"])).case_id
        assert (await h.kesu.get_case(new)).state.version == 2

        view = await h.kesu.get_case(old)
        assert (view.state.version, view.state.stage) == (1, "handling")
        agent = case_body(view, h.kesu.definition_of(view.state), ["agent"])
        assert agent.fields["description"] == "***" and agent.pii_masked
        assert agent.stage_title == "处理"
        assert agent.allowed_events == ["close"]
        supervisor = case_body(view, h.kesu.definition_of(view.state), ["supervisor"])
        assert supervisor.fields["description"] == "车损理赔被拒"
        # A case whose definition cannot be found shows nothing of its data, to anyone.
        unknown = case_body(view, None, ["supervisor"])
        assert set(unknown.fields.values()) == {"***"} and unknown.stage_title is None

        # A stage only the old version has is still a stage one can list by.
        async def listed() -> bool:
            found = await h.kesu.list_cases(CaseFilter(process="claim", stage="handling"))
            return [item.case_id for item in found] == [old]

        await eventually(listed, "the v1 case listed in stage handling")
        with pytest.raises(KesuError, match="unknown stage 'handlng'"):
            await h.kesu.list_cases(CaseFilter(stage="handlng"))
        assert [info.open_cases for info in h.registry.versions("claim")] == [2, 1]


async def test_a_running_worker_takes_a_new_process_without_restart(
    temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    async with claim_worker(temporal_env.client, tmp_path) as h:
        process = f"feedback_{uuid.uuid4().hex[:8]}"  # no worker of this test run has seen it
        text = CLAIM_V1.replace("process: claim", f"process: {process}")
        (h.folder / f"{process}.yaml").write_text(text, encoding="utf-8")
        publish_folder(h.registry, h.folder)
        h.kesu.refresh()
        case = (await h.kesu.start_case(process, {"customer_id": "C-9"}, roles=["agent"])).case_id
        result = await h.kesu.send_event(case, "accept", actor=AGENT[0], roles=AGENT[1])
        assert result.stage == "handling"


async def test_a_worker_missing_a_hash_waits_for_it_and_never_runs_another(
    temporal_env: WorkflowEnvironment, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with claim_worker(temporal_env.client, tmp_path) as h:
        # Content no worker has: published only after its case has started.
        text = CLAIM_V1.replace("version: 1", "version: 3").replace("理赔", uuid.uuid4().hex)
        spec = compile_definition(load_definition_text(text, "claim.yaml"))
        case_id = f"claim-{uuid.uuid4().hex[:8]}"
        with caplog.at_level(logging.ERROR, logger="kesu"):
            handle = await h.client.start_workflow(
                CaseWorkflow.run,
                CaseInput(
                    case_id=case_id, definition=spec.content_hash, fields={"customer_id": "C"}
                ),
                id=case_id,
                task_queue=h.task_queue,
            )

            async def complained() -> bool:
                return any(spec.content_hash[:12] in r.getMessage() for r in caplog.records)

            await eventually(complained, "a log line naming the missing definition")
        with h.sessions() as session:
            assert get_case(session, case_id) is None  # nothing ran on another definition
        h.registry.publish([Publication(spec, "claim.yaml", text)], by="designer")

        async def recorded() -> bool:
            with h.sessions() as session:
                row = get_case(session, case_id)
                return row is not None and row.content_hash == spec.content_hash

        await eventually(recorded, "the case opened once its definition was published")
        view = await handle.query(CaseWorkflow.case)
        assert (view.state.version, view.state.content_hash) == (3, spec.content_hash)


async def test_upgrades_plan_every_case_then_move_each_once(
    temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    async with claim_worker(temporal_env.client, tmp_path) as h:
        handling, intake = await open_claims(h)
        publish_claim_v2(h)

        # Without a map, the case in 'handling' has nowhere to go: nothing moves at all.
        refused = await h.kesu.upgrade("claim", 1, 2, actor="admin")
        assert not refused.carried_out
        verdicts = {move.case.case_id: move.problem for move in refused.moves}
        assert verdicts[intake] is None
        assert "stage 'handling' is not in v2 (map it: --map handling=<one of" in str(
            verdicts[handling]
        )
        assert (await h.kesu.get_case(intake)).state.version == 1

        stage_map = {"handling": "investigation"}
        dry = await h.kesu.upgrade("claim", 1, 2, stage_map, dry_run=True)
        assert not dry.carried_out and not dry.refused
        assert sorted((m.case.case_id, m.to_stage) for m in dry.moves) == sorted(
            [(handling, "investigation"), (intake, "intake")]
        )
        assert (await h.kesu.get_case(handling)).state.version == 1

        done = await h.kesu.upgrade("claim", 1, 2, stage_map, actor="管理员 admin")
        assert done.carried_out and all(move.problem is None for move in done.moves)
        view = await h.kesu.get_case(handling)
        assert (view.state.version, view.state.stage) == (2, "investigation")
        step = view.state.steps[-1]
        assert (step.event, step.actor, step.from_stage) == (
            "case.upgraded",
            "管理员 admin",
            "handling",
        )
        notes = "\n".join(step.notes)
        assert "v1 → v2" in notes and "stage handling → investigation" in notes
        assert "field description: not in v2, dropped" in notes
        assert "clock response: not in v2, stopped" in notes
        assert "clock investigation_time: new in v2" in notes
        assert view.state.clocks["investigation_time"].status.value == "running"
        assert "response" not in view.state.clocks
        # The moved case takes v2's events; the database has it on v2, audited.
        result = await h.kesu.send_event(handling, "review", actor=AGENT[0], roles=AGENT[1])
        assert result.stage == "review"
        with h.sessions() as session:
            row = get_case(session, intake)
            assert row is not None and (row.version, row.stage) == (2, "intake")
            events = [event.event for event in list_events(session, intake)]
            assert events == ["case.opened", "case.upgraded"]

        again = await h.kesu.upgrade("claim", 1, 2, stage_map)
        assert again.moves == []  # a rerun finds nothing left on v1
        if os.environ.get("KESU_RECORD_HISTORIES"):
            history = await h.client.get_workflow_handle(handling).fetch_history()
            (HISTORIES / "claim_upgraded.json").write_text(history.to_json(), encoding="utf-8")
            specs = [h.kesu.versions("claim")[0], h.kesu.versions("claim")[1]]
            (HISTORIES / "claim_upgraded.definitions.json").write_text(
                "[" + ",".join(spec.model_dump_json() for spec in specs) + "]", encoding="utf-8"
            )
        with h.sessions() as session:
            upgraded = session.scalars(
                select(CaseEventRow.case_id).where(CaseEventRow.event == "case.upgraded")
            ).all()
        assert sorted(upgraded) == sorted([handling, intake])


async def test_the_http_api_upgrades_for_the_admin_role_only(
    temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    async with claim_worker(temporal_env.client, tmp_path) as h:
        handling, intake = await open_claims(h)
        publish_claim_v2(h)
        tokens = TokenTable.of_tokens(
            {"admin": Principal("管理员", ("admin",)), "agent": Principal("王敏", ("agent",))}
        )

        @contextlib.asynccontextmanager
        async def factory() -> AsyncIterator[Kesu]:
            yield h.kesu

        body = {"from_version": 1, "to_version": 2, "map": {"handling": "investigation"}}
        async with serving(create_app(factory, tokens)) as base, httpx.AsyncClient() as http:
            url = f"{base}/processes/claim/upgrade"
            denied = await http.post(url, json=body, headers={"Authorization": "Bearer agent"})
            assert denied.status_code == 403
            admin = {"Authorization": "Bearer admin"}
            dry = await http.post(url, json={**body, "dry_run": True}, headers=admin)
            assert dry.status_code == 200 and dry.json()["carried_out"] is False
            assert {m["case_id"] for m in dry.json()["moves"]} == {handling, intake}
            # A renamed field is checked in the plan: it must exist in the target...
            wrong = {**body, "field_map": {"description": "complaint"}, "dry_run": True}
            refused = await http.post(url, json=wrong, headers=admin)
            assert refused.status_code == 422
            assert (
                "--map-field description=complaint: v2 has no field 'complaint'"
                in (refused.json()["detail"])
            )
            body["field_map"] = {"description": "complaint_text"}
            dry = await http.post(url, json={**body, "dry_run": True}, headers=admin)
            assert dry.json()["field_map"] == {"description": "complaint_text"}
            done = await http.post(url, json=body, headers=admin, timeout=60)
            assert done.status_code == 200 and done.json()["carried_out"] is True
            assert all(move["seq"] is not None for move in done.json()["moves"])
        view = await h.kesu.get_case(handling)
        assert (view.state.version, view.state.steps[-1].actor) == (2, "管理员")
        # ...and its value is carried under the new name, customer data still.
        assert view.state.fields["complaint_text"] == "车损理赔被拒"
        assert "description" not in view.state.fields
        assert "field description → complaint_text" in view.state.steps[-1].notes
        agent = case_body(view, h.kesu.definition_of(view.state), ["agent"])
        assert agent.fields["complaint_text"] == "***"


REFUND = """\
process: {process}
version: 1
title: 退款 Refund
roles: [agent]
opened_by: [agent]
pii_roles: [agent]
fields:
  customer_id: {{type: string, required: true}}
  email: {{type: string, pii: true}}
  language: {{type: enum, values: [zh-CN, en], default: zh-CN}}
  amount: {{type: number, required: true}}
stages:
  intake:
    title: 受理 Intake
    initial: true
    on_enter: [{{notify: customer, template: {template}}}]
    on: {{close: {{to: closed, roles: [agent]}}}}
  closed: {{final: true}}
"""


async def test_a_running_worker_renders_a_new_process_with_its_published_templates(
    temporal_env: WorkflowEnvironment, tmp_path: Path, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    # The worker renders with the shipped templates folder: it has no file of the new process.
    mail = SmtpChannel(
        SmtpSettings(host="127.0.0.1", port=port, sender="kefu@bank.example"),
        shipped_renderer(),
        {"customer": AddressRule(field="email")},
    )
    channels = ChannelSetup(routes={"customer": mail}, default=ConsoleChannel(io.StringIO()))
    async with claim_worker(temporal_env.client, tmp_path, channels) as h:
        suffix = uuid.uuid4().hex[:8]
        process, template = f"refund_{suffix}", f"refund_received_{suffix}"
        designer = write_definitions(
            tmp_path / "designer", REFUND.format(process=process, template=template)
        )
        for language, subject in (("en", "Refund of {{ fields.amount }} received"),
                                  ("zh-CN", "已收到退款申请 {{ fields.amount }}")):  # fmt: skip
            body = "{{ stage_title }}: {{ case_id }}\n"
            (designer / "templates" / f"{template}.{language}.j2").write_text(
                "[{{ process_title }}] " + subject + "\n\n" + body, encoding="utf-8"
            )
        publish_folder(h.registry, designer)  # published after the worker started
        h.kesu.refresh()
        fields = {"customer_id": "C-1", "email": "li.na@example.com", "language": "en"}
        case = await h.kesu.start_case(process, {**fields, "amount": 1200}, roles=["agent"])
        await eventually(_async(lambda: bool(mailbox.received)), "the acknowledgement mailed")
        with h.sessions() as session:
            (row,) = list_outbox(session, case.case_id)
    assert (row.template, row.status, row.last_error) == (template, "delivered", None)
    [letter] = mailbox.received
    assert letter["Subject"] == "[退款 Refund] Refund of 1200 received"
    assert letter.get_content().strip() == f"受理 Intake: {case.case_id}"
    assert mailbox.recipients == [["li.na@example.com"]]


def _async(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def checked() -> bool:
        return check()

    return checked


async def test_an_upgrade_plans_a_case_temporal_runs_before_the_database_has_it(
    temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    async with claim_worker(temporal_env.client, tmp_path) as h:
        _, stored = await open_claims(h)
        publish_claim_v2(h)
        # Another writer holds the database's write lock: the next case runs in Temporal,
        # but its opening step cannot be stored (the worker retries until the lock goes).
        lock = sqlite3.connect(tmp_path / "kesu.db", isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")
        try:
            fields = {"customer_id": "C-7"}
            fresh = (await h.kesu.start_case("claim", fields, roles=["agent"])).case_id

            async def visible() -> bool:
                found = await h.kesu.list_cases(CaseFilter(process="claim"))
                return fresh in {item.case_id for item in found}

            await eventually(visible, "the new case in Temporal's visibility")
            with h.sessions() as session:
                assert get_case(session, fresh) is None  # not in the database yet
            stage_map = {"handling": "investigation"}
            plan = await h.kesu.upgrade("claim", 1, 2, stage_map, dry_run=True)
            verdicts = {move.case.case_id: move for move in plan.moves}
            assert set(verdicts) >= {stored, fresh}
            assert verdicts[fresh].problem is None and verdicts[fresh].to_stage == "intake"
            assert verdicts[fresh].case.case_number == "(not stored yet)"
        finally:
            lock.rollback()
            lock.close()

        async def fresh_stored() -> bool:
            with h.sessions() as session:
                return get_case(session, fresh) is not None

        await eventually(fresh_stored, "the new case stored once the lock is gone")
        done = await h.kesu.upgrade("claim", 1, 2, stage_map)
        assert done.carried_out and fresh in {move.case.case_id for move in done.moves}
        assert (await h.kesu.get_case(fresh)).state.version == 2
