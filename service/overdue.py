"""The overdue cases, from the case database: open cases with a deadline clock past due.

Most overdue first, a page at a time: each page walks the index of running clocks' due times
(``ix_kesu_clock_running_due``, migration 0007) from where the last one ended (a keyset, not an
offset), so a page reads about ``page_size`` clocks however many cases there are. A case with
two clocks past due is listed once, at the one due first.

Only running clocks have a due time (a paused or stopped clock has none), so this lists what is
overdue now: breached and still running, or due and its breach not yet recorded. A case that
missed a deadline and was answered late is no longer overdue here; the compliance figures of
``starter.py report`` count it as missed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select, tuple_
from sqlalchemy.orm import Session

from activities.storage import CaseRow, ClockRow

from .listing import open_token, seal_token
from .refusals import KesuError

MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class OverdueCase:
    case_id: str
    case_number: str | None
    process: str
    stage: str
    clock: str
    """The clock due first of those past due."""
    due_at: datetime
    breached: bool
    """The worker has recorded the breach (False: past due, the breach not recorded yet)."""


@dataclass(frozen=True)
class OverdueCursor:
    """Where a page ended: the next starts after this clock."""

    due_at: datetime
    case_id: str
    clock: str

    def encode(self) -> bytes:
        moment = self.due_at.isoformat()
        return json.dumps([moment, self.case_id, self.clock], ensure_ascii=False).encode("utf-8")

    @classmethod
    def decode(cls, token: bytes) -> OverdueCursor:
        try:
            moment, case_id, clock = json.loads(token.decode("utf-8"))
            return cls(datetime.fromisoformat(moment), str(case_id), str(clock))
        except (ValueError, TypeError) as error:
            raise KesuError(f"the page token is not one this listing gave ({error})") from None


@dataclass(frozen=True)
class OverduePage:
    cases: list[OverdueCase]
    next_page: OverdueCursor | None
    """None on the last page."""


def overdue_page(
    session: Session,
    now: datetime,
    *,
    process: str | None = None,
    page_size: int = 50,
    after: OverdueCursor | None = None,
) -> OverduePage:
    """Up to ``page_size`` open cases past a deadline at ``now``, most overdue first."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise KesuError(f"page_size must be from 1 to {MAX_PAGE_SIZE}")
    clocks, cases = ClockRow.__table__, CaseRow.__table__
    earlier = clocks.alias("earlier")
    due_first = ~exists().where(  # no other clock of the case past due before this one
        earlier.c.case_id == clocks.c.case_id,
        earlier.c.due_at < now,
        or_(
            earlier.c.due_at < clocks.c.due_at,
            and_(earlier.c.due_at == clocks.c.due_at, earlier.c.name < clocks.c.name),
        ),
    )
    key = (clocks.c.due_at, clocks.c.case_id, clocks.c.name)
    case_open: list[ColumnElement[bool]] = [cases.c.closed_at.is_(None)]
    if process is not None:
        case_open.append(cases.c.process == process)
    shown = (cases.c.case_number, cases.c.process, cases.c.stage)
    if session.get_bind().dialect.name == "postgresql":
        # A nested loop from the clock index into the cases' key, stopping after the page.
        listed = select(clocks.c.case_id, *shown).join(cases, cases.c.case_id == clocks.c.case_id)
        listed = listed.where(*case_open)
    else:
        # SQLite would start a join from the open cases (their closed_at index) and sort
        # them all: the case's conditions as a correlated EXISTS and its columns looked up
        # per listed row keep it on the clock index.
        def of_case(column: Any) -> Any:
            return select(column).where(cases.c.case_id == clocks.c.case_id).scalar_subquery()

        listed = select(clocks.c.case_id, *(of_case(column) for column in shown))
        listed = listed.where(exists().where(cases.c.case_id == clocks.c.case_id, *case_open))
    query = (
        listed.add_columns(
            clocks.c.name, clocks.c.due_at, clocks.c.breached_at.is_not(None).label("breached")
        )
        .where(clocks.c.due_at.is_not(None), clocks.c.due_at < now, due_first)
        .order_by(*key)
        .limit(page_size + 1)  # one more: is there a next page?
    )
    if after is not None:
        query = query.where(tuple_(*key) > tuple_(after.due_at, after.case_id, after.clock))
    rows = session.execute(query).all()
    found = [OverdueCase(*row) for row in rows[:page_size]]
    last = found[-1] if len(rows) > page_size else None
    cursor = OverdueCursor(last.due_at, last.case_id, last.clock) if last else None
    return OverduePage(found, cursor)


def overdue_listing(
    session: Session,
    now: datetime,
    *,
    process: str | None = None,
    page_size: int = 50,
    page_token: bytes | None = None,
) -> tuple[list[OverdueCase], bytes | None]:
    """``overdue_page`` with opaque page tokens, each sealed to the filters it was given for
    (``service.listing.seal_token``): a token from another listing is refused."""
    filters = repr(("overdue", process))
    after = OverdueCursor.decode(open_token(filters, page_token)) if page_token else None
    page = overdue_page(session, now, process=process, page_size=page_size, after=after)
    token = page.next_page.encode() if page.next_page is not None else None
    return page.cases, seal_token(filters, token)
