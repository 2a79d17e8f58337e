"""Evaluating a parsed expression. Never raises: see ``expressions`` for why.

Every operation on values of the wrong kind (or on a missing field, which reads as None) gives
None or False. Results are bounded, so that the next operation stays cheap whatever a case
carries: whole numbers to ``MAX_INT_BITS``, text made by ``+`` to ``MAX_TEXT``, dates to the
years Python can hold.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from operator import add, ge, gt, le, lt, mod, mul, sub, truediv
from typing import Any

from .expression_nodes import (
    BUILTINS,
    EVENT_DATA,
    Call,
    Context,
    ListNode,
    Literal,
    Name,
    Node,
    Run,
    Unary,
)

__all__ = ["MAX_INT_BITS", "MAX_TEXT", "evaluate", "truthy"]

MAX_INT_BITS = 4096
"""A whole number larger than this (about 1,200 digits) reads as None in arithmetic."""
MAX_TEXT = 100_000
"""Text longer than this, made by '+', reads as None."""
_FLOAT_BITS = 1024  # past this a whole number has no float, so mixed arithmetic gives None

# A private context: the module-level decimal context is shared, mutable state.
_DECIMAL = decimal.Context(prec=28, traps=[decimal.Overflow, decimal.InvalidOperation])


def evaluate(node: Node, values: Mapping[str, Any], context: Context) -> Any:
    match node:
        case Literal(value):
            return value
        case Name(name):
            if name in BUILTINS:
                return context.builtin(name)
            if name.startswith(EVENT_DATA):
                return context.event_data.get(name.removeprefix(EVENT_DATA))
            return values.get(name)
        case ListNode(items):
            # A list, not a tuple: a list field must compare equal to a list literal.
            return [evaluate(item, values, context) for item in items]
        case Unary("not", operand):
            return not truthy(evaluate(operand, values, context))
        case Unary(_, operand):
            return _negative(evaluate(operand, values, context))
        case Call(function, args):
            return _call(function, [evaluate(arg, values, context) for arg in args])
        case Run(("or", *_), operands):
            return any(truthy(evaluate(operand, values, context)) for operand in operands)
        case Run(("and", *_), operands):
            return all(truthy(evaluate(operand, values, context)) for operand in operands)
        case Run(ops, operands) if ops[0] in _ARITHMETIC:
            result = evaluate(operands[0], values, context)
            for op, operand in zip(ops, operands[1:], strict=True):
                result = _arithmetic(op, result, evaluate(operand, values, context), context)
            return result
        case Run(ops, operands):  # comparisons, chained as in Python
            left = evaluate(operands[0], values, context)
            for op, operand in zip(ops, operands[1:], strict=True):
                right = evaluate(operand, values, context)
                if not _compare(op, left, right, context):
                    return False
                left = right
            return True


_ORDERING = {"<": lt, "<=": le, ">": gt, ">=": ge}
_ARITHMETIC = {"+": add, "-": sub, "*": mul, "/": truediv, "%": mod}


def _is_number(value: Any) -> bool:
    # bool is an int subclass, but 'approved + 1' is a designer's mistake, not arithmetic.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _negative(value: Any) -> Any:
    if _is_number(value):
        return -value
    if isinstance(value, timedelta):
        try:
            return -value
        except OverflowError:  # the largest spans have no negative
            return None
    return None


def truthy(value: Any) -> bool:
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


def _moment(value: Any, context: Context) -> date | datetime | None:
    """A date or an aware date-time; ISO text (how case fields store them) is read as one."""
    if isinstance(value, str) and 10 <= len(value) <= 40:
        try:
            value = datetime.fromisoformat(value) if len(value) > 10 else date.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=context.zone)
    return value if isinstance(value, date) else None


def _same_kind_moments(left: Any, right: Any, context: Context) -> tuple[Any, Any] | None:
    """Both sides as moments of one kind, when either is one already (the other may be text)."""
    if not any(isinstance(side, date) for side in (left, right)):
        return None
    left, right = _moment(left, context), _moment(right, context)
    if left is None or right is None or isinstance(left, datetime) != isinstance(right, datetime):
        return None
    return left, right


def _compare(op: str, left: Any, right: Any, context: Context) -> bool:
    if (moments := _same_kind_moments(left, right, context)) is not None:
        left, right = moments
    if op == "==":
        return _equal(left, right)
    if op == "!=":
        return not _equal(left, right)
    if op == "in":
        return _contains(right, left)
    if op == "not in":
        return not _contains(right, left)
    # Text orders too, which makes ISO dates comparable: due_date < '2026-01-01'.
    comparable = (_is_number(left) and _is_number(right)) or any(
        isinstance(left, kind) and isinstance(right, kind) for kind in (str, timedelta, date)
    )
    try:
        return comparable and bool(_ORDERING[op](left, right))
    except TypeError:  # an aware against a naive date-time from a foreign value
        return False


def _arithmetic(op: str, left: Any, right: Any, context: Context) -> Any:
    if op == "+" and isinstance(left, str) and isinstance(right, str):
        return left + right if len(left) + len(right) <= MAX_TEXT else None
    if op in ("+", "-") and (isinstance(left, timedelta) or isinstance(right, timedelta)):
        return _time_arithmetic(op, left, right, context)
    if op == "-" and (moments := _same_kind_moments(left, right, context)) is not None:
        try:
            return moments[0] - moments[1]
        except (TypeError, OverflowError):
            return None
    if not (_is_number(left) and _is_number(right)) or (op in ("/", "%") and right == 0):
        return None
    try:
        if isinstance(left, int) and isinstance(right, int) and op != "/":
            result = _ARITHMETIC[op](left, right)
            # Bounded so that the next operator stays cheap, whatever values a case carries.
            return result if result.bit_length() <= MAX_INT_BITS else None
        return _decimal_arithmetic(op, left, right)
    except ArithmeticError:
        return None


def _decimal_arithmetic(op: str, left: int | float, right: int | float) -> float | None:
    """Amounts add as they are written (0.1 + 0.2 is 0.3), then are stored as numbers."""
    if op == "%":
        return float(left % right) if math.isfinite(left % right) else None
    operands = []
    for side in (left, right):
        if isinstance(side, int) and side.bit_length() > _FLOAT_BITS:
            return None
        if isinstance(side, float) and not math.isfinite(side):
            return None
        operands.append(decimal.Decimal(repr(side)) if isinstance(side, float) else side)
    function = {"+": _DECIMAL.add, "-": _DECIMAL.subtract, "*": _DECIMAL.multiply}
    exact = function.get(op, _DECIMAL.divide)(decimal.Decimal(operands[0]), operands[1])
    result = float(exact)
    return result if math.isfinite(result) else None


def _time_arithmetic(op: str, left: Any, right: Any, context: Context) -> Any:
    if isinstance(left, timedelta) and isinstance(right, timedelta):
        try:
            return left + right if op == "+" else left - right
        except OverflowError:  # past a billion days
            return None
    if isinstance(right, timedelta):
        moment, span = _moment(left, context), right
    elif op == "+":  # 15d + opened_at; '15d - opened_at' means nothing
        moment, span = _moment(right, context), left
    else:
        return None
    if moment is None:
        return None
    try:
        return moment + span if op == "+" else moment - span
    except OverflowError:  # past the year 9999
        return None


def _call(function: str, args: list[Any]) -> Any:
    if function == "len":
        (value,) = args
        return len(value) if isinstance(value, str | list) else None
    if function in ("lower", "upper"):
        (text,) = args
        if not isinstance(text, str) or len(text) > MAX_TEXT:  # a copy as long as the text
            return None
        return text.lower() if function == "lower" else text.upper()
    container, item = args
    if function == "contains":
        return _contains(container, item) if isinstance(container, str | list) else False
    if not (isinstance(container, str) and isinstance(item, str)):
        return False
    return container.startswith(item) if function == "startswith" else container.endswith(item)
