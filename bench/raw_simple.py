"""The smallest plain Temporal workflows: the physical limits kesu is measured against.

``Trivial`` runs one activity that does nothing and ends: how many of those per second the
server and one worker manage is the ceiling of any workflow on this machine. ``Timer`` waits a
fixed time and reports how late its timer fired: the floor of deadline lateness.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

NOOP_ACTIVITY = "bench_noop"


@activity.defn(name=NOOP_ACTIVITY)
def noop(value: int) -> int:
    """Sync like kesu's activities, so it runs on the same kind of thread pool."""
    return value


@workflow.defn(name="BenchTrivial")
class Trivial:
    @workflow.run
    async def run(self, value: int) -> int:
        result: int = await workflow.execute_activity(
            NOOP_ACTIVITY, value, start_to_close_timeout=timedelta(seconds=30)
        )
        return result


@workflow.defn(name="BenchTimer")
class Timer:
    @workflow.run
    async def run(self, seconds: float) -> float:
        """Sleep ``seconds`` from the first workflow task; return how late it woke, in seconds.

        Measured as kesu measures a deadline: due = the time of the task that armed it plus
        the duration; fired = the time of the task that saw it fire.
        """
        due = workflow.now() + timedelta(seconds=seconds)
        await workflow.sleep(seconds)
        return (workflow.now() - due).total_seconds()
