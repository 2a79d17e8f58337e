"""Merging duplicates and group complaints, pure parts: the ``merging:`` section and its checks,
the link rules, the engine's link steps, and the identity hashes and queries in SQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from activities.keys import Keyring
from activities.storage import (
    CaseIdentityRow,
    CaseMergeRow,
    CaseSealer,
    approve_destruction,
    merge_links,
    possible_duplicates,
    request_destruction,
    store_step,
)
from activities.storage.links import PLAIN_KEY_ID, identity_hashes
from process.compiler import CompiledSpec, compile_definition
from process.engine import CaseEngine
from process.links import CaseFacts, LinkInput, LinkKind, group_of, merge_problem, merged_into
from process.loader import DefinitionError, load_definition, load_definition_text
from process.merging import Merging
from process.refusals import IllegalEvent, RefusalKind
from process.state import EventInput
from tests.records_support import Script

DEFINITIONS = Path(__file__).parent.parent / "definitions"
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SUPERVISOR = ("李强", ["supervisor"])

BASE = """\
process: demo
version: 1
roles: [agent, supervisor]
opened_by: [agent]
fields:
  customer_id: {type: string}
  phone: {type: string, pii: true}
  category: {type: enum, values: [card, loan], default: card}
stages:
  intake:
    initial: true
    on:
      close: {to: closed, roles: [agent]}
  closed:
    final: true
  merged:
    final: true
merging:
  customer: [customer_id]
  category: category
  window: 30d
  stage: merged
  roles: [supervisor]
"""


def problems(text: str) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        load_definition_text(text, "demo.yaml")
    return caught.value.problems


def test_a_merge_stage_reached_only_by_merging_loads() -> None:
    definition = load_definition_text(BASE, "demo.yaml")
    assert definition.merging == Merging(
        customer=["customer_id"], category="category", stage="merged", roles=["supervisor"]
    )
    assert definition.merging.window_span == timedelta(days=30)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("customer: [customer_id]", "customer: [client]", "merging.customer.0: unknown field"),
        ("category: category", "category: kind", "merging.category: unknown field 'kind'"),
        ("stage: merged", "stage: intake", "merging.stage: stage 'intake' must be final: true"),
        ("stage: merged", "stage: gone", "merging.stage: unknown stage 'gone'"),
        ("roles: [supervisor]", "roles: [boss]", "merging.roles.0: unknown role 'boss'"),
        ("window: 30d", "window: 30wd", "working days (wd) count only on a business clock"),
        (
            "  merged:\n    final: true\n",
            "  merged:\n    final: true\n    on_enter: [{notify: customer, template: closed}]\n",
            "a merge enters it without its on_enter actions",
        ),
    ],
    ids=["customer", "category", "not-final", "unknown-stage", "role", "window", "on-enter"],
)
def test_mistakes_in_merging_name_their_line(old: str, new: str, expected: str) -> None:
    assert old in BASE
    found = problems(BASE.replace(old, new, 1))
    assert any(expected in problem and problem.startswith("demo.yaml:") for problem in found), found


def test_a_definition_without_merging_keeps_its_content_hash() -> None:
    without = BASE[: BASE.index("  merged:")] + BASE[BASE.index("merging:") :].split("merging:")[0]
    spec = compile_definition(load_definition_text(without, "demo.yaml"))
    assert "merging" not in spec.definition.model_dump()


# -- the rules of merging ------------------------------------------------------------------------


def facts(case_id: str, process: str = "complaint", closed: bool = False) -> CaseFacts:
    return CaseFacts(case_id=case_id, process=process, closed=closed)


@pytest.mark.parametrize(
    ("duplicate", "primary", "links", "kind", "reason"),
    [
        (facts("a"), facts("a"), {}, RefusalKind.INVALID, "cannot be merged into itself"),
        (facts("a"), facts("b", "bank"), {}, RefusalKind.INVALID, "different processes"),
        (facts("a"), facts("b", closed=True), {"b": "a"}, RefusalKind.CONFLICT, "a cycle"),
        (facts("a"), facts("b", closed=True), {"b": "c"}, RefusalKind.CONFLICT, "merge into c"),
        (facts("a"), facts("b", closed=True), {}, RefusalKind.CONFLICT, "b is closed"),
        (facts("a", closed=True), facts("b"), {}, RefusalKind.CONFLICT, "a is closed"),
        (facts("a"), facts("b"), {"a": "c"}, RefusalKind.CONFLICT, "already merged into c"),
    ],
    ids=["itself", "processes", "cycle", "merged", "closed-primary", "closed-dup", "twice"],
)
def test_merges_that_cannot_be(
    duplicate: CaseFacts, primary: CaseFacts, links: dict[str, str], kind: RefusalKind, reason: str
) -> None:
    problem = merge_problem(duplicate, primary, links)
    assert problem is not None and problem.kind is kind, problem
    assert reason in problem.message and problem.message.startswith("merging case a into")


def test_a_longer_cycle_is_found_too() -> None:
    problem = merge_problem(facts("a"), facts("b", closed=True), {"b": "c", "c": "a"})
    assert problem is not None and "a cycle" in problem.message
    assert merge_problem(facts("a"), facts("b"), {"c": "d"}) is None


# -- the engine's link steps ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def complaint() -> CompiledSpec:
    return compile_definition(load_definition(DEFINITIONS / "complaint.yaml"))


def opened(spec: CompiledSpec, case_id: str = "complaint-t1") -> CaseEngine:
    engine, _ = CaseEngine.open(spec, case_id, {"customer_id": "C-1"}, "web", T0)
    return engine


def link(kind: LinkKind, other: str, roles: list[str] | None = None) -> LinkInput:
    actor, held = SUPERVISOR
    return LinkInput(kind=kind, other=other, actor=actor, roles=roles or held, reason="同一笔扣费")


def test_a_merged_duplicate_closes_silently_pointing_to_its_primary(
    complaint: CompiledSpec,
) -> None:
    engine = opened(complaint)
    engine.apply_event(EventInput(event="accept", actor="王敏", roles=["agent"]), T0)
    assert engine.state.clocks["response"].status == "running"
    outcome = engine.link(link(LinkKind.MERGED_INTO, "complaint-p"), T0 + timedelta(hours=1))
    step = outcome.step
    assert (step.event, step.from_stage, step.to_stage) == ("case.merged", "triage", "merged")
    assert step.data == {"into": "complaint-p", "reason": "同一笔扣费"}
    assert (step.actor, step.role) == ("李强", "supervisor")
    assert outcome.final and outcome.messages == []  # no message to the customer
    assert all(clock.status != "running" for clock in engine.state.clocks.values())
    assert merged_into(engine.state.steps) == "complaint-p"
    assert engine.next_alarm() is None
    # Closed: the link is recorded, so asking again is no problem, but nothing more happens.
    assert engine.link_problem(link(LinkKind.MERGED_INTO, "complaint-p")) is None
    with pytest.raises(IllegalEvent, match="recorded already"):
        engine.link(link(LinkKind.MERGED_INTO, "complaint-p"), T0)
    other = engine.link_problem(link(LinkKind.MERGED_INTO, "complaint-q"))
    assert other is not None and other.kind is RefusalKind.CONFLICT and "closed" in other.message


def test_the_primary_records_its_duplicate_and_a_group_its_plan(complaint: CompiledSpec) -> None:
    engine = opened(complaint, "complaint-p")
    step = engine.link(link(LinkKind.DUPLICATE, "complaint-t1"), T0).step
    assert (step.event, step.to_stage, step.data["duplicate"]) == (
        "case.duplicate_linked", "intake", "complaint-t1"
    )  # fmt: skip
    assert engine.state.closed_at is None
    joined = LinkInput(
        kind=LinkKind.GROUP, other="G-1", actor="李强", roles=["supervisor"], plan="统一退费"
    )
    engine.link(joined, T0)
    assert group_of(engine.state.steps) == ("G-1", "统一退费")
    again = engine.link_problem(joined.model_copy(update={"other": "G-2"}))
    assert again is not None and "already in group G-1" in again.message


def test_links_need_a_role_the_definition_names(complaint: CompiledSpec) -> None:
    engine = opened(complaint)
    problem = engine.link_problem(link(LinkKind.MERGED_INTO, "complaint-p", roles=["agent"]))
    assert problem is not None and problem.kind is RefusalKind.FORBIDDEN
    assert problem.message == (
        "merging case complaint-t1 into complaint-p: needs role supervisor or manager; "
        "'李强' acts as agent"
    )
    itself = engine.link_problem(link(LinkKind.MERGED_INTO, "complaint-t1"))
    assert itself is not None and "into itself" in itself.message


# -- identity hashes and the duplicate query ------------------------------------------------------


def keyring(*seeds: int) -> Keyring:
    return Keyring([bytes([seed]) * 32 for seed in seeds])


def test_customer_data_is_hashed_only_with_a_key() -> None:
    assert identity_hashes("complaint", ["13800000000"], None, pii=True) == {}  # fail closed
    plain = identity_hashes("complaint", ["C-1", "card"], None, pii=False)
    assert list(plain) == [PLAIN_KEY_ID]
    keyed = identity_hashes("complaint", ["13800000000"], keyring(1, 2), pii=True)
    assert len(keyed) == 2 and len(set(keyed.values())) == 2  # one per key: rotation matches
    assert all("13800000000" not in digest for digest in keyed.values())
    assert keyed == identity_hashes("complaint", ["13800000000"], keyring(1, 2), pii=True)
    assert keyed != identity_hashes("bank", ["13800000000"], keyring(1, 2), pii=True)


MERGING = Merging(customer=["phone"], category="category", stage="merged", roles=["supervisor"])


def store_opened(
    sessions: sessionmaker[Session],
    case_id: str,
    at: datetime,
    ring: Keyring | None,
    **fields: object,
) -> Script:
    """The opening step of a case whose customer is its phone number (customer data)."""
    script = Script(case_id, at=at, fields={"customer_id": "C-1", **fields})
    record = script.open().model_copy(update={"merging": MERGING, "pii_fields": ["phone"]})
    with sessions.begin() as session:
        store_step(session, record, None if ring is None else CaseSealer(ring))
    return script


def test_duplicates_are_found_by_keyed_hash_within_the_window(
    session_factory: sessionmaker[Session],
) -> None:
    ring = keyring(7)
    base = dict(phone="13800000000", category="card")
    store_opened(session_factory, "c-old", T0 - timedelta(days=40), ring, **base)
    store_opened(session_factory, "c-recent", T0 - timedelta(days=3), ring, **base)
    store_opened(session_factory, "c-loan", T0 - timedelta(days=2), ring, phone="13800000000",
                 category="loan")  # fmt: skip
    store_opened(session_factory, "c-other", T0 - timedelta(days=1), ring, phone="139",
                 category="card")  # fmt: skip
    store_opened(session_factory, "c-new", T0, ring, **base)
    with session_factory() as session:
        found = possible_duplicates(session, "c-new", timedelta(days=30))
        assert [candidate.case_id for candidate in found] == ["c-recent"]
        stored = session.query(CaseIdentityRow).filter_by(case_id="c-new").one()
        assert "13800000000" not in stored.match_hash
    # Without a key, a customer's phone number is never kept, even hashed.
    store_opened(session_factory, "c-nokey", T0, None, **base)
    with session_factory() as session:
        assert session.query(CaseIdentityRow).filter_by(case_id="c-nokey").count() == 0


def test_a_merge_step_stores_its_link(session_factory: sessionmaker[Session]) -> None:
    script = store_opened(session_factory, "c-dup", T0, keyring(7), phone="1", category="card")
    merged = script.step(
        "case.merged", "merged", actor="李强", role="supervisor", final=True,
        data={"into": "c-primary", "reason": "重复"},
    ).model_copy(update={"merging": MERGING})  # fmt: skip
    with session_factory.begin() as session:
        store_step(session, merged)
    with session_factory() as session:
        row = session.get(CaseMergeRow, "c-dup")
        assert row is not None and (row.primary_id, row.actor, row.reason) == (
            "c-primary", "李强", "重复"
        )  # fmt: skip
        assert merge_links(session, ["c-dup"]) == {"c-dup": "c-primary"}


def test_destroying_a_case_destroys_its_identity_hash(
    session_factory: sessionmaker[Session],
) -> None:
    script = store_opened(session_factory, "c-gone", T0, keyring(7), phone="1", category="card")
    closing = script.step("close", "closed", final=True).model_copy(update={"merging": MERGING})
    with session_factory.begin() as session:
        store_step(session, closing, CaseSealer(keyring(7)))
    roles, allowed = ["data_officer"], ["data_officer"]
    with session_factory.begin() as session:
        request_destruction(session, "c-gone", "甲", roles, allowed, T0, "到期")
        approve_destruction(session, "c-gone", "乙", roles, allowed, T0)
    with session_factory() as session:
        assert session.query(CaseIdentityRow).filter_by(case_id="c-gone").count() == 0
