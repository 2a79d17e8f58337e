"""Kesu's expression language: guards, decision tables and computed ``set`` values.

Designers write conditions such as ``severity == 'urgent' or amount > 50000`` in YAML. They
are parsed once, when a definition loads, type-checked against the definition's fields
(``expression_types``) and evaluated inside Temporal workflow code, so this module is pure and
deterministic: no eval, no I/O, no clock, no shared mutable state.

Grammar (loosest first; a run of one level, like ``a - b + c``, reads left to right)::

    expression  := or
    or          := and ('or' and)*
    and         := not ('and' not)*
    not         := 'not' not | comparison
    comparison  := sum (('==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | 'not in') sum)*
    sum         := product (('+' | '-') product)*
    product     := unary (('*' | '/' | '%') unary)*
    unary       := '-' unary | value
    value       := number | duration | text | true | false | null | name
                 | function '(' [expression (',' expression)*] ')'
                 | '(' expression ')' | '[' [expression (',' expression)* [',']] ']'
    number      := 42 | 50_000 | 1.25          (no exponents: 1e5 is refused)
    duration    := 15d | 24h | 30m | 2w | 10s  (calendar time; working days only in deadlines)
    text        := 'single' | "double"         (escapes \n \t \r \\ \' \")
    name        := a case field | event.data.<input> | now | today | actor | role | roles
    function    := startswith | endswith | contains | len | lower | upper

Names. A case field reads its current value (missing: null). ``event.data.<input>`` is the
value the event brings for one of its declared inputs (a transition's ``when`` and actions
only). ``now`` is the time of the step, given to the engine by the workflow
(``workflow.now()``), never read from a clock; ``today`` is its date in the process's time
zone. ``actor`` is who sends the event, ``role`` the role they act in for it and ``roles``
every role they hold (transitions only; a timeout or a deadline acts as ``system``).

Types, checked when the definition loads (a mistake is a ``check`` error with its line):
integer and number (``+ - * / %``; ``/`` gives a number; decimal amounts add as written,
0.1 + 0.2 is 0.3), text (``+`` joins), boolean, date and datetime (fields hold ISO text;
``opened_at + 15d`` is a datetime, ``now - opened_at`` a duration), duration (``+ -``, ordered),
list. ``==`` and ``!=`` need comparable sides, ordering needs two numbers, two texts, two
durations, two dates or two date-times (ISO text compares with a date: ``due < '2026-01-01'``).
``in`` looks into a list or into text. Functions: ``startswith(text, prefix)``,
``endswith(text, suffix)``, ``contains(text_or_list, item)``, ``len(text_or_list)``,
``lower(text)``, ``upper(text)``.

A ``set`` value is taken as written when it fits its field; for a field that does not hold
text, other text is an expression (``reopen_count: reopen_count + 1``); for a text or enum
field write the expression after ``=`` (``handled_by: "= actor"``).

Not in the language: attribute access or indexing, calls of anything but the functions above,
``**``, assignments. Evaluation is bounded: at most ``MAX_LENGTH`` characters and
``MAX_DEPTH`` levels of nesting, ``MAX_PRODUCT`` multiplications, and results past
``MAX_INT_BITS`` bits or ``MAX_TEXT`` characters read as null.

Evaluation never raises. A guard that crashed would fail the workflow task again on every
retry, while a guard that is merely false leaves the case where it is, visibly; so every
operation on a value of the wrong kind (or on a missing field, which reads as None) gives
None or False instead of an exception.

Comparisons chain as in Python: ``1 <= csat <= 5`` means ``1 <= csat and csat <= 5``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .expression_eval import MAX_INT_BITS, MAX_TEXT, evaluate, truthy
from .expression_nodes import (
    BUILTINS,
    EMPTY_CONTEXT,
    EVENT_DATA,
    FUNCTIONS,
    Call,
    Context,
    ListNode,
    Name,
    Node,
    Run,
    Unary,
)
from .expression_nodes import Literal as LiteralNode
from .expression_tokens import CONSTANTS, KEYWORDS, ExpressionError, Token, tokenize

__all__ = [
    "MAX_DEPTH",
    "MAX_INT_BITS",
    "MAX_LENGTH",
    "MAX_PRODUCT",
    "MAX_TEXT",
    "Context",
    "Expression",
    "ExpressionError",
    "parse",
]

MAX_LENGTH = 2000
MAX_DEPTH = 50
"""Parentheses, list brackets, ``not`` and unary ``-`` nested inside each other; this keeps
the parser's and the evaluator's recursion well within Python's limit."""
MAX_PRODUCT = 8
"""Multiplications in one condition: each may double the size of a number (a product of 30
large amounts took seconds), and no business rule multiplies more than a few fields."""


# --- parser -------------------------------------------------------------------------------

_LOOSEST, _NOT, _COMPARISON, _UNARY = 1, 3, 4, 7
_PRECEDENCE = {"or": 1, "and": 2, "+": 5, "-": 5, "*": 6, "/": 6, "%": 6}
_PRECEDENCE |= dict.fromkeys(("==", "!=", "<", "<=", ">", ">=", "in", "not in"), _COMPARISON)


class _Parser:
    """Precedence climbing over the tokens; collects the names it meets on the way."""

    def __init__(self, tokens: list[Token]) -> None:
        self._tokens, self._index, self._depth = tokens, 0, 0
        self.names: set[str] = set()
        """Case fields read; the built-in names and the event's inputs are kept apart."""
        self.builtins: set[str] = set()
        self.inputs: set[str] = set()
        self._products = 0

    def parse(self) -> Node:
        node = self._expression(_LOOSEST)
        token = self._tokens[self._index]
        if token.kind == "end":
            return node
        if token.text in (")", "]"):
            opening = "(" if token.text == ")" else "["
            message = f"unexpected '{token.text}' without a matching '{opening}'"
            raise ExpressionError(message, token.column)
        raise self._unexpected(token, "an operator")

    def _expression(self, min_precedence: int) -> Node:
        left = self._operand(min_precedence)
        op = self._binary_operator()
        while op is not None and _PRECEDENCE[op] >= min_precedence:
            level, ops, operands, columns = _PRECEDENCE[op], [], [left], []
            while op is not None and _PRECEDENCE[op] == level:
                if op == "*":
                    self._count_product(self._tokens[self._index])
                columns.append(self._tokens[self._index].column)
                self._index += 2 if op == "not in" else 1
                ops.append(op)
                operands.append(self._expression(level + 1))
                op = self._binary_operator()
            left = Run(tuple(ops), tuple(operands), tuple(columns))
        return left

    def _count_product(self, token: Token) -> None:
        self._products += 1
        if self._products > MAX_PRODUCT:
            message = f"more than {MAX_PRODUCT} multiplications in one condition; split it up"
            raise ExpressionError(message, token.column)

    def _binary_operator(self) -> str | None:
        token = self._tokens[self._index]
        if token.text == "not":
            following = self._tokens[self._index + 1]
            if following.text != "in":
                raise self._unexpected(following, "'in' after 'not'")
            return "not in"
        return token.text if token.kind == "op" and token.text in _PRECEDENCE else None

    def _operand(self, min_precedence: int) -> Node:
        token = self._tokens[self._index]
        self._index += 1  # past the end too: an end token is never a value, so this raises
        node: Node
        if token.kind in ("number", "duration", "string", "constant"):
            node = LiteralNode(token.value)
        elif token.kind == "name" and self._tokens[self._index].text == "(":
            node = self._call(token)
        elif token.kind == "name":
            self._collect(token.text)
            node = Name(token.text, token.column)
        elif token.text == "not":
            if min_precedence > _NOT:  # 'a == not b': Python refuses it too
                before = self._tokens[self._index - 2].text
                message = f"'not' cannot follow '{before}'; put 'not ...' in parentheses"
                raise ExpressionError(message, token.column)
            return Unary("not", self._nested(token, _NOT))
        elif token.text == "-":
            return Unary("-", self._nested(token, _UNARY), token.column)
        elif token.text == "(":
            node = self._nested(token, _LOOSEST)
            self._expect(")", f"')' to close '(' at column {token.column}")
        elif token.text == "[":
            node = ListNode(self._list(token))
        else:
            after = f" after {_describe(self._tokens[self._index - 2])}" if self._index > 1 else ""
            raise self._unexpected(token, "a value" + after)
        # Calls and indexing would let a condition reach beyond the case's own fields.
        following = self._tokens[self._index]
        if following.text == "(":
            message = f"only a function can be called ({', '.join(FUNCTIONS)})"
            raise ExpressionError(message, following.column)
        if following.text == "[":
            raise ExpressionError("indexing with '[...]' is not supported", following.column)
        return node

    def _collect(self, name: str) -> None:
        if name in BUILTINS:
            self.builtins.add(name)
        elif name.startswith(EVENT_DATA):
            self.inputs.add(name.removeprefix(EVENT_DATA))
        else:
            self.names.add(name)

    def _call(self, name: Token) -> Node:
        if name.text in BUILTINS:
            message = f"'{name.text}' is not a function: write {name.text}, without '()'"
            raise ExpressionError(message, name.column)
        if name.text not in FUNCTIONS:
            known = ", ".join(FUNCTIONS)
            message = f"unknown function '{name.text}'; the functions are {known}"
            raise ExpressionError(message, name.column)
        opening = self._tokens[self._index]
        self._index += 1
        args: list[Node] = []
        self._enter(opening)
        while self._tokens[self._index].text != ")":
            args.append(self._expression(_LOOSEST))
            if self._tokens[self._index].text != ",":
                break
            self._index += 1
        self._depth -= 1
        self._expect(")", f"',' or ')' to close '(' at column {opening.column}")
        wanted = len(FUNCTIONS[name.text][0])
        if len(args) != wanted:
            plural = "" if wanted == 1 else "s"
            message = f"{name.text}() takes {wanted} argument{plural}, got {len(args)}"
            raise ExpressionError(message, name.column)
        return Call(name.text, tuple(args), name.column)

    def _list(self, opening: Token) -> tuple[Node, ...]:
        items: list[Node] = []
        self._enter(opening)
        while self._tokens[self._index].text != "]":
            items.append(self._expression(_LOOSEST))
            if self._tokens[self._index].text != ",":
                break
            self._index += 1
        self._depth -= 1
        self._expect("]", f"',' or ']' to close '[' at column {opening.column}")
        return tuple(items)

    def _nested(self, opening: Token, min_precedence: int) -> Node:
        self._enter(opening)
        node = self._expression(min_precedence)
        self._depth -= 1
        return node

    def _enter(self, opening: Token) -> None:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            message = f"expression is nested too deeply (the limit is {MAX_DEPTH} levels)"
            raise ExpressionError(message, opening.column)

    def _expect(self, text: str, expected: str) -> None:
        token = self._tokens[self._index]
        if token.text != text:
            raise self._unexpected(token, expected)
        self._index += 1

    @staticmethod
    def _unexpected(token: Token, expected: str) -> ExpressionError:
        if token.kind == "end":
            message = f"unexpected end of expression, expected {expected}"
            return ExpressionError(message, token.column)
        lower = token.text.lower()
        if token.kind == "name" and lower in KEYWORDS | CONSTANTS.keys():
            hint = f"; write '{lower}' in lower case"
        elif token.kind == "name" and lower == "is":
            hint = "; use '==' or '!='"
        else:
            hint = f", expected {expected}"
        return ExpressionError(f"unexpected {_describe(token)}{hint}", token.column)


def _describe(token: Token) -> str:
    if token.kind == "name":
        return f"name '{token.text}'"
    if token.kind == "number":
        return f"number {token.text}"
    if token.kind == "string":
        return f"text {token.text}"  # as written, quotes included
    return f"'{token.text}'"


# --- public API ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Expression:
    """A parsed condition. Build it with :func:`parse`."""

    source: str
    names: frozenset[str]
    """Every field name the condition reads, so a loader can report unknown fields."""
    _root: Node = field(repr=False, compare=False)
    builtins: frozenset[str] = frozenset()
    """The built-in names it reads (``now``, ``actor``...): not every place knows them all."""
    inputs: frozenset[str] = frozenset()
    """The event inputs it reads (``event.data.<name>``)."""

    @property
    def root(self) -> Node:
        """The syntax tree, for the type check."""
        return self._root

    def evaluate(self, values: Mapping[str, Any], context: Context = EMPTY_CONTEXT) -> Any:
        """The value of the condition; missing names read as None. Never raises."""
        return evaluate(self._root, values, context)

    def test(self, values: Mapping[str, Any], context: Context = EMPTY_CONTEXT) -> bool:
        """Whether the condition holds for ``values``. Never raises."""
        return truthy(evaluate(self._root, values, context))


def parse(source: str) -> Expression:
    """Parse a condition; raise :class:`ExpressionError` if it is not well formed."""
    if len(source) > MAX_LENGTH:
        message = f"expression is too long ({len(source)} characters; the limit is {MAX_LENGTH})"
        raise ExpressionError(message, MAX_LENGTH + 1)
    tokens = tokenize(source)
    if tokens[0].kind == "end":
        raise ExpressionError("empty expression", 1)
    parser = _Parser(tokens)
    root = parser.parse()
    builtins, inputs = frozenset(parser.builtins), frozenset(parser.inputs)
    return Expression(source, frozenset(parser.names), root, builtins, inputs)
