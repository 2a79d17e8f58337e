"""Alerting an operator when a case halts: the ``report_halt`` activity.

A case halts when the database refuses one of its steps for its data (``storage.faults``).
The workflow then asks this activity to queue, in one transaction, a message to the
``operator`` recipient (routed in ``config/channels.yaml`` like any recipient; the console
by default) and, when domain events are on, a ``case.halted`` event. Both name the case, its
process, stage and step and the failure's kind: never the case's data, which is what the
database refused and may be customer data.

The alert is itself a row in SQL. The step was refused for its data, not because the database
is away, so the alert (which holds no case data) is normally stored at once; in an outage the
workflow retries it until the database is back, while the halt stays visible meanwhile in the
worker's log, the case query and the ``KesuHalted`` search attribute. A retried activity
queues nothing twice: each alert is keyed by case, step and halt number.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from activities.events import EVENTS_RECIPIENT
from activities.inputs import HaltReport, HaltReported
from activities.storage import OutboxRow, OutboxStatus, storage_failure
from process.events import CASE_HALTED

log = activity.LoggerAdapter(logging.getLogger("kesu.halts"), None)

OPERATOR_RECIPIENT = "operator"
"""Who hears of halted cases: route ``operator`` to a channel (e-mail, webhook, AMQP)."""
HALT_TEMPLATE = "case_halted"
"""The template an operator's rendering channel (e-mail, webhook) uses for the alert."""


def halt_params(report: HaltReport) -> dict[str, Any]:
    """What the alert and the event say: where the case stopped and why, no case data."""
    return {
        "type": CASE_HALTED,
        "case_id": report.case_id,
        "seq": report.seq,
        "at": report.at.isoformat(),
        "process": report.process,
        "version": report.version,
        "trigger": report.event,
        "stage": report.stage,
        "failure": report.failure,
        "halt": report.halt,
    }


class HaltActivities:
    """``report_halt``, bound to the database; ``events``: publish ``case.halted`` too.
    ``halted`` hears of each halt once, when its alert is first queued (metrics)."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        events: bool = False,
        halted: Callable[[HaltReport], None] | None = None,
    ) -> None:
        self._sessions = session_factory
        self._events = events
        self._halted = halted

    @activity.defn(name="report_halt")
    def report_halt(self, report: HaltReport) -> HaltReported:
        """Queue the operator's alert (and the domain event) for one halt; idempotent."""
        try:
            queued = self._queue(report)
        except Exception as error:
            failure = storage_failure(error, f"the alert for halted case {report.case_id}")
            log.warning("%s", failure.message)
            raise failure from None
        if queued:
            log.error(
                "case %s halted at step %d (%s, stage %s): %s; operator alerted",
                report.case_id,
                report.seq,
                report.event,
                report.stage,
                report.failure,
                extra={"case_id": report.case_id, "case_process": report.process},
            )
            if self._halted is not None:
                self._halted(report)
        return HaltReported(queued=queued)

    def _queue(self, report: HaltReport) -> bool:
        params = halt_params(report)
        messages = [(OPERATOR_RECIPIENT, HALT_TEMPLATE)]
        if self._events:
            messages.append((EVENTS_RECIPIENT, CASE_HALTED))
        keys = [
            f"{report.case_id}:{report.seq}:halt{report.halt}:{index}"
            for index in range(len(messages))
        ]
        with self._sessions.begin() as session:
            if session.scalar(select(OutboxRow.id).where(OutboxRow.idempotency_key == keys[0])):
                return False
            session.add_all(
                OutboxRow(
                    case_id=report.case_id,
                    seq=report.seq,
                    idempotency_key=key,
                    recipient=recipient,
                    template=template,
                    params=params,
                    status=OutboxStatus.PENDING.value,
                    attempts=0,
                    created_at=report.at,
                )
                for key, (recipient, template) in zip(keys, messages, strict=True)
            )
        return True
