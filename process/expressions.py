"""Guard conditions: a small, safe expression language for process definitions.

Designers write conditions such as ``severity == 'urgent' or amount > 50000`` in YAML. They
are parsed once, when a definition loads, and evaluated inside Temporal workflow code, so this
module is pure and deterministic: no eval, no I/O, no shared mutable state.

Evaluation never raises. A guard that crashed would fail the workflow task again on every
retry, while a guard that is merely false leaves the case where it is, visibly; so every
operation on a value of the wrong kind (or on a missing field, which reads as None) gives
None or False instead of an exception.

Comparisons chain as in Python: ``1 <= csat <= 5`` means ``1 <= csat and csat <= 5``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from operator import add, ge, gt, le, lt, mod, mul, sub, truediv
from typing import Any, Literal

__all__ = ["MAX_DEPTH", "MAX_LENGTH", "MAX_PRODUCT", "Expression", "ExpressionError", "parse"]

MAX_LENGTH = 2000
MAX_DEPTH = 50
"""Parentheses, list brackets, ``not`` and unary ``-`` nested inside each other; this keeps
the parser's and the evaluator's recursion well within Python's limit."""
MAX_PRODUCT = 8
"""Multiplications in one condition: each may double the size of a number (a product of 30
large amounts took seconds), and no business rule multiplies more than a few fields."""
MAX_INT_BITS = 4096
"""A whole number larger than this (about 1,200 digits) reads as None in arithmetic."""
MAX_TEXT = 100_000
"""Text longer than this, made by '+', reads as None."""


class ExpressionError(ValueError):
    """A condition that does not parse; ``column`` is 1-based, counted in characters."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(message, column)  # both in args, so the error pickles and copies
        self.message = message
        self.column = column

    def __str__(self) -> str:
        return f"column {self.column}: {self.message}"


# --- tokens -------------------------------------------------------------------------------

_OPERATORS = {"==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "%", "(", ")", "[", "]", ","}
_KEYWORDS = {"and", "or", "not", "in"}
_CONSTANTS: dict[str, Any] = {"true": True, "false": False, "null": None}
_CONSTANTS |= {"True": True, "False": False, "None": None}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"'}
# Habits from other languages, caught where they are typed rather than as a confusing
# "unexpected ..." one token later.
_MISTAKES = {
    "&&": "'&&' is not supported; use 'and'",
    "||": "'||' is not supported; use 'or'",
    "<>": "'<>' is not supported; use '!='",
    "=": "'=' is not an operator; did you mean '=='?",
    "!": "'!' is not supported; use 'not'",
    "&": "unknown character '&'; use 'and'",
    "|": "unknown character '|'; use 'or'",
}
# Curly quotes come from word processors and Chinese input methods; NFKC does not map them.
_LOOKALIKES = {"‘": "'", "’": "'", "“": '"', "”": '"'}
_NUMBER_RUN = re.compile(r"[0-9][\w.]*")  # read '1e5' or '5万' whole, to reject it whole
_NUMBER = re.compile(r"[0-9]+(?:_[0-9]+)*(?:\.[0-9]+(?:_[0-9]+)*)?")


_Kind = Literal["number", "string", "constant", "name", "op", "end"]


@dataclass(frozen=True, slots=True)
class _Token:
    kind: _Kind
    text: str
    column: int
    value: Any = None


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(source):
        ch, column = source[i], i + 1
        if ch.isspace():
            i += 1
        elif ch in "'\"":
            value, end = _read_string(source, i)
            tokens.append(_Token("string", source[i:end], column, value))
            i = end
        elif number_run := _NUMBER_RUN.match(source, i):
            text = number_run.group()
            if not _NUMBER.fullmatch(text):
                raise ExpressionError(f"invalid number '{text}'", column)
            number = float(text) if "." in text else int(text)
            tokens.append(_Token("number", text, column, number))
            i += len(text)
        elif ch.isidentifier():
            end = i + 1
            while end < len(source) and ("_" + source[end]).isidentifier():
                end += 1
            word = source[i:end]
            kind: _Kind = (
                "op" if word in _KEYWORDS else "constant" if word in _CONSTANTS else "name"
            )
            tokens.append(_Token(kind, word, column, _CONSTANTS.get(word)))
            i = end
        else:
            for text in (source[i : i + 2], ch):
                if text in _OPERATORS:
                    tokens.append(_Token("op", text, column))
                    i += len(text)
                    break
                if text in _MISTAKES:
                    raise ExpressionError(_MISTAKES[text], column)
            else:
                raise ExpressionError(_unknown_character(source, i), column)
    tokens.append(_Token("end", "", len(source.rstrip()) + 1))
    return tokens


def _read_string(source: str, start: int) -> tuple[str, int]:
    """The value of the string literal opening at ``start``, and the index just past it."""
    quote, parts, i = source[start], list[str](), start + 1
    while i < len(source):
        ch = source[i]
        if ch == quote:
            return "".join(parts), i + 1
        if ch == "\\" and i + 1 < len(source):
            escape = source[i + 1]
            if escape not in _ESCAPES:
                message = f"unknown escape '\\{escape}'; write '\\\\' for a backslash"
                raise ExpressionError(message, i + 1)
            ch, i = _ESCAPES[escape], i + 1
        parts.append(ch)
        i += 1
    raise ExpressionError(f"unterminated string starting at column {start + 1}", start + 1)


def _unknown_character(source: str, i: int) -> str:
    ch = source[i]
    if ch == ".":
        if source[i + 1 : i + 2].isdigit():
            return "a number needs a digit before '.', e.g. 0.5"
        return "'.' is not supported; field names are flat, without dots"
    # Full-width punctuation typed with a Chinese input method: （ ） ＝ ， and the like.
    plain = _LOOKALIKES.get(ch) or unicodedata.normalize("NFKC", ch)
    if plain != ch and plain.isascii():
        return f"unknown character {ch!r}; did you mean {plain!r}?"
    return f"unknown character {ch!r}"


# --- syntax tree and evaluation -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Literal:
    value: Any


@dataclass(frozen=True, slots=True)
class _Name:
    name: str


@dataclass(frozen=True, slots=True)
class _List:
    items: tuple[_Node, ...]


@dataclass(frozen=True, slots=True)
class _Unary:
    op: str  # 'not' or '-'
    operand: _Node


# A run of one precedence level ('a or b or c', 'a - b + c', 'a < b <= c') is one node whose
# evaluation loops: nested binary nodes would make evaluation recurse once per operand.
@dataclass(frozen=True, slots=True)
class _Run:
    ops: tuple[str, ...]
    operands: tuple[_Node, ...]


_Node = _Literal | _Name | _List | _Unary | _Run


def _evaluate(node: _Node, values: Mapping[str, Any]) -> Any:
    match node:
        case _Literal(value):
            return value
        case _Name(name):
            return values.get(name)
        case _List(items):
            # A list, not a tuple: a list field must compare equal to a list literal.
            return [_evaluate(item, values) for item in items]
        case _Unary("not", operand):
            return not _truthy(_evaluate(operand, values))
        case _Unary(_, operand):
            value = _evaluate(operand, values)
            return -value if _is_number(value) else None
        case _Run(("or", *_), operands):
            return any(_truthy(_evaluate(operand, values)) for operand in operands)
        case _Run(("and", *_), operands):
            return all(_truthy(_evaluate(operand, values)) for operand in operands)
        case _Run(ops, operands) if ops[0] in _ARITHMETIC:
            result = _evaluate(operands[0], values)
            for op, operand in zip(ops, operands[1:], strict=True):
                result = _arithmetic(op, result, _evaluate(operand, values))
            return result
        case _Run(ops, operands):  # comparisons, chained as in Python
            left = _evaluate(operands[0], values)
            for op, operand in zip(ops, operands[1:], strict=True):
                right = _evaluate(operand, values)
                if not _compare(op, left, right):
                    return False
                left = right
            return True


_ORDERING = {"<": lt, "<=": le, ">": gt, ">=": ge}
_ARITHMETIC = {"+": add, "-": sub, "*": mul, "/": truediv, "%": mod}


def _is_number(value: Any) -> bool:
    # bool is an int subclass, but 'approved + 1' is a designer's mistake, not arithmetic.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _truthy(value: Any) -> bool:
    try:
        return bool(value)
    except Exception:  # a foreign object whose truth is undefined; see the module docstring
        return False


def _equal(left: Any, right: Any) -> bool:
    try:
        return bool(left == right)
    except Exception:
        return False


def _contains(container: Any, item: Any) -> bool:
    if isinstance(container, str):
        return isinstance(item, str) and item in container
    if isinstance(container, list | tuple | set | frozenset | Mapping):
        try:
            return item in container
        except Exception:  # e.g. an unhashable item looked up in a set
            return False
    return False


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "==":
        return _equal(left, right)
    if op == "!=":
        return not _equal(left, right)
    if op == "in":
        return _contains(right, left)
    if op == "not in":
        return not _contains(right, left)
    # Text orders too, which makes ISO dates comparable: due_date < '2026-01-01'.
    both_numbers = _is_number(left) and _is_number(right)
    if both_numbers or (isinstance(left, str) and isinstance(right, str)):
        return bool(_ORDERING[op](left, right))
    return False


def _arithmetic(op: str, left: Any, right: Any) -> Any:
    if op == "+" and isinstance(left, str) and isinstance(right, str):
        return left + right if len(left) + len(right) <= MAX_TEXT else None
    if not (_is_number(left) and _is_number(right)) or (op in ("/", "%") and right == 0):
        return None
    try:
        result = _ARITHMETIC[op](left, right)
    except ArithmeticError:  # a huge int that does not fit a float, for one
        return None
    # Bounded so that the next operator stays cheap, whatever values a case carries.
    if isinstance(result, int) and result.bit_length() > MAX_INT_BITS:
        return None
    return result


# --- parser -------------------------------------------------------------------------------

_LOOSEST, _NOT, _COMPARISON, _UNARY = 1, 3, 4, 7
_PRECEDENCE = {"or": 1, "and": 2, "+": 5, "-": 5, "*": 6, "/": 6, "%": 6}
_PRECEDENCE |= dict.fromkeys(("==", "!=", "<", "<=", ">", ">=", "in", "not in"), _COMPARISON)


class _Parser:
    """Precedence climbing over the tokens; collects the names it meets on the way."""

    def __init__(self, tokens: list[_Token]) -> None:
        self._tokens, self._index, self._depth = tokens, 0, 0
        self.names: set[str] = set()
        self._products = 0

    def parse(self) -> _Node:
        node = self._expression(_LOOSEST)
        token = self._tokens[self._index]
        if token.kind == "end":
            return node
        if token.text in (")", "]"):
            opening = "(" if token.text == ")" else "["
            message = f"unexpected '{token.text}' without a matching '{opening}'"
            raise ExpressionError(message, token.column)
        raise self._unexpected(token, "an operator")

    def _expression(self, min_precedence: int) -> _Node:
        left = self._operand(min_precedence)
        op = self._binary_operator()
        while op is not None and _PRECEDENCE[op] >= min_precedence:
            level, ops, operands = _PRECEDENCE[op], [], [left]
            while op is not None and _PRECEDENCE[op] == level:
                if op == "*":
                    self._count_product(self._tokens[self._index])
                self._index += 2 if op == "not in" else 1
                ops.append(op)
                operands.append(self._expression(level + 1))
                op = self._binary_operator()
            left = _Run(tuple(ops), tuple(operands))
        return left

    def _count_product(self, token: _Token) -> None:
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

    def _operand(self, min_precedence: int) -> _Node:
        token = self._tokens[self._index]
        self._index += 1  # past the end too: an end token is never a value, so this raises
        node: _Node
        if token.kind in ("number", "string", "constant"):
            node = _Literal(token.value)
        elif token.kind == "name":
            self.names.add(token.text)
            node = _Name(token.text)
        elif token.text == "not":
            if min_precedence > _NOT:  # 'a == not b': Python refuses it too
                before = self._tokens[self._index - 2].text
                message = f"'not' cannot follow '{before}'; put 'not ...' in parentheses"
                raise ExpressionError(message, token.column)
            return _Unary("not", self._nested(token, _NOT))
        elif token.text == "-":
            return _Unary("-", self._nested(token, _UNARY))
        elif token.text == "(":
            node = self._nested(token, _LOOSEST)
            self._expect(")", f"')' to close '(' at column {token.column}")
        elif token.text == "[":
            node = _List(self._list(token))
        else:
            after = f" after {_describe(self._tokens[self._index - 2])}" if self._index > 1 else ""
            raise self._unexpected(token, "a value" + after)
        # Calls and indexing would let a condition reach beyond the case's own fields.
        following = self._tokens[self._index]
        if following.text == "(":
            raise ExpressionError("function calls are not supported", following.column)
        if following.text == "[":
            raise ExpressionError("indexing with '[...]' is not supported", following.column)
        return node

    def _list(self, opening: _Token) -> tuple[_Node, ...]:
        items: list[_Node] = []
        self._enter(opening)
        while self._tokens[self._index].text != "]":
            items.append(self._expression(_LOOSEST))
            if self._tokens[self._index].text != ",":
                break
            self._index += 1
        self._depth -= 1
        self._expect("]", f"',' or ']' to close '[' at column {opening.column}")
        return tuple(items)

    def _nested(self, opening: _Token, min_precedence: int) -> _Node:
        self._enter(opening)
        node = self._expression(min_precedence)
        self._depth -= 1
        return node

    def _enter(self, opening: _Token) -> None:
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
    def _unexpected(token: _Token, expected: str) -> ExpressionError:
        if token.kind == "end":
            message = f"unexpected end of expression, expected {expected}"
            return ExpressionError(message, token.column)
        lower = token.text.lower()
        if token.kind == "name" and lower in _KEYWORDS | _CONSTANTS.keys():
            hint = f"; write '{lower}' in lower case"
        elif token.kind == "name" and lower == "is":
            hint = "; use '==' or '!='"
        else:
            hint = f", expected {expected}"
        return ExpressionError(f"unexpected {_describe(token)}{hint}", token.column)


def _describe(token: _Token) -> str:
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
    _root: _Node = field(repr=False, compare=False)

    def evaluate(self, values: Mapping[str, Any]) -> Any:
        """The value of the condition; missing names read as None. Never raises."""
        return _evaluate(self._root, values)

    def test(self, values: Mapping[str, Any]) -> bool:
        """Whether the condition holds for ``values``. Never raises."""
        return _truthy(_evaluate(self._root, values))


def parse(source: str) -> Expression:
    """Parse a condition; raise :class:`ExpressionError` if it is not well formed."""
    if len(source) > MAX_LENGTH:
        message = f"expression is too long ({len(source)} characters; the limit is {MAX_LENGTH})"
        raise ExpressionError(message, MAX_LENGTH + 1)
    tokens = _tokenize(source)
    if tokens[0].kind == "end":
        raise ExpressionError("empty expression", 1)
    parser = _Parser(tokens)
    root = parser.parse()
    return Expression(source, frozenset(parser.names), root)
