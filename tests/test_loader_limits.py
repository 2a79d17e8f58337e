"""Definitions that once crashed or hung the loader: each is refused with its line and reason.

Found by mutating the shipped definitions (tests/fuzz_support.py); every case here was a
RecursionError, an OverflowError, a ReaderError, a hang, or a definition accepted by ``check``
whose first case then crashed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from process.compiler import compile_definition
from process.compose import MAX_DEPTH, MAX_STRING, MAX_VALUES
from process.engine import CaseEngine
from process.expressions import parse
from process.loader import DefinitionError, load_definition, load_definition_text
from process.sourcetext import MAX_FILE_BYTES
from tests.fuzz_support import OPENED_AT
from tests.test_loader import BASE, broken, problems

# 9 levels of 9 aliases: 387,420,489 strings once expanded, from a 541-byte text.
BOMB = "lol: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"l{level}: &a{level} [{', '.join([f'*a{level - 1}'] * 9)}]\n" for level in range(1, 10)
)


def only(found: list[str]) -> str:
    assert len(found) == 1, found
    return found[0]


def test_an_alias_bomb_is_refused_at_the_alias_that_passes_the_limit() -> None:
    assert len(BOMB) < 600
    found = only(problems(BASE + BOMB))
    # The limit is passed on the bomb's sixth line (l5: 9**6 values), after the base's lines.
    passed_at = BASE.count("\n") + 6
    assert found.startswith(f"demo.yaml:{passed_at}: aliases expand this file past 100,000 values")
    assert MAX_VALUES == 100_000


def test_aliases_within_the_limit_still_work() -> None:
    text = BASE.replace("roles: [agent, supervisor]", "roles: &staff [agent, supervisor]")
    text = text.replace("roles: [agent]}", "roles: *staff}")
    definition = load_definition_text(text, "demo.yaml")
    assert definition.stages["intake"].on["accept"].roles == ["agent", "supervisor"]


@pytest.mark.parametrize(
    "value",
    ["[" * 5000 + "x" + "]" * 5000, "{a: " * 20000 + "x" + "}" * 20000, "[" * 41 + "]" * 41],
    ids=["flow-lists", "flow-mappings", "just-past-the-limit"],
)
def test_deep_nesting_is_refused_not_a_recursion_error(value: str) -> None:
    found = only(broken("within: 1h}", f"within: 1h, title: {value}}}"))
    assert found == (
        f"demo.yaml:19: values are nested more than {MAX_DEPTH} levels deep; a definition needs ~10"
    )


def test_deep_block_nesting_names_the_line_where_the_limit_is_passed() -> None:
    block = "".join(f"{'  ' * level}k{level}:\n" for level in range(1, 60)) + "  " * 60 + "x\n"
    found = only(problems(BASE + "reporting:\n" + block))
    assert found.startswith(f"demo.yaml:{BASE.count(chr(10)) + 1 + MAX_DEPTH}: values are nested")


def test_an_alias_cannot_hide_nesting() -> None:
    deep = "[" * 30 + "x" + "]" * 30
    text = BASE + f"deep: &deep {deep}\nmore: {'[' * 20}*deep{']' * 20}\n"
    assert "values are nested more than" in only(problems(text))


def test_a_long_value_is_refused_with_its_line() -> None:
    found = only(broken("process: demo", "process: demo\ntitle: " + "长" * 200_000))
    assert found == f"demo.yaml:2: a value of 200,000 characters; the limit is {MAX_STRING:,}"


def test_a_file_over_the_size_limit_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text(BASE + "# padding\n" * 600_000, encoding="utf-8")
    with pytest.raises(DefinitionError) as caught:
        load_definition(path)
    size = path.stat().st_size
    assert caught.value.problems == [
        f"huge.yaml:1: the file is {size:,} bytes; a definition may be at most "
        f"{MAX_FILE_BYTES:,} bytes (split the process, or generate less)"
    ]
    assert "may be at most" in only(problems(BASE + "# padding\n" * 600_000))


def test_control_characters_are_named_at_their_line() -> None:
    text = BASE.replace("version: 1", "version: 1\x1b").replace("  closed:", "  closed:\x00")
    assert problems(text) == [
        "demo.yaml:2: control character U+001B (ESC) in column 11",
        "demo.yaml:16: control character U+0000 (NUL) in column 10",
    ]


def test_a_gbk_file_is_refused_at_the_first_line_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "gbk.yaml"
    text = BASE.replace("fields:", "title: 客户投诉\nfields:")
    path.write_bytes(text.encode("gbk"))
    with pytest.raises(DefinitionError) as caught:
        load_definition(path)
    assert caught.value.problems == [
        "gbk.yaml:4: not UTF-8 text (byte 0xBF on this line); it looks like GBK/GB18030: "
        "save the file as UTF-8"
    ]


def test_a_utf16_file_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "wide.yaml"
    path.write_bytes(BASE.encode("utf-16"))
    with pytest.raises(DefinitionError) as caught:
        load_definition(path)
    assert caught.value.problems[0].endswith("the file is UTF-16: save it as UTF-8")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("  amount: {type: number}", "  amount：{type: number}",
         "demo.yaml:6: full-width colon '：' after 'amount': write an ASCII ':' and a space "
         "(switch the input method to half-width)"),
        ("accept: {to: triage,", "accept: {to： triage,",
         "demo.yaml:11: full-width colon '：' after 'to': write an ASCII ':' and a space "
         "(switch the input method to half-width)"),
        ("    initial: true", "\u3000\u3000initial: true",
         "demo.yaml:9: indented with an ideographic (full-width) space U+3000: indent with "
         "ordinary spaces"),
        ("    initial: true", "  \u3000initial: true",
         "demo.yaml:9: indented with an ideographic (full-width) space U+3000: indent with "
         "ordinary spaces"),
        ("    initial: true", "\tinitial: true",
         "demo.yaml:9: indented with a tab: YAML indents with spaces only"),
    ],
    ids=["full-width-colon", "full-width-colon-in-flow", "ideographic-indent", "mixed-indent",
         "tab-indent"],
)  # fmt: skip
def test_input_method_characters_are_named_at_their_line(old: str, new: str, expected: str) -> None:
    assert broken(old, new) == [expected]


def test_full_width_characters_as_content_are_fine() -> None:
    text = BASE.replace("process: demo", "process: demo\ntitle: 说明：复核（二次）")
    text = text.replace(
        "    initial: true\n", "    initial: true\n    title: |\n      \u3000\u3000段落：缩进\n"
    )
    definition = load_definition_text(text, "demo.yaml")
    assert definition.title == "说明：复核（二次）"
    assert definition.stages["intake"].title == "\u3000\u3000段落：缩进\n"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("within: 1h}", "within: 3000000d}",
         "demo.yaml:19: deadlines.response.within: bad duration '3000000d': at most 3653d "
         "(10 years)"),
        ("within: 1h}", "within: 1000000000w}",
         "demo.yaml:19: deadlines.response.within: bad duration '1000000000w': at most 3653d "
         "(10 years)"),
        ("within: 1h}", "within: 1000000000000s}",
         "demo.yaml:19: deadlines.response.within: bad duration '1000000000000s': at most "
         "3653d (10 years)"),
        ("within: 1h}", "within: " + "9" * 5000 + "d}",
         "demo.yaml:19: deadlines.response.within: bad duration "
         "'9999999999999999999999999999999999999999…': at most 3653d (10 years)"),
        ("within: 1h}", "within: 1h, warn: [2000000d]}",
         "demo.yaml:19: deadlines.response.warn.0: warning '2000000d': at most 3653d "
         "(10 years)"),
        ("after: 2d", "after: 3000d 1000d",
         "demo.yaml:15: stages.triage.timeout.after: bad duration '3000d 1000d': at most "
         "3653d (10 years)"),
    ],
    ids=["days", "weeks", "seconds", "digits", "warning", "sum"],
)  # fmt: skip
def test_durations_are_at_most_ten_years(old: str, new: str, expected: str) -> None:
    assert broken(old, new) == [expected]


def test_the_longest_durations_run_a_case_without_leaving_the_calendar() -> None:
    text = BASE.replace("within: 1h}", "within: 3653d, warn: [3653d]}")
    spec = compile_definition(load_definition_text(text, "demo.yaml"))
    engine, _ = CaseEngine.open(spec, "C-1", {}, "tester", OPENED_AT)
    due = engine.state.clocks["response"].due_at
    assert due is not None and due.year == 2036
    assert engine.next_alarm() == OPENED_AT  # the warning, 10 years before the due time


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("9" * 50, "demo.yaml:2: a number of 50 digits; the limit is 30"),
        ("2026-13-45", "demo.yaml:2: '2026-13-45' is not a valid date or time"),
        ("!!int abc", "demo.yaml:2: 'abc' is not a valid whole number"),
        ("!!python/object:os.system x",
         "demo.yaml:2: the tag '!!python/object:os.system' is not used in definitions: remove it"),
        ("!!set {a, b}",
         "demo.yaml:2: the tag '!!set' is not used in definitions: remove it"),
    ],
    ids=["long-number", "bad-date", "bad-int", "python-tag", "set-tag"],
)  # fmt: skip
def test_values_yaml_cannot_build_are_refused_with_their_line(value: str, expected: str) -> None:
    assert broken("version: 1", f"version: {value}") == [expected]


def test_a_time_zone_name_too_long_for_a_file_name_is_an_unknown_zone() -> None:
    found = only(broken("version: 1", "version: 1\ntimezone: " + "长" * 5000))
    assert found == f"demo.yaml:3: timezone: unknown time zone '{'长' * 40}…' (e.g. Asia/Shanghai)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: &a [*a]\n", "demo.yaml:1: alias '*a' is inside the value it refers to"),
        ("a: *b\n", "demo.yaml:1: alias '*b' has no anchor '&b' before it"),
        (BASE + "---\nprocess: x\n",
         f"demo.yaml:{BASE.count(chr(10)) + 1}: a definition is one YAML document; "
         "another one starts here"),
    ],
    ids=["recursive-alias", "unknown-alias", "two-documents"],
)  # fmt: skip
def test_documents_kesu_cannot_read(text: str, expected: str) -> None:
    assert problems(text) == [expected]


def test_a_duplicate_key_inside_an_aliased_value_is_reported_once() -> None:
    text = BASE + "shared: &s {a: 1, a: 2}\nuse: [*s, *s, *s]\n"
    duplicates = [line for line in problems(text) if "duplicate key" in line]
    line = BASE.count("\n") + 1  # the line after the base
    assert duplicates == [
        f"demo.yaml:{line}: shared.a: duplicate key 'a' (first written on line {line})"
    ]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("    initial: true\n", "    initial: true\n    on_entry: []\n",
         "demo.yaml:10: stages.intake.on_entry: unknown key 'on_entry'; did you mean "
         "'on_enter'?"),
        ("    initial: true\n", "    initial: true\n    colour: red\n",
         "demo.yaml:10: stages.intake.colour: unknown key 'colour'; known keys here: title, "
         "initial, final, on_enter, on, timeout, pauses, requires"),
        ("roles: [agent, supervisor]", "roles: {agent: 1, supervisor: 2}",
         "demo.yaml:3: roles: this is a list, written as a mapping: put each item on its own "
         "line starting with '- ', or write [a, b]"),
        ("  response: {stop", "  - response: {stop",
         "demo.yaml:18: deadlines: this is a mapping (key: value lines), written as a list: "
         "drop the '- ' before each entry"),
        ("roles: [agent]}", "roles: agent}",
         "demo.yaml:11: stages.intake.on.accept.roles: expected a list ('- ' items, or [a, b]),"
         " got text 'agent'"),
    ],
    ids=["near-miss-key", "unknown-key", "list-as-mapping", "mapping-as-list", "text-as-list"],
)  # fmt: skip
def test_shape_mistakes_are_explained_in_kesus_words(old: str, new: str, expected: str) -> None:
    assert broken(old, new) == [expected]


def test_a_guard_that_could_be_slow_is_refused_at_load() -> None:
    product = " * ".join(["amount"] * 30)
    found = only(broken('when: "amount > 100"', f'when: "{product} > 1"'))
    assert found.startswith("demo.yaml:14: stages.triage.on.close.when: condition does not parse")
    assert found.endswith("more than 8 multiplications in one condition; split it up")


def test_guard_arithmetic_is_bounded_at_run_time() -> None:
    # Eight multiplications of the largest numbers a case can carry stay small and quick.
    product = parse(" * ".join(["amount"] * 9))
    assert product.evaluate({"amount": 10**4000}) is None
    assert product.evaluate({"amount": 2}) == 512
    concatenation = parse(" + ".join(["text"] * 20))
    assert concatenation.evaluate({"text": "长" * 10_000}) is None
