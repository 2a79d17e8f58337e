"""The tokens of kesu's expression language (the grammar is in ``expressions``)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from .expression_nodes import EVENT_DATA

__all__ = ["CONSTANTS", "KEYWORDS", "MAX_DURATION", "ExpressionError", "Token", "tokenize"]

MAX_DURATION = timedelta(days=3653)
"""Ten years, as in a definition's durations."""


class ExpressionError(ValueError):
    """A condition that does not parse; ``column`` is 1-based, counted in characters."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(message, column)  # both in args, so the error pickles and copies
        self.message = message
        self.column = column

    def __str__(self) -> str:
        return f"column {self.column}: {self.message}"


_OPERATORS = {"==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "%", "(", ")", "[", "]", ","}
KEYWORDS = {"and", "or", "not", "in"}
CONSTANTS: dict[str, Any] = {"true": True, "false": False, "null": None}
CONSTANTS |= {"True": True, "False": False, "None": None}
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
    "**": "'**' is not supported: there are no powers",
    "//": "'//' is not supported; use '/'",
}
# Curly quotes come from word processors and Chinese input methods; NFKC does not map them.
_LOOKALIKES = {"‘": "'", "’": "'", "“": '"', "”": '"'}
_NUMBER_RUN = re.compile(r"[0-9][\w.]*")  # read '1e5' or '5万' whole, to reject it whole
_NUMBER = re.compile(r"[0-9]+(?:_[0-9]+)*(?:\.[0-9]+(?:_[0-9]+)*)?")
_DURATION = re.compile(r"([0-9]+(?:_[0-9]+)*)(w|d|h|m|s)")
_DURATION_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
_CALENDAR_UNIT = re.compile(r"[0-9.]+(wd|mo)")
_EVENT_INPUT = re.compile(r"\.data\.([^\W\d]\w*)")


Kind = Literal["number", "duration", "string", "constant", "name", "op", "end"]


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    text: str
    column: int
    value: Any = None


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(source):
        ch, column = source[i], i + 1
        if ch.isspace():
            i += 1
        elif ch in "'\"":
            value, end = _read_string(source, i)
            tokens.append(Token("string", source[i:end], column, value))
            i = end
        elif number_run := _NUMBER_RUN.match(source, i):
            text = number_run.group()
            if duration := _DURATION.fullmatch(text):
                tokens.append(Token("duration", text, column, _duration(duration, column)))
            elif _NUMBER.fullmatch(text):
                number = float(text) if "." in text else int(text)
                tokens.append(Token("number", text, column, number))
            else:
                raise ExpressionError(_bad_number(text), column)
            i += len(text)
        elif ch.isidentifier():
            end = i + 1
            while end < len(source) and ("_" + source[end]).isidentifier():
                end += 1
            word = source[i:end]
            if word == "event" and source[end : end + 1] == ".":
                tokens.append(_event_input(source, end, column))
                i = _EVENT_INPUT.match(source, end).end()  # type: ignore[union-attr]
                continue
            kind: Kind = "op" if word in KEYWORDS else "constant" if word in CONSTANTS else "name"
            tokens.append(Token(kind, word, column, CONSTANTS.get(word)))
            i = end
        else:
            for text in (source[i : i + 2], ch):
                if text in _OPERATORS:
                    tokens.append(Token("op", text, column))
                    i += len(text)
                    break
                if text in _MISTAKES:
                    raise ExpressionError(_MISTAKES[text], column)
            else:
                raise ExpressionError(_unknown_character(source, i), column)
    tokens.append(Token("end", "", len(source.rstrip()) + 1))
    return tokens


def _duration(match: re.Match[str], column: int) -> timedelta:
    count, unit = int(match.group(1)), match.group(2)
    # Refused below, without building a timedelta too large for Python.
    count = min(count, int(MAX_DURATION.total_seconds()) + 1)
    span = timedelta(**{_DURATION_UNITS[unit]: count})
    if span > MAX_DURATION:
        message = f"duration '{match.group()}' is longer than {MAX_DURATION.days}d (10 years)"
        raise ExpressionError(message, column)
    return span


def _bad_number(text: str) -> str:
    if unit := _CALENDAR_UNIT.fullmatch(text):
        kind = "working days (wd)" if unit.group(1) == "wd" else "months (mo)"
        return f"{kind} need a calendar: they count in deadlines, not in expressions"
    if re.fullmatch(r"[0-9.]+[wdhms]", text):
        return f"invalid duration '{text}': a duration counts whole units, e.g. 90m"
    return f"invalid number '{text}'"


def _event_input(source: str, dot: int, column: int) -> Token:
    found = _EVENT_INPUT.match(source, dot)
    if found is None:
        message = "'event' is followed by '.data.<input>', e.g. event.data.csat"
        raise ExpressionError(message, dot + 1)
    return Token("name", f"{EVENT_DATA}{found.group(1)}", column)


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
        return (
            "'.' is not supported; field names are flat, without dots "
            "(an event's inputs read event.data.<name>)"
        )
    # Full-width punctuation typed with a Chinese input method: （ ） ＝ ， and the like.
    plain = _LOOKALIKES.get(ch) or unicodedata.normalize("NFKC", ch)
    if plain != ch and plain.isascii():
        return f"unknown character {ch!r}; did you mean {plain!r}?"
    return f"unknown character {ch!r}"
