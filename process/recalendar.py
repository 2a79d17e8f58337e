"""New calendar data for a running case: the update it receives and what it says.

Calendar data changes (next year's holidays are published each autumn), so it enters a running
case as a recorded Temporal update carrying the calendar and its content hash: replay sees the
same calendar at the same point, and the case keeps it across continue-as-new. The update is a
pydantic model so that it can later name the calendar by hash alone, once definitions are kept
in a registry.
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel

from .calendars import CalendarSpec
from .refusals import Refusal, RefusalKind

UNCHANGED = "already in use, unchanged"
"""How a case refuses the calendar it has: publishing twice is harmless."""


def calendar_hash(calendar: CalendarSpec) -> str:
    """sha256 of a calendar's content: equal hashes, equal due times."""
    return hashlib.sha256(calendar.model_dump_json().encode("utf-8")).hexdigest()


class CalendarUpdate(BaseModel):
    """Publish a calendar's new content to a case that counts on it."""

    calendar: CalendarSpec
    content_hash: str
    """``calendar_hash(calendar)``: checked, so a garbled calendar is refused, not used."""
    actor: str = "system"

    @classmethod
    def of(cls, calendar: CalendarSpec, actor: str = "system") -> CalendarUpdate:
        return cls(calendar=calendar, content_hash=calendar_hash(calendar), actor=actor)


def change_reason(old: CalendarSpec, new: CalendarSpec) -> str:
    """``calendar cn-workdays updated: 2027 added`` — what people read beside a moved due time."""
    was, now = old.covers.last, new.covers.last
    whole_years = (was.month, was.day) == (now.month, now.day) == (12, 31)
    if now > was and whole_years:
        first, last = was.year + 1, now.year
        what = f"{first} added" if first == last else f"{first}-{last} added"
    elif now != was:
        what = f"dates to {now} (was to {was})"
    else:
        what = "dates changed"
    return f"calendar {new.calendar} updated: {what}"


def update_problem(
    update: CalendarUpdate, calendars: dict[str, CalendarSpec], case_id: str, closed: bool
) -> Refusal | None:
    """Why a case does not take this calendar update, or None."""
    name = update.calendar.calendar
    where = f"calendar {name!r} for case {case_id}"
    if update.content_hash != calendar_hash(update.calendar):
        return Refusal(kind=RefusalKind.INVALID, message=f"{where}: content hash does not match")
    if closed:
        return Refusal(kind=RefusalKind.CONFLICT, message=f"{where}: the case is closed")
    current = calendars.get(name)
    if current is None:
        return Refusal(kind=RefusalKind.CONFLICT, message=f"{where}: no clock of it counts on it")
    if calendar_hash(current) == update.content_hash:
        return Refusal(kind=RefusalKind.CONFLICT, message=f"{where}: {UNCHANGED}")
    return None
