"""Delivering the outbox: messages that ``record_step`` queued, sent through channels.

Delivery is at-least-once. A message is claimed for a lease before it is sent, so two
deliverers (the case's own ``deliver_outbox`` and the worker's sweep, or two workers) do not
both send it; but a deliverer that dies after sending and before recording it leaves the
message to be sent again once the lease ends. Channels get the message's idempotency key so
that they (or the service behind them) can drop such a duplicate: e-mail carries it as the
Message-ID, webhooks as the ``Idempotency-Key`` header, AMQP as the message id.

A failed send is retried with exponential backoff: the failure leaves the message claimed until
its next attempt is due (the lease column doubles as "not before"), so sweeps in between skip
it. A channel that knows a failure is final (an address refused, a template that cannot render)
raises ``PermanentError`` and the message goes straight to ``dead``; so does one that has
failed ``max_attempts`` times. Dead messages wait for an operator (``starter.py redeliver``).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, Protocol, TextIO

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker
from temporalio import activity

from activities.inputs import DeliverInput, DeliverResult
from activities.lease import LeaseRenewal
from activities.storage import (
    CaseEventRow,
    CaseRow,
    CaseSealer,
    OutboxRow,
    OutboxStatus,
    holds_sealed,
    version_templates,
)
from activities.templates import VersionTemplates

# Never log params, nor the text of a channel's error (it may quote the message).
log = activity.LoggerAdapter(logging.getLogger("kesu.messaging"), None)

LAST_ERROR_LIMIT = 500
LEASE = timedelta(seconds=4)
"""How long a claim protects a message unrenewed: a crashed deliverer's message waits this long."""


@dataclass(frozen=True)
class Envelope:
    """One message as a channel sees it."""

    idempotency_key: str
    case_id: str
    recipient: str
    template: str
    params: Mapping[str, Any]
    trigger: str = ""
    """The event of the step that caused the message (``deadline.breached:plan``, ...)."""
    version: VersionTemplates | None = None
    """The published version the step ran on: templates render with its texts and titles."""


class PermanentError(Exception):
    """A failure that retrying cannot fix: the message is dead at once.

    Like any channel error its text is stored: keep customer data out of it.
    """


@dataclass(frozen=True)
class Backoff:
    """How long a failed message waits before its next attempt: doubling, up to ``limit``."""

    first: timedelta = timedelta(seconds=30)
    limit: timedelta = timedelta(hours=1)

    def after(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed attempt (1 for the first)."""
        doublings = min(max(attempts - 1, 0), 30)  # 2**30 times anything is past any limit
        wait: timedelta = self.first * 2**doublings
        return min(wait, self.limit)


class Channel(Protocol):
    def send(self, message: Envelope) -> None:
        """Send ``message``, or raise. Called from activity threads, possibly concurrently.

        Exception messages are stored in the outbox: keep params (customer data) out of them.
        """


class ConsoleChannel:
    """The embedded default: one line per message on a text stream, without the params."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()  # whole lines, even from concurrent activity threads

    def send(self, message: Envelope) -> None:
        # sys.stdout is looked up per message, so a redirected stdout is honoured.
        stream = self._stream if self._stream is not None else sys.stdout
        line = (
            f"→ {message.recipient}: {message.template} "
            f"(case {message.case_id}, key {message.idempotency_key})\n"
        )
        with self._lock:
            stream.write(line)
            stream.flush()


class _Outcome(Enum):
    DELIVERED = "delivered"
    FAILED = "failed"
    """To be retried after its backoff: later messages to the recipient wait for it."""
    DEAD = "dead"
    """Failed for good: nothing to wait for."""
    SKIPPED = "skipped"
    """Not ours to send now: another deliverer holds it, or it is already done."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


class MessagingActivities:
    """Outbox delivery, bound to the database and to a channel per recipient role.

    ``channels`` maps a recipient role (``customer``, ``supervisor``, ...) to its channel;
    other roles go to ``default``. A message that failed ``max_attempts`` times is marked
    ``dead`` and left for an operator. ``lease`` is how long a claimed message is protected
    from other deliverers; the deliverer renews it while its send runs (``LeaseRenewal``), so
    it can be short: a message a crashed worker had claimed waits at most that long.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        channels: Mapping[str, Channel],
        default: Channel,
        *,
        max_attempts: int = 5,
        lease: timedelta = LEASE,
        backoff: Backoff | None = None,
        clock: Callable[[], datetime] = _utcnow,
        sealer: CaseSealer | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._sessions = session_factory
        self._channels = dict(channels)
        self._default = default
        self._max_attempts = max_attempts
        self._lease = lease
        self._backoff = backoff or Backoff()
        self._clock = clock
        self._sealer = sealer
        """Opens customer data stored encrypted (``activities.casekeys``) for the channel."""
        self._versions: dict[str, VersionTemplates] = {}
        """Published versions' templates by content hash: immutable, read once."""

    @activity.defn(name="deliver_outbox")
    def deliver_outbox(self, inp: DeliverInput) -> DeliverResult:
        """Try once to send each pending message of one case.

        Failures are recorded on the messages rather than raised: what is left is retried
        by the sweep (``deliver_pending``), and the case goes on meanwhile.
        """
        where = (OutboxRow.case_id == inp.case_id,)
        return self._deliver(self._pending_ids(where, limit=None))

    def deliver_pending(self, limit: int = 100) -> DeliverResult:
        """Try once to send up to ``limit`` pending messages of any case, oldest first."""
        return self._deliver(self._pending_ids((), limit=limit))

    def _pending_ids(
        self, where: Sequence[ColumnElement[bool]], limit: int | None
    ) -> list[tuple[int, str, str]]:
        # A message claimed by another deliverer (or waiting out its backoff) holds back the
        # later ones to its recipient: neither is listed, so that ``limit`` counts messages
        # that can go out now. Listing them made a sweep's page fill with held messages once
        # ``limit`` of them waited, and the messages queued after them starved.
        earlier = aliased(OutboxRow)
        held = (
            select(earlier.id)
            .where(
                earlier.case_id == OutboxRow.case_id,
                earlier.recipient == OutboxRow.recipient,
                earlier.id <= OutboxRow.id,
                earlier.status == OutboxStatus.PENDING.value,
                earlier.claimed_until > self._clock(),
            )
            .exists()
        )
        query = (
            select(OutboxRow.id, OutboxRow.case_id, OutboxRow.recipient)
            .where(OutboxRow.status == OutboxStatus.PENDING.value, ~held, *where)
            .order_by(OutboxRow.id)
            .limit(limit)
        )
        with self._sessions() as session:
            return [(row.id, row.case_id, row.recipient) for row in session.execute(query)]

    def _deliver(self, pending: list[tuple[int, str, str]]) -> DeliverResult:
        delivered = failed = 0
        # Messages to one recipient of one case go out in order: once one of them is not
        # sent in this pass, the later ones wait for the next pass.
        held: set[tuple[str, str]] = set()
        for message_id, case_id, recipient in pending:
            if (case_id, recipient) in held:
                continue
            outcome = self._deliver_one(message_id)
            if outcome is _Outcome.DELIVERED:
                delivered += 1
                continue
            if outcome is not _Outcome.DEAD:
                held.add((case_id, recipient))
            if outcome is not _Outcome.SKIPPED:
                failed += 1
        return DeliverResult(delivered=delivered, failed=failed)

    def _deliver_one(self, message_id: int) -> _Outcome:
        """Claim, send and record one message, each database step in its own transaction."""
        claimed = self._claim(message_id)
        if claimed is None:
            return _Outcome.SKIPPED
        envelope, attempts = claimed
        channel = self._channels.get(envelope.recipient, self._default)
        try:
            with LeaseRenewal(lambda: self._renew(message_id), self._lease.total_seconds() / 3):
                channel.send(envelope)
        except Exception as error:  # any channel failure is recorded, then retried later
            dead = self._record_failure(message_id, envelope, attempts + 1, error)
            return _Outcome.DEAD if dead else _Outcome.FAILED
        self._finish(
            message_id,
            status=OutboxStatus.DELIVERED.value,
            delivered_at=self._clock(),
            claimed_until=None,
        )
        log.info(
            "delivered %s to %s (case %s, key %s)",
            envelope.template,
            envelope.recipient,
            envelope.case_id,
            envelope.idempotency_key,
        )
        return _Outcome.DELIVERED

    def _claim(self, message_id: int) -> tuple[Envelope, int] | None:
        """Take the lease on a pending message unless another deliverer holds it (or it waits
        out a backoff); the message and the attempts made so far."""
        now = self._clock()
        # SKIP LOCKED (PostgreSQL; SQLite has one writer anyway): a message another deliverer
        # is claiming this instant is skipped at once instead of waited for, so sweepers of
        # several workers pass each other rather than queue on the same rows.
        free = (
            select(OutboxRow.id)
            .where(
                OutboxRow.id == message_id,
                OutboxRow.status == OutboxStatus.PENDING.value,
                or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until <= now),
            )
            .with_for_update(skip_locked=True)
        )
        claim = (
            update(OutboxRow)
            .where(OutboxRow.id.in_(free.scalar_subquery()))
            .values(claimed_until=now + self._lease)
            .returning(
                OutboxRow.idempotency_key,
                OutboxRow.case_id,
                OutboxRow.recipient,
                OutboxRow.template,
                OutboxRow.params,
                OutboxRow.seq,
                OutboxRow.attempts,
                OutboxRow.content_hash,
            )
            .execution_options(synchronize_session=False)
        )
        with self._sessions.begin() as session:
            row = session.execute(claim).one_or_none()
            if row is None:
                return None
            trigger = session.scalar(
                select(CaseEventRow.event).where(
                    CaseEventRow.case_id == row.case_id, CaseEventRow.seq == row.seq
                )
            )
            params = row.params
            if self._sealer is not None and holds_sealed(params):
                params = self._sealer.open_values(session, row.case_id, params)
            version = self._version(session, row.case_id, row.content_hash)
        envelope = Envelope(
            idempotency_key=row.idempotency_key,
            case_id=row.case_id,
            recipient=row.recipient,
            template=row.template,
            params=params,
            trigger=trigger or "",
            version=version,
        )
        return envelope, row.attempts

    def _version(
        self, session: Session, case_id: str, content_hash: str | None
    ) -> VersionTemplates | None:
        """The templates of the version a message's step ran on (rows older than the column:
        the case's version); None when it is not published (then the worker's files)."""
        if content_hash is None:
            content_hash = session.scalar(
                select(CaseRow.content_hash).where(CaseRow.case_id == case_id)
            )
        if content_hash is None:
            return None
        if content_hash not in self._versions:
            published = version_templates(session, content_hash)
            if published is None:
                return None
            spec, texts = published
            self._versions[content_hash] = VersionTemplates(content_hash, spec.definition, texts)
        return self._versions[content_hash]

    def _renew(self, message_id: int) -> None:
        renew = (
            update(OutboxRow)
            .where(OutboxRow.id == message_id, OutboxRow.status == OutboxStatus.PENDING.value)
            .values(claimed_until=self._clock() + self._lease)
            .execution_options(synchronize_session=False)
        )
        with self._sessions.begin() as session:
            session.execute(renew)

    def _record_failure(
        self, message_id: int, envelope: Envelope, attempt: int, error: Exception
    ) -> bool:
        """Count the failed ``attempt``; dead if final (then True), else claimed until the
        retry is due."""
        given_up = isinstance(error, PermanentError) or attempt >= self._max_attempts
        retry_at = None if given_up else self._clock() + self._backoff.after(attempt)
        outlook = (
            f"next try {retry_at.isoformat(timespec='seconds')}"
            if retry_at is not None
            else "dead, left for an operator"
        )
        self._finish(
            message_id,
            status=OutboxStatus.DEAD.value if given_up else OutboxStatus.PENDING.value,
            last_error=f"{type(error).__name__}: {error}"[:LAST_ERROR_LIMIT],
            claimed_until=retry_at,
        )
        log.warning(
            "sending %s to %s failed (%s, attempt %d of %d; %s; case %s, key %s)",
            envelope.template,
            envelope.recipient,
            type(error).__name__,
            attempt,
            self._max_attempts,
            outlook,
            envelope.case_id,
            envelope.idempotency_key,
        )
        return given_up

    def _finish(self, message_id: int, **values: Any) -> int | None:
        """Count an attempt on a message still pending and set ``values``; the new count.

        None if the message is no longer pending (its lease ran out and another deliverer
        finished it first): then there is nothing to record.
        """
        finish = (
            update(OutboxRow)
            .where(OutboxRow.id == message_id, OutboxRow.status == OutboxStatus.PENDING.value)
            .values(attempts=OutboxRow.attempts + 1, **values)
            .returning(OutboxRow.attempts)
            .execution_options(synchronize_session=False)
        )
        with self._sessions.begin() as session:
            return session.execute(finish).scalar_one_or_none()
