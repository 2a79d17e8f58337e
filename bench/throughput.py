"""Throughput ceiling: trivial one-activity workflows per second, and kesu against that limit.

``python -m bench.throughput [--workflows N] [--cases M] [--concurrency C]``

The trivial workflow (start, one no-op activity, end) measures what the server and one worker
process manage on this machine at all. Full complaint cases (start plus six events, the
overhead benchmark's journey) then run on a kesu worker on the same server, and their
throughput is given in activities per second: the share of the physical limit kesu reaches
while doing real work (SQL writes, updates, timers) between its activities.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.common import (
    Ratio,
    Report,
    Server,
    measured,
    ms,
    run_bounded,
    run_script,
    worker_process,
)
from bench.journey import drive_cases, history_profile, kesu_case, unused_key
from bench.raw_simple import Trivial
from bench.specs import complaint_spec
from runtime import exit_after
from service.cases import Kesu


async def _trivial(server: Server, task_queue: str, index: int) -> int:
    return await server.client.execute_workflow(
        Trivial.run, index, id=unused_key("trivial"), task_queue=task_queue
    )


async def measure(
    server: Server,
    workdir: Path,
    *,
    workflows: int = 300,
    cases: int = 60,
    concurrency: int = 20,
    warmup: int = 5,
) -> Report:
    raw_db = f"sqlite:///{workdir / 'raw.db'}"
    kesu_db = f"sqlite:///{workdir / 'kesu.db'}"
    async with worker_process("raw", server, "bench-trivial", raw_db, workdir) as worker:
        await run_bounded(warmup, concurrency, lambda i: _trivial(server, "bench-trivial", i))
        _, trivial = await measured(
            worker,
            run_bounded(workflows, concurrency, lambda i: _trivial(server, "bench-trivial", i)),
        )
    kesu = Kesu(server.client, {"complaint": complaint_spec()}, "bench-kesu")
    specs = kesu.processes.values()
    async with worker_process("kesu", server, "bench-kesu", kesu_db, workdir, specs) as worker:

        async def drive(key: str) -> str:
            return await kesu_case(kesu, key)

        await drive_cases(worker, kesu_db, drive, warmup, concurrency)
        case_ids, full = await drive_cases(worker, kesu_db, drive, cases, concurrency)
    activities = (await history_profile(server.client, case_ids[:20]))["activities"]

    trivial_rate = workflows / trivial.wall
    kesu_rate = cases * activities / full.wall
    report = Report(
        title=f"Throughput ceiling: {workflows} trivial workflows, {cases} complaint cases, "
        f"{concurrency} in flight",
        headers=["workload", "per second", "activities/s", "worker CPU ms/activity"],
        rows=[
            [
                "trivial workflow (1 no-op activity)",
                f"{trivial_rate:.1f} workflows",
                f"{trivial_rate:.1f}",
                ms(trivial.cpu / workflows),
            ],
            [
                f"kesu complaint case ({activities:.1f} activities)",
                f"{cases / full.wall:.1f} cases",
                f"{kesu_rate:.1f}",
                ms(full.cpu / (cases * activities)),
            ],
        ],
        ratios=[Ratio("kesu activities/s ÷ trivial activities/s", kesu_rate / trivial_rate)],
        figures={
            "trivial_per_second": trivial_rate,
            "kesu_cases_per_second": cases / full.wall,
            "kesu_activities_per_second": kesu_rate,
        },
    )
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--workflows", type=int, default=300, help="trivial workflows")
    parser.add_argument("--cases", type=int, default=60, help="full complaint cases")
    parser.add_argument("--concurrency", type=int, default=20, help="in flight at once")
    args = parser.parse_args(argv)
    return run_script(
        lambda server, workdir: measure(
            server,
            workdir,
            workflows=args.workflows,
            cases=args.cases,
            concurrency=args.concurrency,
        )
    )


if __name__ == "__main__":
    exit_after(main(sys.argv[1:]))
