"""Publishing definitions: the registry, the refusal of changed content under a published
version, ``starter.py publish`` / ``versions``, and PII by the case's own version."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

import starter
from activities.inputs import OutboxMessage
from activities.messaging import Envelope, MessagingActivities
from activities.storage import (
    DefinitionRow,
    PublishRefused,
    TemplateRow,
    load_specs,
    version_templates,
    versions,
)
from process.loader import load_definition_text
from process.pii import pii_names
from process.refusals import RefusalKind
from process.state import CaseState
from runtime import publications
from service.pii import MASK, mask_pii, may_see_pii
from service.privacy import Privacy
from service.refusals import KesuError
from service.upgrades import NOT_STORED, Unstored, plan_upgrade
from service.versions import PublishedDefinitions
from tests.records_support import Script, store
from tests.versions_support import CLAIM_V1, CLAIM_V2, write_definitions


def test_publishing_stores_each_version_once(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    registry = PublishedDefinitions(session_factory)
    folder = write_definitions(tmp_path / "defs", CLAIM_V1)
    first = registry.publish(publications(folder), by="设计师 designer")
    again = registry.publish(publications(folder), by="worker")
    assert [(r.spec.label, r.created) for r in first] == [(first[0].spec.label, True)]
    assert [r.created for r in again] == [False]
    with session_factory() as session:
        row = session.scalars(select(DefinitionRow)).one()
        assert (row.process, row.version, row.published_by) == ("claim", 1, "设计师 designer")
        assert row.source == CLAIM_V1 and row.source_name == "claim.yaml"
        assert load_specs(session) == [first[0].spec]

    write_definitions(folder, CLAIM_V2)
    registry.publish(publications(folder), by="designer")
    listed = registry.versions("claim")
    assert [(info.version, info.open_cases) for info in listed] == [(1, 0), (2, 0)]


def test_changed_content_under_a_published_version_is_refused_with_its_line(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    registry = PublishedDefinitions(session_factory)
    folder = write_definitions(tmp_path / "defs", CLAIM_V1)
    registry.publish(publications(folder), by="designer")
    edited = CLAIM_V1.replace("handling", "investigation")  # renamed, version: left at 1
    write_definitions(folder, edited)
    with pytest.raises(PublishRefused) as refused:
        registry.publish(publications(folder), by="designer")
    (problem,) = refused.value.problems
    assert problem.startswith(
        "claim.yaml:2: version 1 of claim is already published with other content "
        "(the definition differs; published by designer at "
    )
    assert problem.endswith("UTC); bump version:")
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(DefinitionRow)) == 1
        assert [info.version for info in versions(session, "claim")] == [1]


def test_publish_and_versions_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_definitions(tmp_path / "defs", CLAIM_V1)
    monkeypatch.setenv("KESU_DEFINITIONS", str(folder))
    monkeypatch.setenv("KESU_DATABASE_URL", f"sqlite:///{tmp_path / 'kesu.db'}")
    monkeypatch.setenv("KESU_DATA_DIR", str(tmp_path))
    assert starter.main(["publish", "--by", "王敏"]) == 0
    assert capsys.readouterr().out.startswith("published  claim v1 (")
    write_definitions(folder, CLAIM_V1.replace("title: 处理", "title: 办理"))
    assert starter.main(["check"]) == 0
    assert "CHANGED  claim v1: version 1 is already published with other content; bump" in (
        capsys.readouterr().out
    )
    assert starter.main(["publish"]) == 1
    error = capsys.readouterr().err
    assert "kesu: nothing published:\nclaim.yaml:2: version 1 of claim is already" in error
    write_definitions(folder, CLAIM_V2)
    assert starter.main(["publish"]) == 0
    assert starter.main(["versions", "claim"]) == 0
    out = capsys.readouterr().out
    assert "claim: 2 published version(s)" in out
    assert "v1" in out and "by 王敏  (claim.yaml)" in out and "v2" in out


def test_pii_follows_the_cases_own_version_and_fails_closed() -> None:
    v1 = load_definition_text(CLAIM_V1, "claim.yaml")
    v2 = load_definition_text(CLAIM_V2, "claim.yaml")
    old_case = {"customer_id": "C-1", "description": "车损理赔被拒"}
    # Under the case's own version the renamed field is still customer data...
    assert mask_pii(old_case, v1) == {"customer_id": "C-1", "description": MASK}
    # ...and under a version that does not declare it, unknown is masked too.
    assert mask_pii(old_case, v2) == {"customer_id": "C-1", "description": MASK}
    # No definition at all: everything is masked, and no role may see it.
    assert mask_pii(old_case, None) == {"customer_id": MASK, "description": MASK}
    assert not may_see_pii(None, ["supervisor"])
    assert pii_names(v2, ["complaint_text", "customer_id", "whatever"]) == {
        "complaint_text",
        "whatever",
    }


def _with_retention(text: str, keep: str, officer: str) -> str:
    with_officer = text.replace(
        "roles: [agent, supervisor]", f"roles: [agent, supervisor, {officer}]"
    )
    retention = f"retention: {{keep: {keep}, roles: [{officer}]}}\n"
    return with_officer.replace("fields:", retention + "fields:", 1)


def test_retention_and_its_roles_follow_the_cases_own_version(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    registry = PublishedDefinitions(session_factory)
    folder = write_definitions(tmp_path / "defs", _with_retention(CLAIM_V1, "30d", "archivist"))
    (v1,) = registry.publish(publications(folder), by="designer")
    write_definitions(folder, _with_retention(CLAIM_V2, "3y", "data_officer"))
    (v2,) = registry.publish(publications(folder), by="designer")
    s = Script("claim-1", process="claim", prefix="CL", content_hash=v1.spec.content_hash)
    store(session_factory, s.open(), s.step("close", "closed", final=True))
    closed_at = s.at

    # The current version (v2) keeps data 3 years and names data_officer; the case ran on v1.
    later = Privacy(
        session_factory, {"claim": v2.spec}, clock=lambda: closed_at + timedelta(days=31)
    )
    assert [due.case_id for due in later.retention_due()] == ["claim-1"]
    assert later.officer_roles("claim-1") == ["archivist"]
    with pytest.raises(KesuError) as refused:
        later.request("claim-1", "赵丽", ["data_officer"])
    assert refused.value.kind is RefusalKind.FORBIDDEN
    assert later.request("claim-1", "赵丽", ["archivist"]).requested_by == "赵丽"

    # A case whose version is not published: nobody's roles can be established; refused.
    orphan = Script("claim-2", process="claim", prefix="CL", content_hash="sha256:unpublished")
    store(session_factory, orphan.open(), orphan.step("close", "closed", final=True))
    assert [due.case_id for due in later.retention_due()] == ["claim-1"]
    with pytest.raises(KesuError, match="not published: who may destroy its data"):
        later.request("claim-2", "赵丽", ["archivist"])


def test_publishing_stores_template_texts_by_hash_also_for_versions_published_before(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    notify = "    on_enter: [{notify: agent, template: claim_opened}]\n"
    text = CLAIM_V1.replace("    initial: true\n", "    initial: true\n" + notify)
    folder = write_definitions(tmp_path / "defs", text)
    for language in ("zh-CN", "en"):
        (folder / "templates" / f"claim_opened.{language}.j2").write_text(
            f"{language}: {{{{ case_id }}}}\n\nbody\n", encoding="utf-8"
        )
    registry = PublishedDefinitions(session_factory)
    (published,) = publications(folder)
    # As a registry from before template texts were stored would hold it: hashes only.
    registry.publish([dataclasses.replace(published, template_texts={})], by="designer")
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(TemplateRow)) == 0
        _, texts = version_templates(session, published.spec.content_hash) or (None, {})
        assert texts == {}
    registry.publish(publications(folder), by="worker")  # unchanged files fill the texts in
    with session_factory() as session:
        found = version_templates(session, published.spec.content_hash)
        assert found is not None and found[0] == published.spec
        assert found[1] == {
            "claim_opened.en.j2": "en: {{ case_id }}\n\nbody\n",
            "claim_opened.zh-CN.j2": "zh-CN: {{ case_id }}\n\nbody\n",
        }
        assert version_templates(session, "sha256:unpublished") is None


def test_a_case_not_stored_yet_is_planned_from_its_workflow_or_refused(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    registry = PublishedDefinitions(session_factory)
    folder = write_definitions(tmp_path / "defs", CLAIM_V1)
    (v1,) = registry.publish(publications(folder), by="designer")
    registry.publish(publications(write_definitions(folder, CLAIM_V2)), by="designer")
    at = datetime(2026, 12, 1, tzinfo=UTC)
    state = CaseState(
        case_id="claim-7", process="claim", version=1, content_hash=v1.spec.content_hash,
        stage="intake", fields={"customer_id": "C-7"}, opened_at=at, stage_entered_at=at,
    )  # fmt: skip
    on_v2 = state.model_copy(update={"case_id": "claim-8", "content_hash": "sha256:v2"})
    plan = plan_upgrade(registry, "claim", 1, 2, {}, {}, [Unstored("claim-7", state),
                        Unstored("claim-8", on_v2)])  # fmt: skip
    assert [(m.case.case_id, m.case.case_number, m.to_stage, m.problem) for m in plan.moves] == [
        ("claim-7", NOT_STORED, "intake", None)
    ]
    # A case Temporal runs whose state cannot be read is never left out: it refuses the plan.
    unread = Unstored("claim-9", None, "case claim-9 cannot be read: no worker answered")
    plan = plan_upgrade(registry, "claim", 1, 2, {}, {}, [unread])
    (refused,) = plan.refused
    assert refused.case.case_id == "claim-9"
    assert "open in Temporal and not stored yet" in str(refused.problem)
    assert "no worker answered" in str(refused.problem)


class Recording:
    """A channel that keeps what it is handed."""

    def __init__(self) -> None:
        self.sent: list[Envelope] = []

    def send(self, message: Envelope) -> None:
        self.sent.append(message)


def test_a_message_queued_before_an_upgrade_renders_with_its_own_version(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    registry = PublishedDefinitions(session_factory)
    folder = write_definitions(tmp_path / "defs", CLAIM_V1)
    (v1,) = registry.publish(publications(folder), by="designer")
    (v2,) = registry.publish(publications(write_definitions(folder, CLAIM_V2)), by="designer")
    s = Script("claim-5", process="claim", prefix="CL", content_hash=v1.spec.content_hash)
    opened = s.open().model_copy(
        update={"messages": [OutboxMessage(recipient="agent", template="claim_opened")]}
    )
    store(session_factory, opened)
    s.content_hash = v2.spec.content_hash  # moved before its message went out
    store(session_factory, s.step("case.upgraded", "intake"))
    channel = Recording()
    MessagingActivities(session_factory, {}, channel).deliver_pending()
    (sent,) = channel.sent
    assert sent.version is not None
    assert sent.version.content_hash == v1.spec.content_hash
    assert sent.version.definition == v1.spec.definition
