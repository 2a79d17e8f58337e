"""Expressions in a definition are type-checked when it loads: each mistake is a ``check``
error with its file, line and path, and computed ``set`` values run as the checks promise."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from process.compiler import compile_definition
from process.engine import CaseEngine
from process.loader import DefinitionError, load_definition_text
from process.state import EventInput

BASE = """\
process: demo
version: 1
roles: [agent, reviewer]
opened_by: [agent]
timezone: Asia/Shanghai
fields:
  category: {type: enum, values: [card, loan], default: card}
  amount: {type: number, default: 0}
  name: {type: string}
  handler: {type: string}
  csat: {type: integer}
  reopen_count: {type: integer, default: 0}
  opened_at: {type: datetime}
  due: {type: date}
  called_back: {type: boolean, default: false}
  called_by: {type: string}
stages:
  open:
    initial: true
    on:
      handle: {to: open, roles: [agent], inputs: [handler]}
      call_back:
        to: open
        roles: [agent, reviewer]
        inputs: [csat]
        when: "actor != handler"
        actions:
          - {set: {reopen_count: reopen_count + 1, called_by: "= actor", called_back: true}}
      close: {to: closed, roles: [agent]}
  closed:
    final: true
"""


def problems(text: str) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        load_definition_text(text, "demo.yaml")
    return caught.value.problems


def broken(old: str, new: str) -> list[str]:
    assert old in BASE, old
    return problems(BASE.replace(old, new, 1))


WHEN = "stages.open.on.call_back.when"
SET = "stages.open.on.call_back.actions.0.set"

TYPE_ERRORS = [
    (
        "amount + name > 1",
        f"demo.yaml:26: {WHEN}: condition column 8: '+' does not work on a number and text",
    ),
    (
        "csat == 'high'",
        f"demo.yaml:26: {WHEN}: condition column 6: '==' compares an integer with text: never true",
    ),
    (
        "csat != 'high'",
        f"demo.yaml:26: {WHEN}: condition column 6: '!=' compares an integer with"
        " text: always true",
    ),
    ("name > 3", f"demo.yaml:26: {WHEN}: condition column 6: '>' cannot order text and an integer"),
    (
        "due < now",
        f"demo.yaml:26: {WHEN}: condition column 5: '<' cannot order a date and a datetime",
    ),
    (
        "now + 1 > opened_at",
        f"demo.yaml:26: {WHEN}: condition column 5: '+' does not work on a datetime and an integer",
    ),
    (
        "-name == 'x'",
        f"demo.yaml:26: {WHEN}: condition column 1: '-' needs a number or a duration, not text",
    ),
    (
        "amount in name",
        f"demo.yaml:26: {WHEN}: condition column 8: 'in' looks into a list or into"
        " text, not a number in text",
    ),
    (
        "startswith(amount, 'x')",
        f"demo.yaml:26: {WHEN}: condition column 1: startswith() needs text, not a number",
    ),
    (
        "len(csat) > 1",
        f"demo.yaml:26: {WHEN}: condition column 1: len() needs text or a list, not an integer",
    ),
    (
        "event.data.name == 'x'",
        f"demo.yaml:26: {WHEN}: condition column 1: 'event.data.name':"
        " 'name' is not an input of this event (inputs: csat)",
    ),
    (
        "category == 'crad'",
        f"demo.yaml:26: {WHEN}: condition column 10: 'crad' is not one of card, loan (category)",
    ),
    (
        "'lone' != category",
        f"demo.yaml:26: {WHEN}: condition column 8: 'lone' is not one of card, loan (category)",
    ),
    (
        "category in ['card', 'lone']",
        f"demo.yaml:26: {WHEN}: condition column 10: 'lone' is not one of card, loan (category)",
    ),
    ("nmae == 'x'", f"demo.yaml:26: {WHEN}: unknown field 'nmae'; did you mean 'name'?"),
    ("upper(nmae) == 'x'", f"demo.yaml:26: {WHEN}: unknown field 'nmae'; did you mean 'name'?"),
    (
        "round(amount) > 1",
        f"demo.yaml:26: {WHEN}: condition does not parse: column 1: unknown"
        " function 'round'; the functions are startswith, endswith, contains, len, lower, upper",
    ),
    (
        "2 ** 4096 > 1",
        f"demo.yaml:26: {WHEN}: condition does not parse: column 3: '**' is not"
        " supported: there are no powers",
    ),
    (
        "'" + "长" * 3000 + "' == name",
        f"demo.yaml:26: {WHEN}: condition does not parse: column"
        " 2001: expression is too long (3010 characters; the limit is 2000)",
    ),
]


@pytest.mark.parametrize(("when", "expected"), TYPE_ERRORS)
def test_a_type_mistake_in_a_guard_is_a_check_error_with_its_line(when: str, expected: str) -> None:
    assert broken('when: "actor != handler"', f'when: "{when}"') == [expected]


GOOD_GUARDS = [
    "actor != handler and 'reviewer' in roles",
    "role == 'reviewer' or len(roles) > 1",
    "event.data.csat < 3 and csat == null",
    "now > opened_at + 15d or now - opened_at > 1w",
    "today <= due and due < '2027-01-01'",
    "startswith(name, 'VIP') or endswith(lower(name), 'ltd') or contains(name, '银行')",
    "category in ['card', 'loan'] and amount * 1.5 / 2 % 7 >= reopen_count",
    "contains(roles, 'agent') and upper(category) == 'CARD'",
    "category in ['card'] and category != 'loan' and 'card' == category",
    "amount",  # truthiness, as before
]


@pytest.mark.parametrize("when", GOOD_GUARDS)
def test_guards_a_designer_needs_load(when: str) -> None:
    load_definition_text(BASE.replace('when: "actor != handler"', f'when: "{when}"'), "demo.yaml")


SET_ERRORS = [
    (
        "reopen_count: reopen_count + 0.5",
        f"demo.yaml:28: {SET}.reopen_count: expression gives a number; the field holds an integer",
    ),
    (
        "reopen_count: name + 1",
        f"demo.yaml:28: {SET}.reopen_count: expression column 6: '+' does"
        " not work on text and an integer",
    ),
    (
        "reopen_count: reopen_cont + 1",
        f"demo.yaml:28: {SET}.reopen_count: unknown field"
        " 'reopen_cont'; did you mean 'reopen_count'?",
    ),
    (
        "reopen_count: reopen_count +",
        f"demo.yaml:28: {SET}.reopen_count: expected a whole"
        " number, or an expression: column 15: unexpected end of expression, expected a value"
        " after '+'",
    ),
    (
        "opened_at: now + 1",
        f"demo.yaml:28: {SET}.opened_at: expression column 5: '+' does not"
        " work on a datetime and an integer",
    ),
    (
        "due: now + 1d",
        f"demo.yaml:28: {SET}.due: expression gives a datetime; the field holds a date",
    ),
    (
        "called_by: '= reopen_count'",
        f"demo.yaml:28: {SET}.called_by: expression gives an integer; the field holds text",
    ),
    (
        "category: '= len(name)'",
        f"demo.yaml:28: {SET}.category: expression gives an integer; the field holds text",
    ),
    (
        "called_back: '= amount > name'",
        f"demo.yaml:28: {SET}.called_back: expression column 10:"
        " '>' cannot order a number and text",
    ),
    (
        "csat: event.data.amount",
        f"demo.yaml:28: {SET}.csat: expression column 1:"
        " 'event.data.amount': 'amount' is not an input of this event (inputs: csat)",
    ),
]


@pytest.mark.parametrize(("assignment", "expected"), SET_ERRORS)
def test_a_type_mistake_in_a_set_is_a_check_error_with_its_line(
    assignment: str, expected: str
) -> None:
    old = '{set: {reopen_count: reopen_count + 1, called_by: "= actor", called_back: true}}'
    assert broken(old, "{set: {" + assignment + "}}") == [expected]


def test_who_acts_is_known_only_where_an_event_acts() -> None:
    found = broken(
        "    final: true\n", "    final: true\n    on_enter: [{set: {called_by: '= actor'}}]\n"
    )
    assert found == [
        "demo.yaml:32: stages.closed.on_enter.0.set.called_by: expression column 3: 'actor' is"
        " known only where an event acts (here: now and today)"
    ]


def test_a_field_cannot_take_a_built_in_name() -> None:
    assert broken("  called_by: {type: string}", "  called_by: {}\n  actor: {}") == [
        "demo.yaml:17: fields.actor: 'actor' is a built-in name of expressions; rename the field"
    ]


def test_plain_values_stay_plain() -> None:
    # Text that fits a text field is text, even when it reads like an expression.
    text = BASE.replace('called_by: "= actor"', "called_by: reopen_count + 1")
    definition = load_definition_text(text, "demo.yaml")
    engine = _opened(definition)
    engine.apply_event(_call_back("王敏"), AT)
    assert engine.state.fields["called_by"] == "reopen_count + 1"


AT = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)


def _opened(definition: object) -> CaseEngine:
    spec = compile_definition(definition)  # type: ignore[arg-type]
    engine, _ = CaseEngine.open(spec, "DEMO-1", {"handler": "李雷"}, "王敏", AT)
    return engine


def _call_back(actor: str, **data: object) -> EventInput:
    return EventInput(event="call_back", actor=actor, roles=["reviewer"], data=data)


def test_computed_values_and_guards_run_on_the_step() -> None:
    engine = _opened(load_definition_text(BASE, "demo.yaml"))
    refusal = engine.check_event(_call_back("李雷"), AT)
    assert refusal is not None
    assert refusal.message == (
        "event 'call_back' in stage 'open': condition not met: actor != handler"
    )
    outcome = engine.apply_event(_call_back("王敏", csat=2), AT)
    assert engine.state.fields["reopen_count"] == 1
    assert engine.state.fields["called_by"] == "王敏"
    assert engine.state.fields["called_back"] is True
    assert "set: reopen_count=1, called_by=王敏, called_back=True" in outcome.step.notes
    engine.apply_event(_call_back("王敏"), AT)
    assert engine.state.fields["reopen_count"] == 2


def test_a_computed_value_that_cannot_be_kept_is_noted_not_set() -> None:
    text = BASE.replace(
        "{set: {reopen_count: reopen_count + 1,",
        "{set: {opened_at: opened_at + 3650d, reopen_count: reopen_count + 1,",
    )
    engine = _opened(load_definition_text(text, "demo.yaml"))
    engine.state.fields["opened_at"] = "9999-01-01T00:00:00+00:00"
    outcome = engine.apply_event(_call_back("王敏"), AT)
    assert engine.state.fields["opened_at"] == "9999-01-01T00:00:00+00:00"
    assert engine.state.fields["reopen_count"] == 1
    assert (
        "set: opened_at not set: the expression gave no value (a field unset, or a result out"
        " of bounds)" in outcome.step.notes
    )


def test_now_in_a_set_is_the_steps_time_as_iso_text() -> None:
    text = BASE.replace('called_by: "= actor"', "opened_at: now + 15d, due: today + 1d")
    engine = _opened(load_definition_text(text, "demo.yaml"))
    engine.apply_event(_call_back("王敏"), AT)
    assert engine.state.fields["opened_at"] == "2026-12-08T01:30:00+00:00"
    assert engine.state.fields["due"] == "2026-11-24"  # 09:30 in Shanghai: that day's date
