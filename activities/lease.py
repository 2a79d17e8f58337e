"""Keeping a claim on an outbox message alive while a slow channel sends it.

A claim's lease is short, so that a message a crashed worker had claimed is sent by another
within seconds rather than minutes; a live deliverer renews its lease every third of it for
as long as its send runs (an SMTP server may take its full timeout). A renewal that fails is
logged and tried again at the next tick: at worst the lease runs out and another deliverer
sends a duplicate, with the same idempotency key.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType

log = logging.getLogger("kesu.messaging")


class LeaseRenewal:
    """``with LeaseRenewal(renew, every):`` calls ``renew()`` every ``every`` seconds inside."""

    def __init__(self, renew: Callable[[], None], every: float) -> None:
        self._renew = renew
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kesu-lease", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self._renew()
            except Exception as error:  # the send goes on; the next tick tries again
                log.warning("renewing a message's lease failed (%s)", type(error).__name__)

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
