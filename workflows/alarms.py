"""The case's next alarm as one durable timer, armed in the workflow task that decides it.

A deadline is late by however long its timer starts after the due time was computed. Arming it
in the same workflow task as the step that sets the deadline (rather than in a later task,
after the step is stored) means the server starts the timer as soon as that task completes.
The timer is left alone while the alarm time stays the same: events that do not move a
deadline neither cancel nor re-arm it, which keeps the history short.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from temporalio import workflow

SHORTEST_WAIT = 0.01
"""Seconds: a timer of zero would fire at once rather than wait."""


class Alarms:
    """One timer for the engine's next alarm; ``rang`` once it fired (the loop fires what is
    due, then arms the next)."""

    def __init__(self) -> None:
        self._when: datetime | None = None
        self._timer: asyncio.Task[None] | None = None
        self._armed_at_history: int | None = None
        self.rang = False

    def arm(self, when: datetime | None, summary: str | None) -> None:
        """The timer for ``when`` (none for None): kept when it is already armed for it."""
        pending = self._timer is not None and not self._timer.done()
        if pending and when == self._when:
            return
        if self._timer is not None and pending:
            self._timer.cancel()
        self._timer, self._when, self.rang = None, when, False
        if when is None:
            return
        delay = max((when - workflow.now()).total_seconds(), SHORTEST_WAIT)
        self._timer = asyncio.create_task(self._ring(delay, summary))
        self._armed_at_history = workflow.info().get_current_history_length()

    def started_in_this_task(self) -> bool:
        """Whether a timer was started in the current workflow task: its start command leaves
        only when the task completes, so the task should not wait on a local activity."""
        return self._armed_at_history == workflow.info().get_current_history_length()

    async def _ring(self, delay: float, summary: str | None) -> None:
        # The summary is metadata only (not replayed against history): the Web UI names it.
        await workflow.sleep(delay, summary=summary)
        self.rang = True
