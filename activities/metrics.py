"""kesu's own Prometheus metrics (``prometheus_client``), beside the Temporal SDK's.

The metric objects live in the process-wide default registry; the worker and the API expose it
(``telemetry.py``). Labels are process, clock and refusal reason: names from the definitions,
never case data, so their number stays small and no customer data reaches a dashboard.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from process.events import BREACHED_EVENT_PREFIX, WARNING_EVENT_PREFIX

from .inputs import HaltReport, StepRecord
from .storage import OutboxRow, OutboxStatus

CASES_OPENED = Counter("kesu_cases_opened", "Cases opened (stored by this worker)", ["process"])
CASES_CLOSED = Counter("kesu_cases_closed", "Cases that reached a final stage", ["process"])
EVENTS_REFUSED = Counter(
    "kesu_events_refused", "Events a case refused, by reason (forbidden, conflict ...)", ["reason"]
)
DEADLINE_WARNINGS = Counter(
    "kesu_deadline_warnings", "Deadline warnings fired", ["process", "clock"]
)
CASES_HALTED = Counter(
    "kesu_cases_halted",
    "Halts: a case stopped because the database refused a step's data (an operator repairs it)",
    ["process"],
)
DEADLINE_BREACHES = Counter("kesu_deadline_breaches", "Deadlines breached", ["process", "clock"])
ACTIVITY_SECONDS = Histogram(
    "kesu_activity_seconds",
    "How long kesu's activities take, by activity and outcome",
    ["activity", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


def count_step(step: StepRecord) -> None:
    """Count a newly stored step (never a retried one: the caller knows which)."""
    if step.seq == 0:
        CASES_OPENED.labels(step.process).inc()
    if step.final:
        CASES_CLOSED.labels(step.process).inc()
    if step.event.startswith(WARNING_EVENT_PREFIX):
        DEADLINE_WARNINGS.labels(step.process, step.event.removeprefix(WARNING_EVENT_PREFIX)).inc()
    elif step.event.startswith(BREACHED_EVENT_PREFIX):
        clock = step.event.removeprefix(BREACHED_EVENT_PREFIX)
        DEADLINE_BREACHES.labels(step.process, clock).inc()


def count_halt(report: HaltReport) -> None:
    """Count a halt once, when its operator alert is first queued."""
    CASES_HALTED.labels(report.process).inc()


class OutboxCollector(Collector):
    """Outbox depth (pending) and dead messages, read from the database at each scrape."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def collect(self) -> Iterator[GaugeMetricFamily]:
        counts = GaugeMetricFamily(
            "kesu_outbox_messages", "Messages in the outbox by status", labels=["status"]
        )
        up = GaugeMetricFamily("kesu_database_up", "1 when the database answered this scrape")
        query = select(OutboxRow.status, func.count()).group_by(OutboxRow.status)
        try:
            with self._sessions() as session:
                found: dict[str, int] = {status: n for status, n in session.execute(query)}
        except SQLAlchemyError:
            up.add_metric([], 0)
        else:
            up.add_metric([], 1)
            for status in (OutboxStatus.PENDING, OutboxStatus.DEAD):
                counts.add_metric([status.value], found.get(status.value, 0))
            yield counts
        yield up


class CachedCollector(Collector):
    """Another collector's metrics, collected at most once every ``seconds``: a storm of
    scrapes (several Prometheus servers, a dashboard refreshing) costs one database query."""

    def __init__(
        self,
        inner: Collector,
        seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner, self._seconds, self._clock = inner, seconds, clock
        self._lock = threading.Lock()  # concurrent scrapes wait for one query, not each run one
        self._families: list[Metric] | None = None
        self._at = 0.0

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            now = self._clock()
            if self._families is None or now - self._at >= self._seconds:
                self._families = list(self._inner.collect())
                self._at = now
            return iter(self._families)
