"""Operators and the outbox: a case's messages, dead letters, and sending dead ones again.

Reads and writes the outbox table directly (no Temporal needed): ``starter.py show`` lists a
case's messages, ``starter.py list --dead`` the dead letters of all cases, and
``starter.py redeliver`` puts dead messages back in the queue, where the worker's sweep sends
them. Message params (customer data) are never shown here; the stored error text is, and
channels keep customer data out of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from activities.storage import OutboxRow, OutboxStatus, list_outbox

DISPLAY_ZONE = ZoneInfo("Asia/Shanghai")


class OutboxError(Exception):
    """A redeliver request that matches nothing; the message says what was looked for."""


def case_messages(sessions: sessionmaker[Session], case_id: str) -> list[OutboxRow]:
    with sessions() as session:
        return list_outbox(session, case_id)


def dead_letters(sessions: sessionmaker[Session], limit: int = 100) -> list[OutboxRow]:
    """Dead messages of every case, oldest first."""
    query = (
        select(OutboxRow)
        .where(OutboxRow.status == OutboxStatus.DEAD.value)
        .order_by(OutboxRow.id)
        .limit(limit)
    )
    with sessions() as session:
        return list(session.scalars(query))


def status_counts(sessions: sessionmaker[Session]) -> dict[str, int]:
    """Messages per status over all cases (``pending``, ``delivered``, ``dead``), for reports."""
    query = select(OutboxRow.status, func.count()).group_by(OutboxRow.status)
    with sessions() as session:
        counts = {status.value: 0 for status in OutboxStatus}
        counts.update({status: count for status, count in session.execute(query).all()})
        return counts


def redeliver(
    sessions: sessionmaker[Session], *, case_id: str | None = None, keys: Sequence[str] = ()
) -> list[str]:
    """Queue dead messages again (all of ``case_id``'s, or those with ``keys``); their keys.

    Attempts start afresh, so a message gets the full number of tries again; the last error
    stays for the record until an attempt replaces it. Delivered and pending messages are
    left alone: redelivering never sends a message twice.
    """
    if case_id is None and not keys:
        raise OutboxError("name a case or one or more message keys to redeliver")
    where = [OutboxRow.status == OutboxStatus.DEAD.value]
    if case_id is not None:
        where.append(OutboxRow.case_id == case_id)
    if keys:
        where.append(OutboxRow.idempotency_key.in_(keys))
    requeue = (
        update(OutboxRow)
        .where(*where)
        .values(status=OutboxStatus.PENDING.value, attempts=0, claimed_until=None)
        .returning(OutboxRow.idempotency_key)
        .execution_options(synchronize_session=False)
    )
    with sessions.begin() as session:
        requeued = sorted(session.scalars(requeue))
    if not requeued:
        what = f"case {case_id}" if case_id is not None else "keys " + ", ".join(keys)
        raise OutboxError(f"no dead messages for {what}")
    if keys:
        missing = sorted(set(keys) - set(requeued))
        if missing:
            # The found ones are queued already; say which were not dead (or do not exist).
            raise OutboxError(
                f"queued {len(requeued)} again; not dead (or unknown): {', '.join(missing)}"
            )
    return requeued


def _when(moment: datetime | None) -> str:
    return moment.astimezone(DISPLAY_ZONE).strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def _line(row: OutboxRow, *, with_case: bool) -> list[str]:
    status = row.status.upper() if row.status == OutboxStatus.DEAD.value else row.status
    done = _when(row.delivered_at) if row.delivered_at else ""
    head = f"  {row.idempotency_key:<34} " if with_case else f"  {row.seq:>4}  "
    lines = [
        f"{head}{row.recipient:<12} {row.template:<22} {status:<9} "
        f"{row.attempts} attempt{'s' if row.attempts != 1 else ''} {done}".rstrip()
    ]
    if row.last_error and row.status != OutboxStatus.DELIVERED.value:
        lines.append(f"        last error: {row.last_error}")
    return lines


def render_messages(rows: Iterable[OutboxRow]) -> str:
    """A case's messages, for ``starter.py show``."""
    lines = ["messages:"]
    for row in rows:
        lines.extend(_line(row, with_case=False))
    if len(lines) == 1:
        lines.append("  (none)")
    return "\n".join(lines)


def render_dead_letters(rows: Iterable[OutboxRow]) -> str:
    lines = ["dead messages (send again with: starter.py redeliver CASE or --key KEY):"]
    for row in rows:
        lines.extend(_line(row, with_case=True))
    if len(lines) == 1:
        lines.append("  (none)")
    return "\n".join(lines)
