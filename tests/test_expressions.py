"""Guard expressions: grammar, run-time semantics that never raise, and precise syntax errors."""

from __future__ import annotations

import dataclasses
import math
import pickle
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from process.expressions import (
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_TEXT,
    Context,
    Expression,
    ExpressionError,
    parse,
)


def value(source: str, **values: Any) -> Any:
    return parse(source).evaluate(values)


def same(actual: Any, expected: Any) -> bool:
    """Equal and of the same type, so that True does not pass for 1, nor 2.0 for 2."""
    return type(actual) is type(expected) and actual == expected


EVALUATED: list[tuple[str, dict[str, Any], Any]] = [
    # literals
    ("42", {}, 42),
    ("1.5", {}, 1.5),
    ("50_000", {}, 50000),
    ("1_000.250_5", {}, 1000.2505),
    ("'single'", {}, "single"),
    ('"double"', {}, "double"),
    (r"'it\'s'", {}, "it's"),
    (r'"say \"hi\""', {}, 'say "hi"'),
    (r"'a\\b'", {}, "a\\b"),
    (r"'line\nnext\ttab\r'", {}, "line\nnext\ttab\r"),
    ("'投诉'", {}, "投诉"),
    ("''", {}, ""),
    ("true", {}, True),
    ("false", {}, False),
    ("null", {}, None),
    ("True", {}, True),
    ("False", {}, False),
    ("None", {}, None),
    ("[]", {}, []),
    ("[1, 'a', [true], null]", {}, [1, "a", [True], None]),
    ("[1, 2,]", {}, [1, 2]),
    # names
    ("amount", {"amount": 7}, 7),
    ("missing", {}, None),
    ("渠道", {"渠道": "电话"}, "电话"),
    ("_private2", {"_private2": 1}, 1),
    ("android", {"android": 1}, 1),  # a name starting with a keyword is still a name
    ("nothing", {"nothing": 2}, 2),
    # arithmetic
    ("1 + 2", {}, 3),
    ("5 - 7", {}, -2),
    ("6 * 7", {}, 42),
    ("7 / 2", {}, 3.5),
    ("8 / 2", {}, 4.0),
    ("7 % 3", {}, 1),
    ("-7 % 3", {}, 2),
    ("1.5 * 2", {}, 3.0),
    ("-amount", {"amount": 3}, -3),
    ("- -3", {}, 3),
    ("--3", {}, 3),
    ("amount * 2 + fee", {"amount": 50, "fee": 1}, 101),
    ("'投' + '诉'", {}, "投诉"),
    ("10 - 2 - 3", {}, 5),  # left-associative
    ("64 / 4 / 2", {}, 8.0),
    ("2 * 3 % 4", {}, 2),
    # arithmetic that cannot be done gives None
    ("amount + 1", {}, None),
    ("amount + 1", {"amount": None}, None),
    ("amount * 2 + 1", {"amount": "x"}, None),
    ("'a' + 1", {}, None),
    ("'ab' * 2", {}, None),
    ("'b' - 'a'", {}, None),
    ("true + 1", {}, None),
    ("flag * 2", {"flag": True}, None),
    ("-flag", {"flag": False}, None),
    ("-name", {"name": "x"}, None),
    ("-missing", {}, None),
    ("[1] + [2]", {}, None),
    ("1 / 0", {}, None),
    ("1 / 0.0", {}, None),
    ("1 % 0", {}, None),
    ("amount / count", {"amount": 10, "count": 0}, None),
    ("(1 / 0) + 5", {}, None),
    ("big / 3", {"big": 10**400}, None),  # too large for a float
    ("big + 0.5", {"big": 10**400}, None),
    # comparisons
    ("1 == 1", {}, True),
    ("1 == 1.0", {}, True),
    ("1 != 2", {}, True),
    ("'a' == 'a'", {}, True),
    ("'a' != 'a'", {}, False),
    ("x == null", {}, True),
    ("x != null", {"x": 0}, True),
    ("x == y", {}, True),  # both missing, both None
    ("tags == ['a', 'b']", {"tags": ["a", "b"]}, True),
    ("2 < 3", {}, True),
    ("3 <= 3", {}, True),
    ("2 > 3", {}, False),
    ("3 >= 3.5", {}, False),
    ("1.5 < 2", {}, True),
    ("'apple' < 'banana'", {}, True),
    ("due < '2026-01-01'", {"due": "2025-12-31"}, True),
    # ordering that makes no sense is false, whichever way round
    ("amount > 5", {}, False),
    ("amount < 5", {}, False),
    ("amount <= 5", {"amount": None}, False),
    ("amount >= 5", {"amount": "10"}, False),
    ("'10' < 5", {}, False),
    ("flag > 0", {"flag": True}, False),
    ("flag >= false", {"flag": True}, False),
    ("[1] < [2]", {}, False),
    ("null < null", {}, False),
    # membership
    ("category in ['card', 'loan']", {"category": "loan"}, True),
    ("category in ['card', 'loan']", {"category": "wealth"}, False),
    ("category not in ['card', 'loan']", {"category": "wealth"}, True),
    ("category in ['card', 'loan']", {}, False),
    ("2 in [1, 2.0]", {}, True),
    ("'监管' in channel", {"channel": "监管转办"}, True),
    ("'x' not in channel", {"channel": "监管转办"}, True),
    ("1 in 'abc'", {}, False),
    ("'a' in tags", {"tags": ["a", "b"]}, True),
    ("'a' in tags", {"tags": ("a",)}, True),
    ("'a' in tags", {"tags": {"a", "b"}}, True),
    ("'a' in data", {"data": {"a": 1}}, True),  # a mapping's keys
    ("[1] in data", {"data": {"a": 1}}, False),  # unhashable: no TypeError
    ("[1] in data", {"data": {1, 2}}, False),
    ("[1] in [[1], [2]]", {}, True),
    ("'a' in tags", {}, False),
    ("1 in 5", {}, False),
    ("'a' not in tags", {}, True),  # 'not in' is always the negation of 'in'
    ("null in [null]", {}, True),
    # logic returns booleans and short-circuits
    ("true and false", {}, False),
    ("true or false", {}, True),
    ("a and b", {"a": 1, "b": "x"}, True),
    ("a or b", {"a": 0, "b": ""}, False),
    ("not a", {"a": []}, True),
    ("not a", {}, True),
    ("not 'x'", {}, False),
    ("not not a", {"a": 5}, True),
    ("false and 1 / 0 == 1", {}, False),
    ("true or missing > 1", {}, True),
]


@pytest.mark.parametrize(("source", "values", "expected"), EVALUATED)
def test_evaluate(source: str, values: dict[str, Any], expected: Any) -> None:
    result = parse(source).evaluate(values)
    assert same(result, expected), f"{source!r} gave {result!r}, expected {expected!r}"


PRECEDENCE: list[tuple[str, str]] = [
    # each source evaluates like its fully parenthesised twin, on every combination tried below
    ("a or b and c", "a or (b and c)"),
    ("a and b or c", "(a and b) or c"),
    ("not a == b", "not (a == b)"),
    ("not a and b", "(not a) and b"),
    ("not a or b", "(not a) or b"),
    ("a == b and c", "(a == b) and c"),
    ("a + b * c", "a + (b * c)"),
    ("a * b + c", "(a * b) + c"),
    ("a - b - c", "(a - b) - c"),
    ("a / b * c", "(a / b) * c"),
    ("-a * b", "(-a) * b"),
    ("-a + b", "(-a) + b"),
    ("a + b > c", "(a + b) > c"),
    ("a in [b, c] and c", "(a in [b, c]) and c"),
    ("a not in [b] or c", "(a not in [b]) or c"),
]


@pytest.mark.parametrize(("source", "twin"), PRECEDENCE)
def test_precedence(source: str, twin: str) -> None:
    expression, explicit = parse(source), parse(twin)
    for a in (0, 1, 2, 5):
        for b in (0, 1, 3):
            for c in (0, 2, 4):
                values = {"a": a, "b": b, "c": c}
                assert same(expression.evaluate(values), explicit.evaluate(values)), values


def test_precedence_examples() -> None:
    assert value("-2 * 3 + 1") == -5
    assert value("2 + 3 * 4") == 14
    assert value("(2 + 3) * 4") == 20
    assert value("true or true and false") is True  # and binds tighter than or
    assert value("(true or true) and false") is False
    assert value("not 1 == 2") is True  # not (1 == 2), not (not 1) == 2
    assert value("a or b and c", a=1, b=0, c=0) is True


def test_comparisons_chain_as_in_python() -> None:
    assert value("1 < 2 < 3") is True
    assert value("1 < 3 < 2") is False
    assert value("3 > 2 > 1") is True
    assert value("1 <= csat <= 5", csat=5) is True
    assert value("1 <= csat <= 5", csat=6) is False
    assert value("1 <= csat <= 5") is False  # missing: each comparison is false
    assert value("a == b == c", a=1, b=1, c=1) is True
    assert value("a == b == c", a=1, b=1, c=2) is False
    assert value("x < y in [2, 3]", x=1, y=2) is True
    # Parentheses end the chain: (1 < 2) is a boolean, and booleans do not order.
    assert value("(1 < 2) < 3") is False
    # A chain stops at its first false link, like Python (the division is never done).
    assert value("2 < 1 < 1 / 0") is False


def test_truthiness_of_test() -> None:
    assert parse("amount").test({"amount": 3}) is True
    assert parse("amount").test({"amount": 0}) is False
    assert parse("amount").test({}) is False
    assert parse("'x'").test({}) is True
    assert parse("[]").test({}) is False
    assert parse("1 / 0").test({}) is False
    shipped = parse("severity == 'urgent' or amount > 50000")
    assert shipped.test({"severity": "urgent"}) is True
    assert shipped.test({"severity": "normal", "amount": 50001}) is True
    assert shipped.test({"severity": "normal", "amount": 50000}) is False
    assert shipped.test({}) is False


def test_chinese_text_and_names() -> None:
    expression = parse("渠道 != '监管转办' and 金额 >= 1_000")
    assert expression.names == {"渠道", "金额"}
    assert expression.test({"渠道": "电话", "金额": 1000}) is True
    assert expression.test({"渠道": "监管转办", "金额": 1000}) is False
    assert parse("channel != '监管转办'").test({"channel": "监管转办"}) is False
    assert parse('"投诉" in 标题').test({"标题": "客户投诉：扣费"}) is True


@pytest.mark.parametrize(
    ("source", "names"),
    [
        ("true", set()),
        ("amount", {"amount"}),
        ("severity == 'urgent' or amount > 50000", {"severity", "amount"}),
        ("a + a * a", {"a"}),
        ("x in [y, z, 'w']", {"x", "y", "z"}),
        ("not (p and -q)", {"p", "q"}),
        ("'name' == name", {"name"}),  # text is not a name
        ("flag == true or other == None", {"flag", "other"}),
        ("渠道 == '电话'", {"渠道"}),
    ],
)
def test_names(source: str, names: set[str]) -> None:
    assert parse(source).names == frozenset(names)


class Hostile:
    """A value whose comparison, truth and hashing all raise."""

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq")

    def __bool__(self) -> bool:
        raise RuntimeError("bool")

    def __lt__(self, other: object) -> bool:
        raise RuntimeError("lt")

    __hash__ = None  # type: ignore[assignment]


ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    10**400,
    0.0,
    math.inf,
    math.nan,
    "",
    "text",
    [],
    [1, None],
    {},
    {"k": [1]},
    {1, 2},
    (),
    object(),
    Hostile(),
]
EVERY_OPERATOR = [
    "a or b",
    "a and b",
    "not a",
    "-a",
    "a == b",
    "a != b",
    "a < b",
    "a <= b",
    "a > b",
    "a >= b",
    "a in b",
    "a not in b",
    "a + b",
    "a - b",
    "a * b",
    "a / b",
    "a % b",
    "[a, b]",
    "a < b < a",
]


@pytest.mark.parametrize("source", EVERY_OPERATOR)
def test_evaluation_never_raises(source: str) -> None:
    expression = parse(source)
    for a in ODD_VALUES:
        for b in ODD_VALUES:
            expression.evaluate({"a": a, "b": b})
            assert isinstance(expression.test({"a": a, "b": b}), bool)


def test_hostile_values_are_false_not_errors() -> None:
    hostile = Hostile()
    assert value("a", a=hostile) is hostile
    assert parse("a").test({"a": hostile}) is False
    assert value("a == 1", a=hostile) is False
    assert value("a != 1", a=hostile) is True
    assert value("a in [1]", a=hostile) is False
    assert value("a in b", a=hostile, b={1}) is False
    assert value("a < 1", a=hostile) is False


FUNCTION_NAMES = "startswith, endswith, contains, len, lower, upper"
SYNTAX_ERRORS: list[tuple[str, int, str]] = [
    ("", 1, "empty expression"),
    ("   ", 1, "empty expression"),
    ("a and", 6, "unexpected end of expression, expected a value after 'and'"),
    ("a and   ", 6, "unexpected end of expression, expected a value after 'and'"),
    ("not", 4, "unexpected end of expression, expected a value after 'not'"),
    ("amount >", 9, "unexpected end of expression, expected a value after '>'"),
    ("name == 'abc", 9, "unterminated string starting at column 9"),
    ('a == "x\\"', 6, "unterminated string starting at column 6"),
    ("a = 1", 3, "'=' is not an operator; did you mean '=='?"),
    ("a === b", 5, "'=' is not an operator; did you mean '=='?"),
    ("a & b", 3, "unknown character '&'; use 'and'"),
    ("a | b", 3, "unknown character '|'; use 'or'"),
    ("a && b", 3, "'&&' is not supported; use 'and'"),
    ("a || b", 3, "'||' is not supported; use 'or'"),
    ("!a", 1, "'!' is not supported; use 'not'"),
    ("a <> b", 3, "'<>' is not supported; use '!='"),
    ("(a == 1) or b)", 14, "unexpected ')' without a matching '('"),
    ("[1]]", 4, "unexpected ']' without a matching '['"),
    ("(a == 1", 8, "unexpected end of expression, expected ')' to close '(' at column 1"),
    ("(a b)", 4, "unexpected name 'b', expected ')' to close '(' at column 1"),
    ("[1, 2", 6, "unexpected end of expression, expected ',' or ']' to close '[' at column 1"),
    ("[1 2]", 4, "unexpected number 2, expected ',' or ']' to close '[' at column 1"),
    ("()", 2, "unexpected ')', expected a value after '('"),
    ("[,]", 2, "unexpected ',', expected a value after '['"),
    (")", 1, "unexpected ')', expected a value"),
    ("* 2", 1, "unexpected '*', expected a value"),
    ("+1", 1, "unexpected '+', expected a value"),
    ("a == b c", 8, "unexpected name 'c', expected an operator"),
    ("'a' 'b'", 5, "unexpected text 'b', expected an operator"),
    ("a not b", 7, "unexpected name 'b', expected 'in' after 'not'"),
    ("a not", 6, "unexpected end of expression, expected 'in' after 'not'"),
    ("a == not b", 6, "'not' cannot follow '=='; put 'not ...' in parentheses"),
    ("-not a", 2, "'not' cannot follow '-'; put 'not ...' in parentheses"),
    ("a AND b", 3, "unexpected name 'AND'; write 'and' in lower case"),
    ("a is None", 3, "unexpected name 'is'; use '==' or '!='"),
    ("1e5", 1, "invalid number '1e5'"),
    ("1..2", 1, "invalid number '1..2'"),
    ("1_", 1, "invalid number '1_'"),
    ("5万", 1, "invalid number '5万'"),
    ("amount > 1.", 10, "invalid number '1.'"),
    (".5", 1, "a number needs a digit before '.', e.g. 0.5"),
    (
        "case.amount",
        5,
        "'.' is not supported; field names are flat, without dots "
        "(an event's inputs read event.data.<name>)",
    ),
    ("f(x)", 1, f"unknown function 'f'; the functions are {FUNCTION_NAMES}"),
    ("__import__('os')", 1, f"unknown function '__import__'; the functions are {FUNCTION_NAMES}"),
    ("'abc'(1)", 6, f"only a function can be called ({FUNCTION_NAMES})"),
    ("(len)(x)", 6, f"only a function can be called ({FUNCTION_NAMES})"),
    ("x[0]", 2, "indexing with '[...]' is not supported"),
    ("'abc'[0]", 6, "indexing with '[...]' is not supported"),
    (r"'a\q'", 3, "unknown escape '\\q'; write '\\\\' for a backslash"),
    ("a $ b", 3, "unknown character '$'"),
    ("a ? b : c", 3, "unknown character '?'"),
    ("a == 1 （b）", 8, "unknown character '（'; did you mean '('?"),
    ("a ＝＝ b", 3, "unknown character '＝'; did you mean '='?"),
    ("channel == “电话”", 12, "unknown character '“'; did you mean '\"'?"),
    ("a\n  and\n  b ==", 15, "unexpected end of expression, expected a value after '=='"),
]


@pytest.mark.parametrize(("source", "column", "message"), SYNTAX_ERRORS)
def test_syntax_errors(source: str, column: int, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse(source)
    assert (caught.value.column, caught.value.message) == (column, message)
    assert str(caught.value) == f"column {column}: {message}"


def test_error_is_a_value_error_and_pickles() -> None:
    with pytest.raises(ValueError, match=r"^column 7: unexpected '\)' without a matching"):
        parse("a == 1)")
    error = pickle.loads(pickle.dumps(ExpressionError("bad", 4)))
    assert (error.message, error.column, str(error)) == ("bad", 4, "column 4: bad")


@pytest.mark.parametrize(
    "source",
    [
        "__import__('os')",
        "__import__('os').system('ls')",
        "open('/etc/passwd')",
        "a.b",
        "a.__class__",
        "().__class__",
        "f(x)",
        "amount(1)",
        "x[0]",
        "lambda: 1",
        "[x for x in y]",
        "a if b else c",
        "a ** 2",
        "a // 2",
        "a = 1",
        "a; b",
        "`a`",
        "{'a': 1}",
        "a:=1",
    ],
)
def test_python_beyond_the_language_is_rejected_at_parse_time(source: str) -> None:
    with pytest.raises(ExpressionError):
        parse(source)


def test_length_limit() -> None:
    longest = "a == " + "1" * (MAX_LENGTH - 5)
    assert parse(longest).names == {"a"}
    with pytest.raises(ExpressionError) as caught:
        parse(longest + " ")
    assert caught.value.column == MAX_LENGTH + 1
    assert caught.value.message == (
        f"expression is too long ({MAX_LENGTH + 1} characters; the limit is {MAX_LENGTH})"
    )


@pytest.mark.parametrize(
    ("opening", "closing", "column"),
    [("(", ")", 51), ("[", "]", 51), ("-", "", 51), ("not ", "", 201), ("-(", ")", 51)],
)
def test_depth_limit(opening: str, closing: str, column: int) -> None:
    levels = MAX_DEPTH // 2 if opening == "-(" else MAX_DEPTH  # '-(' is two levels at once
    deepest = opening * levels + "1" + closing * levels
    parse(deepest).evaluate({})
    with pytest.raises(ExpressionError) as caught:
        parse(opening + deepest + closing)
    assert (caught.value.column, caught.value.message) == (
        column,
        f"expression is nested too deeply (the limit is {MAX_DEPTH} levels)",
    )


def test_long_flat_expressions_are_not_limited_by_depth() -> None:
    # Runs of one operator are not nesting: hundreds of terms parse and evaluate.
    many = " or ".join(f"x == {n}" for n in range(150))
    assert parse(many).test({"x": 149}) is True
    total = "+".join(["1"] * 900)
    assert parse(total).evaluate({}) == 900


def test_worst_case_nesting_evaluates() -> None:
    source = "a"
    while True:
        try:
            parse(candidate := f"(x or y and w == v + u * -{source})")
        except ExpressionError:
            break
        source = candidate
    values = {"x": 0, "y": 1, "w": 1, "u": 1, "v": 0, "a": 1}
    assert parse(source).test(values) is False


def test_expression_is_immutable_and_comparable() -> None:
    expression = parse("amount > 1")
    assert isinstance(expression, Expression)
    assert expression.source == "amount > 1"
    with pytest.raises(dataclasses.FrozenInstanceError):
        expression.source = "true"  # type: ignore[misc]
    assert expression == parse("amount > 1")
    assert hash(expression) == hash(parse("amount > 1"))
    assert expression != parse("amount > 2")
    assert "amount > 1" in repr(expression)


def test_evaluate_does_not_touch_values() -> None:
    values: dict[str, Any] = {"tags": ["a"], "n": 1}
    parse("tags + ['b'] == tags and n + 1 > n").evaluate(values)
    assert values == {"tags": ["a"], "n": 1}
    result = parse("[n]").evaluate(values)
    result.append(2)  # a fresh list each time
    assert parse("[n]").evaluate(values) == [1]


# --- durations, dates, the step's context, functions ----------------------------------------

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai
STEP = Context(
    now=NOW, zone=SHANGHAI, actor="王敏", role="agent", roles=("agent", "reviewer"),
    event_data={"csat": 2, "note": "电话回访"},
)  # fmt: skip
OPENED = "2026-11-20T09:00:00+08:00"


def in_step(source: str, **values: Any) -> Any:
    return parse(source).evaluate(values, STEP)


IN_STEP: list[tuple[str, dict[str, Any], Any]] = [
    # durations
    ("15d", {}, timedelta(days=15)),
    ("24h", {}, timedelta(hours=24)),
    ("30m + 30s", {}, timedelta(minutes=30, seconds=30)),
    ("2w - 1d", {}, timedelta(days=13)),
    ("-1h", {}, timedelta(hours=-1)),
    ("1_000s", {}, timedelta(seconds=1000)),
    ("24h == 1d", {}, True),
    ("90m > 1h", {}, True),
    ("1d * 2", {}, None),  # not in the language of types; at run time: nothing
    # the step's context
    ("now", {}, NOW),
    ("today", {}, date(2026, 11, 23)),
    ("actor", {}, "王敏"),
    ("role", {}, "agent"),
    ("roles", {}, ["agent", "reviewer"]),
    ("'reviewer' in roles", {}, True),
    ("actor != handler", {"handler": "李雷"}, True),
    ("actor != handler", {"handler": "王敏"}, False),
    ("event.data.csat", {}, 2),
    ("event.data.csat < 3", {"csat": 5}, True),  # the event's value, not the field's
    ("event.data.missing", {}, None),
    ("event.data.csat + 1", {}, 3),
    # dates and date-times: fields hold ISO text
    ("opened_at + 15d", {"opened_at": OPENED}, datetime(2026, 12, 5, 9, tzinfo=SHANGHAI)),
    ("15d + opened_at", {"opened_at": OPENED}, datetime(2026, 12, 5, 9, tzinfo=SHANGHAI)),
    ("opened_at - 1h", {"opened_at": OPENED}, datetime(2026, 11, 20, 8, tzinfo=SHANGHAI)),
    ("now - opened_at", {"opened_at": OPENED}, timedelta(days=3, minutes=30)),
    ("now - opened_at > 3d", {"opened_at": OPENED}, True),
    ("now > opened_at + 15d", {"opened_at": OPENED}, False),
    ("opened_at < now", {"opened_at": "2026-11-23T09:00:00"}, True),  # no offset: the zone's
    ("opened_at < now", {"opened_at": "2026-11-23T10:00:00"}, False),
    ("due + 1w", {"due": "2026-11-30"}, date(2026, 12, 7)),
    ("due - today", {"due": "2026-11-30"}, timedelta(days=7)),
    ("due < today", {"due": "2026-11-30"}, False),
    ("today == '2026-11-23'", {}, True),
    ("due < '2026-12-01'", {"due": "2026-11-30"}, True),  # text with text still orders
    ("due == now", {"due": "2026-11-23"}, False),  # a date is never a moment
    ("due < now", {"due": "2026-11-22"}, False),
    ("due + 1d", {"due": "not a date"}, None),
    ("due + 1d", {"due": "2026-13-01"}, None),
    ("due + 1d", {"due": 20261130}, None),
    ("opened_at - due", {"opened_at": OPENED, "due": "2026-11-30"}, None),
    ("due + 3650d + 3650d", {"due": "9990-01-01"}, None),  # past the year 9999
    ("'2026-11-23' + 1d", {}, date(2026, 11, 24)),
    ("15d - opened_at", {"opened_at": OPENED}, None),
    # decimal amounts add as written; whole numbers stay whole
    ("0.1 + 0.2", {}, 0.3),
    ("amount * 1.1", {"amount": 100}, 110.0),
    ("amount - 0.01", {"amount": 0.3}, 0.29),
    ("reopen_count + 1", {"reopen_count": 0}, 1),
    ("reopen_count + 1", {}, None),
    ("1 / 3", {}, 0.3333333333333333),
    ("amount + 1", {"amount": math.nan}, None),
    ("amount + 1.5", {"amount": math.inf}, None),
    ("1.5 % 1", {}, 0.5),
    # functions
    ("startswith(customer_id, 'VIP')", {"customer_id": "VIP-007"}, True),
    ("startswith(customer_id, 'VIP')", {"customer_id": "C-007"}, False),
    ("endswith(email, '@bank.cn')", {"email": "a@bank.cn"}, True),
    ("startswith(customer_id, 1)", {"customer_id": "1"}, False),
    ("startswith(missing, 'a')", {}, False),
    ("contains(description, '投诉')", {"description": "客户投诉"}, True),
    ("contains(tags, 'vip')", {"tags": ["vip"]}, True),
    ("contains(tags, 'vip')", {"tags": 5}, False),
    ("contains(['a', 'b'], category)", {"category": "b"}, True),
    ("len(description)", {"description": "客户投诉"}, 4),
    ("len(roles)", {}, 2),
    ("len(amount)", {"amount": 5}, None),
    ("len(description) > 3", {"description": "客户投诉"}, True),
    ("lower(channel) == 'web'", {"channel": "WEB"}, True),
    ("upper(channel)", {"channel": "web"}, "WEB"),
    ("upper(5)", {}, None),
    ("len(lower(event.data.note))", {}, 4),
]


@pytest.mark.parametrize(("source", "values", "expected"), IN_STEP)
def test_evaluate_in_a_step(source: str, values: dict[str, Any], expected: Any) -> None:
    assert same(in_step(source, **values), expected), in_step(source, **values)


def test_without_a_step_the_context_reads_as_null() -> None:
    assert value("now") is None
    assert value("today") is None
    assert value("actor") is None
    assert value("roles") == []
    assert value("event.data.csat") is None
    assert parse("now > opened_at").test({"opened_at": OPENED}) is False


def test_context_names_are_kept_apart_from_fields() -> None:
    expression = parse("actor != handler and event.data.csat < 3 and now > opened_at + 15d")
    assert expression.names == {"handler", "opened_at"}
    assert expression.builtins == {"actor", "now"}
    assert expression.inputs == {"csat"}
    # A field that happens to share the name is not what 'actor' reads.
    assert parse("actor").evaluate({"actor": "mallory"}, STEP) == "王敏"


NEW_SYNTAX_ERRORS: list[tuple[str, int, str]] = [
    ("a ** 2", 3, "'**' is not supported: there are no powers"),
    ("2 ** 99999999", 3, "'**' is not supported: there are no powers"),
    ("a // 2", 3, "'//' is not supported; use '/'"),
    ("5wd", 1, "working days (wd) need a calendar: they count in deadlines, not in expressions"),
    ("now + 1mo", 7, "months (mo) need a calendar: they count in deadlines, not in expressions"),
    ("1.5h", 1, "invalid duration '1.5h': a duration counts whole units, e.g. 90m"),
    ("3653d", 0, ""),  # ten years is the longest: fine
    ("3654d", 1, "duration '3654d' is longer than 3653d (10 years)"),
    (
        "99999999999999999999999s",
        1,
        "duration '99999999999999999999999s' is longer than 3653d (10 years)",
    ),
    ("event.csat", 6, "'event' is followed by '.data.<input>', e.g. event.data.csat"),
    ("event.data", 6, "'event' is followed by '.data.<input>', e.g. event.data.csat"),
    ("event.data.", 6, "'event' is followed by '.data.<input>', e.g. event.data.csat"),
    (
        "event.data.csat.x",
        16,
        "'.' is not supported; field names are flat, without dots"
        " (an event's inputs read event.data.<name>)",
    ),
    ("event.data.__class__", 0, ""),  # just an input name, never a Python attribute
    ("startswith(a)", 1, "startswith() takes 2 arguments, got 1"),
    ("len(a, b)", 1, "len() takes 1 argument, got 2"),
    ("len()", 1, "len() takes 1 argument, got 0"),
    ("len(a", 6, "unexpected end of expression, expected ',' or ')' to close '(' at column 4"),
    ("len(a)(b)", 7, f"only a function can be called ({FUNCTION_NAMES})"),
    ("len(a)[0]", 7, "indexing with '[...]' is not supported"),
    ("eval('1')", 1, f"unknown function 'eval'; the functions are {FUNCTION_NAMES}"),
    ("getattr(a, 'b')", 1, f"unknown function 'getattr'; the functions are {FUNCTION_NAMES}"),
    ("now()", 1, "'now' is not a function: write now, without '()'"),
    (
        "a.startswith('x')",
        2,
        "'.' is not supported; field names are flat, without dots"
        " (an event's inputs read event.data.<name>)",
    ),
]


@pytest.mark.parametrize(("source", "column", "message"), NEW_SYNTAX_ERRORS)
def test_new_syntax_errors(source: str, column: int, message: str) -> None:
    if not message:
        parse(source)
        return
    with pytest.raises(ExpressionError) as caught:
        parse(source)
    assert (caught.value.column, caught.value.message) == (column, message)


def test_now_is_refused_as_a_call_the_way_designers_tried_it() -> None:
    with pytest.raises(ExpressionError, match="'now' is not a function: write now"):
        parse("now() > due")


def test_nested_calls_count_towards_the_depth_limit() -> None:
    deep = "len(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH
    assert parse(deep).evaluate({"a": "x"}, STEP) is None  # len(1) is no length: null
    with pytest.raises(ExpressionError, match="nested too deeply"):
        parse("len(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1))


def test_text_functions_on_the_largest_values_stay_bounded() -> None:
    huge = "长" * MAX_TEXT
    assert parse("len(upper(a + a))").evaluate({"a": huge}) is None  # too long to make
    assert parse("len(upper(a))").evaluate({"a": huge}) == MAX_TEXT
    assert parse("upper(a)").evaluate({"a": huge + "x"}) is None  # no copy of the largest
    assert parse("contains(a, 'x')").evaluate({"a": huge}) is False


@pytest.mark.parametrize(
    "source", ["len(a)", "lower(a)", "upper(a)", "contains(a, b)", "startswith(a, b)",
               "endswith(a, b)", "contains([a], b)"],
)  # fmt: skip
def test_functions_never_raise(source: str) -> None:
    expression = parse(source)
    for a in ODD_VALUES:
        for b in ODD_VALUES:
            expression.evaluate({"a": a, "b": b}, STEP)
            assert isinstance(expression.test({"a": a, "b": b}), bool)


def test_time_arithmetic_never_raises_on_odd_values() -> None:
    sources = ["a + 1d", "a - 1d", "a - b", "a < b", "a == b", "1d + a", "a + b", "-a"]
    odd = [*ODD_VALUES, OPENED, "2026-11-30", "9999-12-31", "0001-01-01", timedelta.max, NOW]
    for source in sources:
        expression = parse(source)
        for a in odd:
            for b in odd:
                expression.evaluate({"a": a, "b": b}, STEP)
