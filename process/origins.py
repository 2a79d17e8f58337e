"""Clocks that count from a date field (``start: {field: received_at}``) rather than a moment.

A letter received on 20 November and entered on 1 December is due counted from 20 November.
The field's value is ISO text (``fields.py``): a date counts from 00:00 of that day in the
clock's zone, a datetime without a zone is read in that zone. While the field is empty the
clock counts from the moment it started, and its due time says it is provisional until the
field is set; an event that sets the field later moves the due time (a recorded note).
"""

from __future__ import annotations

from datetime import date, datetime, time, tzinfo
from typing import Any


def origin_of(value: Any, zone: tzinfo) -> datetime | None:
    """The instant a date or datetime field's value names, or None if it is empty."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None  # the field's type refuses such values before they reach a case
    if len(text) == len("2026-11-20"):
        moment = datetime.combine(date.fromisoformat(text), time(), tzinfo=zone)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def empty_reason(field: str, moment: str) -> str:
    """Why a clock whose field is empty has only a provisional due time."""
    return f"{field} is empty: counted from {moment}, when the clock started, until it is set"
