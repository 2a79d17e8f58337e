"""The checks of an upgrade's renamed fields (``--map-field``), pure: the new field exists,
its type takes the old values, customer data stays customer data (fail closed)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from process.compiler import CompiledSpec, compile_definition
from process.loader import load_definition_text
from process.state import CaseState
from process.upgrade import UpgradeInput, field_map_problems, upgrade_case, upgrade_problem
from service.upgrades import UpgradePlan
from service.versions_cli import render_plan
from tests.versions_support import CLAIM_V1, CLAIM_V2

AT = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
EXTRA_V1 = """\
  amount: {type: integer}
  channel: {type: enum, values: [phone, web]}
  phone: {type: string, pii: true}
"""
EXTRA_V2 = """\
  amount: {type: number}
  channel: {type: enum, values: [phone, web, branch]}
  phone: {type: string, pii: true}
  tier: {type: enum, values: [gold]}
  note: {type: text}
  claimed: {type: number}
"""


def spec(text: str, extra: str) -> CompiledSpec:
    with_fields = text.replace(
        "  assignee: {type: string}\n", "  assignee: {type: string}\n" + extra
    )
    return compile_definition(load_definition_text(with_fields, "claim.yaml"))


@pytest.fixture
def v1() -> CompiledSpec:
    return spec(CLAIM_V1, EXTRA_V1)


@pytest.fixture
def v2() -> CompiledSpec:
    return spec(CLAIM_V2, EXTRA_V2)


def test_a_good_field_map_passes(v1: CompiledSpec, v2: CompiledSpec) -> None:
    # integer -> number and an enum into a wider enum keep every value valid.
    assert field_map_problems(v1, v2, {"description": "complaint_text"}) == []


@pytest.mark.parametrize(
    ("field_map", "problem"),
    [
        ({"descr": "complaint_text"}, "--map-field descr=complaint_text: v1 has no field 'descr'"),
        ({"description": "text"}, "--map-field description=text: v2 has no field 'text'"),
        (
            {"description": "claimed"},
            "--map-field description=claimed: a text cannot become a number "
            "(v1 'description' → v2 'claimed')",
        ),
        (
            {"channel": "tier"},
            "--map-field channel=tier: values phone, web are not among its values",
        ),
        (  # customer data renamed onto a field that is not pii: fail closed
            {"description": "note"},
            "field 'description' is customer data in v1 and would be renamed to 'note', which "
            "is not pii in v2: refused",
        ),
        (  # two fields onto one
            {"description": "complaint_text", "customer_id": "complaint_text"},
            "fields 'customer_id', 'description' would all land on 'complaint_text' of v2",
        ),
    ],
)
def test_a_bad_field_map_is_refused_with_its_reason(
    v1: CompiledSpec, v2: CompiledSpec, field_map: dict[str, str], problem: str
) -> None:
    problems = field_map_problems(v1, v2, field_map)
    assert any(problem in found for found in problems), problems


def test_customer_data_kept_by_name_must_stay_customer_data(v1: CompiledSpec) -> None:
    loose = spec(CLAIM_V2, EXTRA_V2.replace("phone: {type: string, pii: true}", "phone: {}"))
    (problem,) = field_map_problems(v1, loose, {})
    assert problem.startswith("field 'phone' is customer data in v1 and would be kept by name")
    # ...and a field that becomes customer data is fine (tightened).
    tight = spec(CLAIM_V2, EXTRA_V2.replace("note: {type: text}", "note: {type: text, pii: true}"))
    assert field_map_problems(v1, tight, {"description": "note"}) == []


def test_the_case_check_and_the_move_carry_the_renamed_value(
    v1: CompiledSpec, v2: CompiledSpec
) -> None:
    fields = {"customer_id": "C-1", "description": "车损理赔被拒", "amount": 3}
    state = CaseState(
        case_id="claim-1", process="claim", version=1, content_hash=v1.content_hash,
        stage="intake", fields=fields, opened_at=AT, stage_entered_at=AT,
    )  # fmt: skip
    field_map = {"description": "complaint_text"}
    refusal = upgrade_problem("claim-1", "intake", fields, False, v1, v2, {}, {"x": "y"})
    assert refusal is not None and "v1 has no field 'x'" in refusal.message
    assert upgrade_problem("claim-1", "intake", fields, False, v1, v2, {}, field_map) is None
    request = UpgradeInput(to_definition=v2.content_hash, field_map=field_map)
    moved, step = upgrade_case(state, v1, v2, request, AT)
    assert moved.fields == {"customer_id": "C-1", "complaint_text": "车损理赔被拒", "amount": 3}
    assert "field description → complaint_text" in step.notes
    assert not any("description: not in v2" in note for note in step.notes)
    # Without the map the value drops, as before (its value stays in the timeline).
    moved, step = upgrade_case(state, v1, v2, UpgradeInput(to_definition=v2.content_hash), AT)
    assert "complaint_text" not in moved.fields
    assert any("field description: not in v2, dropped" in note for note in step.notes)


def test_the_dry_run_names_what_becomes_of_each_field(v1: CompiledSpec, v2: CompiledSpec) -> None:
    plan = UpgradePlan(v1, v2, {}, [], field_map={"description": "complaint_text"})
    lines = render_plan(plan).splitlines()
    assert "  field  description (pii) → complaint_text (pii)" in lines
    assert not any("description (pii): not in v2" in line for line in lines)
    assert "  field  phone (pii) → complaint_text (pii)" not in lines
    unmapped = render_plan(UpgradePlan(v1, v2, {}, []))
    assert "  field  description (pii): not in v2, dropped" in unmapped.splitlines()
