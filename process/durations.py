"""Amounts of time as designers write them (``15m``, ``24h``, ``7d``, ``15wd``, ``2mo``):
parsed, bounded to ten years, and typed for the definition models and editors' schemas."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema

_DURATION_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(wd|mo|w|d|h|m|s)")
_DURATION_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
_UNITS_HELP = "a number and a unit s, m, h, d, w or wd (working days), e.g. 15m, 24h, 7d, 15wd"
_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
MAX_SPAN = timedelta(days=3653)
"""Ten years: the longest duration a definition may write. Longer ones are typing mistakes, and
a due time must stay a date (``within: 3000000d`` once crashed the case that started it)."""
MAX_WORKING_DAYS = 2610
"""Ten years of working days."""
MAX_MONTHS = 120
_MAX_SECONDS = MAX_SPAN.total_seconds()


@dataclass(frozen=True)
class Amount:
    """An amount of time as a designer writes it: a span plus whole working days."""

    span: timedelta
    working_days: int = 0
    months: int = 0
    """Calendar months (``mo``): only a legal clock counts them (to the corresponding day)."""
    units: frozenset[str] = frozenset()
    """The units written: a business clock refuses calendar days (d, w) as ambiguous."""


def shown(text: str, limit: int = 40) -> str:
    """``text`` quoted for a message, cut short: a mistake may be megabytes long."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def parse_amount(text: str) -> Amount:
    """``15m``, ``24h``, ``7d``, ``1d 12h``, ``15wd`` -> Amount; ValueError otherwise."""
    compact = text.strip().lower()
    position, span, working_days, months, units = 0, timedelta(), 0, 0, set()
    for match in _DURATION_PART.finditer(compact):
        if match.start() != position:
            break
        number, unit = match.group(1), match.group(2)
        units.add(unit)
        if unit in ("wd", "mo"):
            if "." in number:
                raise ValueError(f"bad duration {shown(text)}: {unit} counts whole days or months")
            if len(number) > 6:
                number = "9999999"  # refused just below, without converting a huge number
            if unit == "wd":
                working_days += int(number)
            else:
                months += int(number)
            if working_days > MAX_WORKING_DAYS or months > MAX_MONTHS:
                limit = f"{MAX_WORKING_DAYS}wd" if unit == "wd" else f"{MAX_MONTHS}mo"
                raise ValueError(f"bad duration {shown(text)}: at most {limit} (10 years)")
        else:
            if span.total_seconds() + float(number) * _UNIT_SECONDS[unit] > _MAX_SECONDS:
                raise ValueError(f"bad duration {shown(text)}: at most {MAX_SPAN.days}d (10 years)")
            span += timedelta(**{_DURATION_UNITS[unit]: float(number)})
        position = match.end()
    if not compact or position != len(compact):
        raise ValueError(f"bad duration {shown(text)}: write {_UNITS_HELP}")
    if span <= timedelta() and not working_days and not months:
        raise ValueError(f"bad duration {shown(text)}: must be longer than zero")
    return Amount(span=span, working_days=working_days, months=months, units=frozenset(units))


def parse_duration(text: str) -> timedelta:
    """A duration in plain calendar time (stage timeouts, calendar clocks)."""
    amount = parse_amount(text)
    if amount.working_days:
        raise ValueError(f"{shown(text)}: working days (wd) count only on a business clock")
    if amount.months:
        raise ValueError(f"{shown(text)}: months (mo) count only on a legal clock")
    return amount.span


def _duration_text(value: Any) -> Any:
    """Durations stay text in the model (what the designer wrote) but must parse."""
    if isinstance(value, str):
        parse_duration(value)
    return value


def _amount_text(value: Any) -> Any:
    if isinstance(value, str):
        parse_amount(value)
    return value


# The same grammar as _DURATION_PART, for editors (JSON Schema patterns have no flags).
_DURATION_SCHEMA = {"pattern": r"^\s*(\d+(\.\d+)?\s*([wW][dD]|[wWdDhHmMsS])\s*)+$"}
Duration = Annotated[
    str, BeforeValidator(_duration_text), WithJsonSchema({"type": "string", **_DURATION_SCHEMA})
]
TimeAmount = Annotated[
    str, BeforeValidator(_amount_text), WithJsonSchema({"type": "string", **_DURATION_SCHEMA})
]
"""A duration that may count working days; which clock measures it is checked in checks.py."""
