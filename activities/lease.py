"""Keeping work alive while it runs: a claim on an outbox message, a running activity.

A claim's lease is short, so that a message a crashed worker had claimed is sent by another
within seconds rather than minutes; a live deliverer renews its lease every third of it for
as long as its send runs (an SMTP server may take its full timeout). A renewal that fails is
logged and tried again at the next tick: at worst the lease runs out and another deliverer
sends a duplicate, with the same idempotency key.

Activities heartbeat the same way (``heartbeating``), so that Temporal gives the work of a
worker that died to another within the short heartbeat timeout, not the whole start-to-close
timeout a slow database may need.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from types import TracebackType

from temporalio import activity

log = logging.getLogger("kesu.messaging")


class LeaseRenewal:
    """``with LeaseRenewal(renew, every):`` calls ``renew()`` every ``every`` seconds inside."""

    def __init__(
        self, renew: Callable[[], None], every: float, what: str = "a message's lease"
    ) -> None:
        self._renew = renew
        self._every = every
        self._what = what
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kesu-lease", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self._renew()
            except Exception as error:  # the send goes on; the next tick tries again
                log.warning("renewing %s failed (%s)", self._what, type(error).__name__)

    def __enter__(self) -> LeaseRenewal:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()


def heartbeating(every: float) -> AbstractContextManager[object]:
    """``with heartbeating(every):`` heartbeats the running activity every ``every`` seconds
    (from a thread, in a copy of the activity's context); outside an activity, nothing. A
    local activity has no heartbeats (it lives inside its workflow task): nothing either, and
    no thread: a burst of breaches stored locally would start (and wait for) one per step."""
    if not activity.in_activity() or activity.info().is_local:
        return contextlib.nullcontext()
    context = contextvars.copy_context()
    return LeaseRenewal(lambda: context.run(activity.heartbeat), every, "a heartbeat")
