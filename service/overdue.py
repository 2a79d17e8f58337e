"""The overdue cases, from the case database: open cases with a deadline clock past due.

Most overdue first, a page at a time. Each case row keeps its running clock due first
(``next_due_at``, ``next_due_clock``, written with the clock rows by ``store_step``), and each
page walks the partial index of the open cases by it (``ix_kesu_case_overdue``, migration
0010) from where the last one ended (a keyset, not an offset): a page reads ``page_size`` index
entries however many cases, closed ones included, there are. A case with two clocks past due is
listed once, at the one due first.

Only running clocks have a due time (a paused or stopped clock has none), so this lists what is
overdue now: breached and still running, or due and its breach not yet recorded. A case that
missed a deadline and was answered late is no longer overdue here; the compliance figures of
``starter.py report`` count it as missed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, bindparam, select, text, tuple_
from sqlalchemy.orm import Session

from activities.storage import CaseRow

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
    """Where a page ended: the next starts after this case (the clock is its due first)."""

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
    if session.get_bind().dialect.name == "postgresql":
        # A page is a few dozen index entries; after a large update of the case rows the
        # planner judged two parallel workers cheaper, and starting them took ten times the
        # page's own work. For this transaction only (a listing does nothing else in it).
        session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
    query = _page_query(by_process=process is not None, paged=after is not None)
    values: dict[str, Any] = {"now": now, "process": process, "rows": page_size + 1}
    if after is not None:
        values.update(after_due=after.due_at, after_case=after.case_id)
    rows = session.execute(query, values).all()
    found = [OverdueCase(*row) for row in rows[:page_size]]
    last = found[-1] if len(rows) > page_size else None
    cursor = OverdueCursor(last.due_at, last.case_id, last.clock) if last else None
    return OverduePage(found, cursor)


@cache
def _page_query(*, by_process: bool, paged: bool) -> Select[Any]:
    """A page's statement, built once per shape with its values bound at each call (building
    and compiling it anew for every page cost more than the database spends on it)."""
    cases = CaseRow.__table__
    now = bindparam("now", type_=cases.c.next_due_at.type)
    key = (cases.c.next_due_at, cases.c.case_id)
    # The partial index's condition, stated as it states it, or it is not used. Closed cases
    # have no next due time; naming closed_at here made SQLite walk its index instead.
    where: list[ColumnElement[bool]] = [cases.c.next_due_at.is_not(None), cases.c.next_due_at < now]
    if by_process:
        where.append(cases.c.process == bindparam("process", type_=cases.c.process.type))
    if paged:
        after = (
            bindparam("after_due", type_=cases.c.next_due_at.type),
            bindparam("after_case", type_=cases.c.case_id.type),
        )
        where.append(tuple_(*key) > tuple_(*after))
    # The page's cases from the index alone (``process`` is in it too), then their rows: the
    # planner, misjudging how many cases a keyset condition leaves, otherwise read them all
    # from the table and sorted them, for a page of fifty.
    page = (
        select(*key)
        .where(*where)
        .order_by(*key)
        .limit(bindparam("rows", type_=Integer))  # one more than a page: is there a next?
        .subquery("page")
    )
    return (
        select(
            cases.c.case_id,
            cases.c.case_number,
            cases.c.process,
            cases.c.stage,
            cases.c.next_due_clock,
            page.c.next_due_at,
            cases.c.next_due_breached,
        )
        .join_from(page, cases, cases.c.case_id == page.c.case_id)
        .order_by(page.c.next_due_at, page.c.case_id)
    )


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
