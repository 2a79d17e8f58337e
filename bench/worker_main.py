"""A benchmark worker process: ``python -m bench.worker_main --kind kesu|raw ...``.

``kesu`` is the shipped worker (``worker.build_activities`` / ``worker.build_worker``, the same
thread pool size as ``worker.py``); ``raw`` runs the hand-written baselines on the very same
activity objects. Started by ``bench.common.worker_process``, which reads this process's CPU
and memory from outside; it touches the ready file once it polls, and stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from temporalio.worker import Worker

from bench.raw_complaint import RawComplaint
from bench.raw_simple import Timer, Trivial, noop
from runtime import connect, exit_after
from worker import (
    ACTIVITY_THREADS,
    SWEEP_INTERVAL_SECONDS,
    build_activities,
    build_worker,
    serving_definitions,
    settle_heap,
    sweep_outbox,
)


async def serve(
    kind: str,
    address: str,
    task_queue: str,
    database_url: str,
    ready: Path,
    raw_task_slots: int | None = None,
) -> None:
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    client = await connect(address, "default")
    activities = build_activities(database_url)
    with ThreadPoolExecutor(max_workers=ACTIVITY_THREADS) as executor:
        if kind == "kesu":
            worker = build_worker(client, task_queue, activities, executor)
            settle_heap()  # as worker.py does before it polls
        else:
            worker = Worker(
                client,
                task_queue=task_queue,
                workflows=[RawComplaint, Trivial, Timer],
                activities=[
                    activities.storage.record_step,
                    activities.messaging.deliver_outbox,
                    noop,
                ],
                activity_executor=executor,
                max_concurrent_workflow_tasks=raw_task_slots,
            )
        async with contextlib.AsyncExitStack() as running:
            if kind == "kesu":  # cases name their definition: the worker resolves it
                await running.enter_async_context(serving_definitions(activities.sessions))
            await running.enter_async_context(worker)
            # As worker.py: what a case's own delivery left (its deliverer failed after the
            # claim, so the retry found the message claimed) goes out after the lease. Without
            # it such a message stayed pending and the wait for the outbox never ended.
            sweeper = asyncio.create_task(
                sweep_outbox(activities.messaging, SWEEP_INTERVAL_SECONDS)
            )
            running.callback(sweeper.cancel)
            ready.touch()
            await stop.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kind", choices=["kesu", "raw"], required=True)
    parser.add_argument("--address", required=True)
    parser.add_argument("--task-queue", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--ready-file", type=Path, required=True)
    parser.add_argument("--workflow-task-slots", type=int, help="raw: else the SDK's default")
    args = parser.parse_args()
    # Warnings only: both kinds log the same activity lines, which would only add noise.
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(
        serve(
            args.kind,
            args.address,
            args.task_queue,
            args.database_url,
            args.ready_file,
            args.workflow_task_slots,
        )
    )
    return 0


if __name__ == "__main__":
    exit_after(main())
