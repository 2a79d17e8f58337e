"""The loader: every kind of broken definition gets a precise ``file:line: path: message``."""

from __future__ import annotations

from pathlib import Path

import pytest

from process.loader import DefinitionError, load_definition, load_definition_text, load_directory

BASE = """\
process: demo
version: 1
roles: [agent, supervisor]
fields:
  severity: {type: enum, values: [urgent, normal], default: normal}
  amount: {type: number}
stages:
  intake:
    initial: true
    on:
      accept: {to: triage, roles: [agent]}
  triage:
    on:
      close: {to: closed, roles: [any], when: "amount > 100"}
    timeout: {after: 2d, to: closed}
  closed:
    final: true
deadlines:
  response: {stop: {leave: intake}, within: 1h}
opened_by: [agent]
"""


def problems(text: str) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        load_definition_text(text, "demo.yaml")
    return caught.value.problems


def broken(old: str, new: str) -> list[str]:
    assert old in BASE, old
    return problems(BASE.replace(old, new, 1))


def test_the_base_definition_loads() -> None:
    definition = load_definition_text(BASE, "demo.yaml")
    assert definition.initial_stage == "intake"
    assert definition.stages["intake"].on["accept"].to == "triage"


BROKEN = [
    pytest.param(
        "accept: {to: triage, roles: [agent]}",
        "accept: {to: triage, roles: [agent]",
        ["demo.yaml:11: not valid YAML: while parsing a flow mapping that starts here, expected"
         " ',' or '}', but got '<scalar>' on line 12"],
        id="yaml-syntax",
    ),
    pytest.param(
        "  closed:\n    final: true\n",
        "  closed:\n    final: true\n  triage:\n    final: true\n",
        ["demo.yaml:18: stages.triage: duplicate key 'triage' (first written on line 12)"],
        id="duplicate-stage",
    ),
    pytest.param(
        "accept: {to: triage,",
        "accept: {to: triaje,",
        ["demo.yaml:11: stages.intake.on.accept.to: unknown stage 'triaje'; did you mean"
         " 'triage'?"],
        id="unknown-stage",
    ),
    pytest.param(
        "    timeout: {after: 2d, to: closed}\n",
        "    timeout: {after: 2d, to: closed}\n"
        "  limbo:\n    on: {close: {to: closed, roles: [any]}}\n",
        ["demo.yaml:16: stages.limbo: stage 'limbo' cannot be reached from 'intake'"],
        id="unreachable-stage",
    ),
    pytest.param(
        "    on:\n      close: {to: closed, roles: [any], when: \"amount > 100\"}\n"
        "    timeout: {after: 2d, to: closed}\n",
        "    title: 评估 Triage\n",
        ["demo.yaml:12: stages.triage: stage 'triage' has no way out: add 'on' or 'timeout',"
         " or mark it final",
         "demo.yaml:14: stages.closed: stage 'closed' cannot be reached from 'intake'"],
        id="dead-end",
    ),
    pytest.param(
        "after: 2d",
        "after: 2x",
        ["demo.yaml:15: stages.triage.timeout.after: bad duration '2x': write a number and a unit"
         " s, m, h, d, w or wd (working days), e.g. 15m, 24h, 7d, 15wd"],
        id="bad-duration",
    ),
    pytest.param(
        'when: "amount > 100"',
        'when: "amount >> 100"',
        ["demo.yaml:14: stages.triage.on.close.when: condition does not parse: column 9: ..."],
        id="guard-syntax",
    ),
    pytest.param(
        'when: "amount > 100"',
        'when: "amont > 100"',
        ["demo.yaml:14: stages.triage.on.close.when: unknown field 'amont'; did you mean"
         " 'amount'?"],
        id="guard-unknown-field",
    ),
    pytest.param(
        "accept: {to: triage, roles: [agent]}",
        "accept: {roles: [agent]}",
        ["demo.yaml:11: stages.intake.on.accept: required key 'to' is missing"],
        id="missing-key",
    ),
    pytest.param(
        "    initial: true\n",
        "    initial: true\n    on_entre: []\n",
        ["demo.yaml:10: stages.intake.on_entre: unknown key 'on_entre'; did you mean"
         " 'on_enter'?"],
        id="misspelt-key",
    ),
    pytest.param(
        "    initial: true\n",
        "",
        ["demo.yaml:7: stages: exactly one stage must be initial: true (none is)"],
        id="no-initial-stage",
    ),
    pytest.param(
        "default: normal",
        "default: medium",
        ["demo.yaml:5: fields.severity.default: 'medium' is not one of urgent, normal"],
        id="bad-enum-default",
    ),
    pytest.param(
        "roles: [agent]}",
        "roles: [agnet]}",
        ["demo.yaml:11: stages.intake.on.accept.roles: unknown role 'agnet'; did you mean"
         " 'agent'? (the roles are agent, supervisor)"],
        id="unknown-role",
    ),
    pytest.param(
        "  closed:\n    final: true\n",
        "  closed:\n    final: true\n    on: {reopen: {to: triage, roles: [any]}}\n",
        ["demo.yaml:16: stages.closed: a final stage ends the case: it cannot have 'on' or"
         " 'timeout'"],
        id="final-with-exit",
    ),
    pytest.param(
        "    initial: true\n",
        "    initial: true\n    pauses: [respons]\n",
        ["demo.yaml:10: stages.intake.pauses: unknown deadline 'respons'; did you mean"
         " 'response'?"],
        id="unknown-deadline",
    ),
    pytest.param(
        "within: 1h}",
        "within: {urgent: 15m}, by: severity}",
        ["demo.yaml:19: deadlines.response.within: no duration for 'normal'"],
        id="deadline-missing-value",
    ),
    pytest.param(
        "    initial: true\n",
        "    initial: true\n    on_enter: [{set: {amont: 1}}]\n",
        ["demo.yaml:10: stages.intake.on_enter.0.set.amont: unknown field 'amont'; did you mean"
         " 'amount'?"],
        id="set-unknown-field",
    ),
    pytest.param(
        "    initial: true\n",
        "    initial: true\n    on_enter: [{decide: routing}]\n",
        ["demo.yaml:10: stages.intake.on_enter.0.decide: unknown decision table 'routing'"],
        id="unknown-decision-table",
    ),
    pytest.param(
        "    initial: true\n",
        "    initial: true\n    on_enter: [{notify: customer, set: {amount: 1}}]\n",
        ["demo.yaml:10: stages.intake.on_enter.0: an action has exactly one of notify, set,"
         " decide, to; found notify, set"],
        id="two-actions-in-one",
    ),
    pytest.param(
        "close: {to: closed,",
        "timeout: {to: closed,",
        ["demo.yaml:14: stages.triage.on.timeout: 'timeout' is reserved for kesu's own moves;"
         " rename it"],
        id="reserved-event",
    ),
    pytest.param(
        "    timeout: {after: 2d, to: closed}\n",
        "      stall: {to: limbo, roles: [any]}\n    timeout: {after: 2d, to: closed}\n"
        "  limbo:\n    on: {next: {to: limbo2, roles: [any]}}\n"
        "  limbo2:\n    on: {back: {to: limbo, roles: [any]}}\n",
        ["demo.yaml:17: stages.limbo: from stage 'limbo' no path leads to a final stage",
         "demo.yaml:19: stages.limbo2: from stage 'limbo2' no path leads to a final stage"],
        id="cycle-without-end",
    ),
    pytest.param(
        "accept: {to: triage, roles: [agent]}",
        "accept: {to: triage}",
        ["demo.yaml:11: stages.intake.on.accept: event 'accept' names no roles: add roles:"
         " [...] or [any]"],
        id="event-without-roles",
    ),
    pytest.param(
        "accept: {to: triage, roles: [agent]}",
        "accept: {to: triage, roles: [any, agent]}",
        ["demo.yaml:11: stages.intake.on.accept.roles: 'any' already lets everybody in; list it"
         " alone"],
        id="any-beside-roles",
    ),
    pytest.param(
        "accept: {to: triage, roles: [agent]}",
        "accept: {to: triage, roles: [agent], inputs: [amont]}",
        ["demo.yaml:11: stages.intake.on.accept.inputs.0: unknown field 'amont'; did you mean"
         " 'amount'?"],
        id="unknown-input",
    ),
    pytest.param(
        "opened_by: [agent]\n",
        "",
        ["demo.yaml:1: say who may open a case: opened_by: [agent, ...] or [any]"],
        id="no-opened-by",
    ),
    pytest.param(
        "opened_by: [agent]\n",
        "opened_by: [agnet]\n",
        ["demo.yaml:20: opened_by: unknown role 'agnet'; did you mean 'agent'? (the roles are"
         " agent, supervisor)"],
        id="opened-by-unknown-role",
    ),
    pytest.param(
        "amount: {type: number}",
        "amount: {type: numbr}",
        ["demo.yaml:6: fields.amount.type: Input should be 'string', 'text', 'number', 'integer',"
         " 'boolean', 'enum', 'date' or 'datetime', got 'numbr'"],
        id="unknown-field-type",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "expected"), BROKEN)
def test_broken_definitions_are_reported_with_file_line_and_path(
    old: str, new: str, expected: list[str]
) -> None:
    found = broken(old, new)
    assert len(found) == len(expected), found
    for line, want in zip(found, expected, strict=True):
        if want.endswith("..."):
            assert line.startswith(want.removesuffix("...")), line
        else:
            assert line == want


def test_every_problem_is_reported_at_once() -> None:
    text = BASE.replace("after: 2d", "after: soon").replace("{type: number}", "{type: numbr}")
    text = text.replace("    initial: true\n", "    initial: true\n    colour: red\n")
    found = problems(text)
    assert [line.split(": ")[1] for line in found] == [
        "fields.amount.type",
        "stages.intake.colour",
        "stages.triage.timeout.after",
    ]
    # Cross-references are checked once the shape is right, again all of them at once.
    text = BASE.replace("to: triage,", "to: triaje,").replace("default: normal", "default: x")
    text = text.replace('"amount > 100"', '"amount > 100 and colour"')
    found = problems(text)
    assert [line.split(": ")[1] for line in found] == [
        "fields.severity.default",
        "stages.intake.on.accept.to",
        "stages.triage.on.close.when",
    ]
    assert [int(line.split(":")[1]) for line in found] == sorted(
        int(line.split(":")[1]) for line in found
    )


def test_yaml_11_booleans_do_not_eat_the_on_key() -> None:
    # 'on' is True in YAML 1.1; kesu reads YAML 1.2 booleans so 'on:' is the events key.
    definition = load_definition_text(BASE, "demo.yaml")
    assert "accept" in definition.stages["intake"].on


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "demo.yaml:1: the file is empty"),
        ("- a\n- b\n", "demo.yaml:1: a process definition is a mapping (process:, stages:...)"),
        ("process: demo\n", "demo.yaml:1: required key 'version' is missing"),
    ],
)
def test_files_that_are_not_definitions(text: str, expected: str) -> None:
    assert problems(text)[0] == expected


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes("title: 投诉".encode("gb18030"))
    with pytest.raises(DefinitionError) as caught:
        load_definition(path)
    assert caught.value.problems[0].startswith("latin.yaml:1: not UTF-8 text")


def test_a_directory_reports_problems_of_all_files_and_duplicate_processes(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.yaml").write_text(BASE, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(BASE, encoding="utf-8")
    (tmp_path / "c.yaml").write_text(BASE.replace("after: 2d", "after: x"), encoding="utf-8")
    with pytest.raises(DefinitionError) as caught:
        load_directory(tmp_path)
    assert caught.value.problems[0] == "b.yaml:1: process: 'demo' is also defined in a.yaml"
    assert caught.value.problems[1].startswith("c.yaml:15: stages.triage.timeout.after")
    assert str(caught.value).startswith("2 problems in process definitions\n")


def test_an_empty_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="no process definitions"):
        load_directory(tmp_path)


def test_the_shipped_definitions_load() -> None:
    definitions = load_directory(Path(__file__).parent.parent / "definitions")
    assert {"complaint", "service_request"} <= set(definitions)
    complaint = definitions["complaint"]
    for stage in ("intake", "triage", "escalation", "feedback", "closure", "review"):
        assert stage in complaint.stages
    assert complaint.deadlines["response"].within == "24h"
    assert complaint.deadlines["plan"].within == "48h"
    service = definitions["service_request"].deadlines
    assert service["answer"].within == {"urgent": "15m", "normal": "1h"}
    assert service["handle"].within == "24h"
