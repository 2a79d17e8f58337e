"""Duplicates, merging and a group complaint on a real Temporal dev server and database: a new
case reports the open cases of its customer and category; a merge closes the duplicate with a
step pointing to its primary (and no message to the customer), the primary records it once
however often the merge is sent, refusals leave both cases as they were, reports count the
primary once, and a group links cases with one handling plan."""

from __future__ import annotations

import pytest

import starter
from activities.storage import list_events, list_outbox
from process.links import LinkInput, LinkKind
from process.refusals import RefusalKind
from runtime import Settings
from service.cases import KesuError
from service.linking import Linking
from service.render import render_case
from service.reports import build_report
from starter import build_parser
from tests.temporal_support import Harness

pytestmark = pytest.mark.temporal

SUPERVISOR = ("李强", ["supervisor"])


async def open_complaint(h: Harness, customer: str, category: str) -> str:
    fields = {"customer_id": customer, "category": category, "customer_name": "张女士"}
    started = await h.kesu.start_case("complaint", fields, roles=["agent"], stored=True)
    return started.case_id


async def refused(linking: Linking, duplicate: str, into: str, roles: list[str]) -> KesuError:
    with pytest.raises(KesuError) as caught:
        await linking.merge(duplicate, into, actor="李强", roles=roles, reason="重复")
    return caught.value


async def test_duplicates_merge_and_group(harness: Harness, unique_key: str) -> None:
    h, linking = harness, Linking(harness.kesu)
    customer = f"C-{unique_key}"
    primary = await open_complaint(h, customer, "card")
    assert (await linking.duplicates(primary)).cases == []
    duplicate = await open_complaint(h, customer, "card")
    other_category = await open_complaint(h, customer, "loan")
    found = await linking.duplicates(duplicate)
    assert found.checked and [case.case_id for case in found.cases] == [primary]
    assert found.cases[0].case_number.startswith("CP-")
    assert (await linking.duplicates(other_category)).cases == []
    await h.kesu.send_event(primary, "accept", actor="王敏", roles=["agent"])

    # Who may merge is the definition's: an agent may not.
    forbidden = await refused(linking, duplicate, primary, ["agent"])
    assert forbidden.kind is RefusalKind.FORBIDDEN and "needs role supervisor" in str(forbidden)

    # The case itself refuses too (its update validator): nothing reaches its history.
    steps = len((await h.kesu.get_case(primary)).state.steps)
    sideways = LinkInput(kind=LinkKind.GROUP, other="G-X", actor="王敏", roles=["agent"])
    with pytest.raises(KesuError) as caught:
        await h.kesu.link_case(primary, sideways)
    assert caught.value.kind is RefusalKind.FORBIDDEN
    assert len((await h.kesu.get_case(primary)).state.steps) == steps

    actor, roles = SUPERVISOR
    merged = await linking.merge(
        duplicate, primary, actor=actor, roles=roles, reason="同一笔扣费", request_id="m-1"
    )
    assert (merged.duplicate.stage, merged.duplicate.closed) == ("merged", True)
    again = await linking.merge(duplicate, primary, actor=actor, roles=roles, reason="同一笔扣费")
    assert again.primary.seq == merged.primary.seq  # recorded once, however often sent

    dup_view, primary_view = await h.kesu.get_case(duplicate), await h.kesu.get_case(primary)
    last = dup_view.state.steps[-1]
    assert (last.event, last.to_stage, last.data["into"]) == ("case.merged", "merged", primary)
    assert dup_view.state.closed_at is not None
    linked = [s for s in primary_view.state.steps if s.event == "case.duplicate_linked"]
    assert [s.data["duplicate"] for s in linked] == [duplicate]
    assert primary_view.state.closed_at is None and primary_view.state.stage == "triage"
    with h.sessions() as session:
        # The duplicate's customer heard only its acknowledgement: the merge sent nothing.
        messages = list_outbox(session, duplicate)
        assert [m.template for m in messages] == ["acknowledged"]
        assert [e.event for e in list_events(session, duplicate)][-1] == "case.merged"
        report = build_report(session, {})
        opened = {group.process: group.opened for group in report}
        assert opened["complaint"] == 2  # the primary and the loan case: the duplicate once

    # Refusals, each naming why; nothing changes.
    itself = await refused(linking, primary, primary, roles)
    assert itself.kind is RefusalKind.INVALID and "into itself" in str(itself)
    cycle = await refused(linking, primary, duplicate, roles)
    assert cycle.kind is RefusalKind.CONFLICT and "a cycle" in str(cycle)
    into_merged = await refused(linking, other_category, duplicate, roles)
    assert into_merged.kind is RefusalKind.CONFLICT
    assert f"{duplicate} is itself merged: merge into {primary} instead" in str(into_merged)
    service = await h.kesu.start_case("service_request", {"customer_id": customer}, roles=["agent"])
    across = await refused(linking, other_category, service.case_id, roles)
    assert across.kind is RefusalKind.INVALID and "different processes" in str(across)
    assert len((await h.kesu.get_case(primary)).state.steps) == len(primary_view.state.steps)

    # A group complaint: one handling plan for the cases of many customers.
    group = linking.create_group("complaint", "统一退还重复扣费", actor=actor, roles=roles)
    for case in (primary, other_category):
        await linking.add_to_group(group.group_id, case, actor=actor, roles=roles)
    retried = await linking.add_to_group(group.group_id, primary, actor=actor, roles=roles)
    view = await h.kesu.get_case(primary)
    grouped = [s for s in view.state.steps if s.event == "case.grouped"]
    assert [(s.data["group"], s.data["plan"]) for s in grouped] == [
        (group.group_id, "统一退还重复扣费")
    ]
    assert retried.seq == grouped[0].seq  # joined once, however often added
    members = linking.group(group.group_id).members
    assert sorted(m.case_id for m in members) == sorted([primary, other_category])
    assert linking.groups_of([primary, duplicate]) == {primary: group.group_id}
    with pytest.raises(KesuError) as not_grouped:
        linking.create_group("complaint", "计划", actor="王敏", roles=["agent"])
    assert not_grouped.value.kind is RefusalKind.FORBIDDEN
    assert str(not_grouped.value) == (
        "creating a group of complaint cases: needs role supervisor or manager; "
        "'王敏' acts as agent"
    )


async def test_the_cli_reports_duplicates_merges_and_groups(
    harness: Harness, unique_key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    h = harness
    primary = await open_complaint(h, f"C-{unique_key}", "card")
    settings = Settings.from_env()
    start = ["start", "complaint", "--role", "agent", "--key", unique_key]
    start += ["--field", f"customer_id=C-{unique_key}", "--field", "category=card"]
    await starter._command(build_parser().parse_args(start), h.kesu, settings)
    shown = capsys.readouterr().out
    duplicate = f"complaint-{unique_key}"
    lines = shown.splitlines()  # (the worker here prints its messages among them)
    assert f"{duplicate} opened" in lines
    assert "possible duplicates (1 open, same customer and category):" in lines
    assert any(line.split()[1:3] == [primary, "intake"] for line in lines if "CP-" in line)

    merge = ["merge", duplicate, "--into", primary, "--reason", "重复", "--role", "manager"]
    await starter._command(build_parser().parse_args(merge), h.kesu, settings)
    assert f"{duplicate}: merged into {primary}, closed in merged" in capsys.readouterr().out
    create = [
        "group",
        "create",
        "--process",
        "complaint",
        "--plan",
        "统一处理",
        "--role",
        "manager",
    ]
    await starter._command(build_parser().parse_args(create), h.kesu, settings)
    group = next(
        line.split()[0] for line in capsys.readouterr().out.splitlines() if "created" in line
    )
    add = ["group", "add", group, primary, "--role", "manager"]
    await starter._command(build_parser().parse_args(add), h.kesu, settings)
    await starter._command(build_parser().parse_args(["group", "show", group]), h.kesu, settings)
    assert "plan:    统一处理" in capsys.readouterr().out
    view = await h.kesu.get_case(primary)
    text = render_case(view, h.kesu.definition_of(view.state))
    assert f"duplicates: {duplicate} (merged into this case)" in text
    assert f"group:      {group} — plan: 统一处理" in text
