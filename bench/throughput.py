"""Throughput ceiling: trivial one-activity workflows per second, and kesu against that limit.

``python -m bench.throughput [--workflows N] [--cases M] [--concurrency C] [--workers W]
[--postgres]``

The trivial workflow (start, one no-op activity, end) measures what the server and the worker
processes manage on this machine at all. Full complaint cases (start plus six events, the
overhead benchmark's journey) then run on kesu workers on the same server, and their
throughput is given in activities per second: the share of the physical limit kesu reaches
while doing real work (SQL writes, updates, timers) between its activities.

With ``--workers W`` (W > 1) both are measured with one worker process and with W on the same
task queue and database, in the same run: kesu's share of the trivial rate with W workers
should stay within 10 % of its share with one (no state shared between workers that makes
them wait for each other: database rows, the outbox sweep). ``--postgres`` puts kesu's
records on PostgreSQL (``KESU_BENCH_POSTGRES_URL``, a schema of its own, dropped afterwards)
instead of a SQLite file, whose single writer two workers would share.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from bench.common import (
    Ratio,
    Report,
    Server,
    WorkerProcess,
    measured,
    ms,
    run_bounded,
    run_script,
    worker_process,
)
from bench.journey import drive_cases, history_profile, kesu_case, unused_key
from bench.raw_simple import Trivial
from bench.reports import POSTGRES_URL
from bench.specs import complaint_spec
from runtime import exit_after
from service.cases import Kesu

SCALING_TARGET = 1 / 0.9
"""One worker's share ÷ W workers' share: at most this, i.e. W workers keep 90 % of it."""


class Workers:
    """Several worker processes read as one: their CPU summed."""

    def __init__(self, processes: Sequence[WorkerProcess]) -> None:
        self.processes = list(processes)

    def cpu_seconds(self) -> float:
        return sum(process.cpu_seconds() for process in self.processes)


@contextlib.asynccontextmanager
async def workers(
    count: int, kind: str, server: Server, task_queue: str, database_url: str, workdir: Path,
    kesu: Kesu | None = None,
) -> AsyncIterator[Workers]:  # fmt: skip
    specs = list(kesu.processes.values()) if kesu is not None else []
    async with contextlib.AsyncExitStack() as stack:
        started = [
            await stack.enter_async_context(
                worker_process(
                    "kesu" if kind == "kesu" else "raw",
                    server,
                    task_queue,
                    database_url,
                    workdir,
                    specs,
                    name=f"{task_queue}-{index}",
                )
            )
            for index in range(count)
        ]
        yield Workers(started)


@contextlib.contextmanager
def _records(postgres: bool, workdir: Path, name: str) -> Iterator[str]:
    if not postgres:
        yield f"sqlite:///{workdir / name}.db"
        return
    schema = f"kesu_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, poolclass=NullPool)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


async def _trivial(server: Server, task_queue: str, index: int) -> int:
    return await server.client.execute_workflow(
        Trivial.run, index, id=unused_key("trivial"), task_queue=task_queue
    )


async def _one_setting(
    server: Server, workdir: Path, count: int, workflows: int, cases: int, concurrency: int,
    warmup: int, postgres: bool,
) -> tuple[list[str], float, float, float, float, list[str]]:  # fmt: skip
    """(rows, trivial rate, kesu rate, activities per case) with ``count`` workers."""
    trivial_queue, kesu_queue = f"bench-trivial-{count}", f"bench-kesu-{count}"
    raw_db = f"sqlite:///{workdir / f'raw-{count}.db'}"
    async with workers(count, "raw", server, trivial_queue, raw_db, workdir) as running:
        await run_bounded(warmup, concurrency, lambda i: _trivial(server, trivial_queue, i))
        _, trivial = await measured(
            running,
            run_bounded(workflows, concurrency, lambda i: _trivial(server, trivial_queue, i)),
        )
    kesu = Kesu(server.client, {"complaint": complaint_spec()}, kesu_queue)
    with _records(postgres, workdir, f"kesu-{count}") as kesu_db:
        async with workers(count, "kesu", server, kesu_queue, kesu_db, workdir, kesu) as running:

            async def drive(key: str) -> str:
                return await kesu_case(kesu, key)

            await drive_cases(running, kesu_db, drive, warmup, concurrency)
            case_ids, full = await drive_cases(running, kesu_db, drive, cases, concurrency)
    activities = (await history_profile(server.client, case_ids[:20]))["activities"]
    trivial_rate = workflows / trivial.wall
    kesu_rate = cases * activities / full.wall
    label = f"{count} worker{'s' if count > 1 else ''}"
    rows = [
        [
            label, "trivial workflow (1 no-op activity)", f"{trivial_rate:.1f} workflows",
            f"{trivial_rate:.1f}", ms(trivial.cpu / workflows),
        ],
        [
            label, f"kesu complaint case ({activities:.1f} activities)",
            f"{cases / full.wall:.1f} cases", f"{kesu_rate:.1f}",
            ms(full.cpu / (cases * activities)),
        ],
    ]  # fmt: skip
    return rows[0], trivial_rate, kesu_rate, cases / full.wall, activities, rows[1]


async def measure(
    server: Server,
    workdir: Path,
    *,
    workflows: int = 300,
    cases: int = 60,
    concurrency: int = 20,
    warmup: int = 5,
    worker_count: int = 1,
    postgres: bool = False,
) -> Report:
    where = "PostgreSQL" if postgres else "SQLite"
    report = Report(
        title=f"Throughput ceiling: {workflows} trivial workflows, {cases} complaint cases, "
        f"{concurrency} in flight, kesu's records on {where}",
        headers=["workers", "workload", "per second", "activities/s", "worker CPU ms/activity"],
    )
    shares: dict[int, float] = {}
    for count in sorted({1, worker_count}):
        trivial_row, trivial_rate, kesu_rate, case_rate, _, kesu_row = await _one_setting(
            server, workdir, count, workflows, cases, concurrency, warmup, postgres
        )
        report.rows += [trivial_row, kesu_row]
        shares[count] = kesu_rate / trivial_rate
        suffix = "" if count == 1 else f"_{count}_workers"
        report.figures |= {
            f"trivial_per_second{suffix}": trivial_rate,
            f"kesu_cases_per_second{suffix}": case_rate,
            f"kesu_activities_per_second{suffix}": kesu_rate,
        }
        name = "kesu activities/s ÷ trivial activities/s"
        report.ratios.append(
            Ratio(name if count == 1 else f"{name}, {count} workers", shares[count])
        )
    if worker_count > 1:
        scaling = shares[1] / shares[worker_count]
        report.ratios.append(
            Ratio(f"that ratio with 1 worker ÷ with {worker_count}", scaling, SCALING_TARGET)
        )
        report.figures["scaling"] = scaling
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--workflows", type=int, default=300, help="trivial workflows")
    parser.add_argument("--cases", type=int, default=60, help="full complaint cases")
    parser.add_argument("--concurrency", type=int, default=20, help="in flight at once")
    parser.add_argument("--workers", type=int, default=1, help="also measure this many workers")
    parser.add_argument("--postgres", action="store_true", help="kesu's records on PostgreSQL")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    return run_script(
        lambda server, workdir: measure(
            server,
            workdir,
            workflows=args.workflows,
            cases=args.cases,
            concurrency=args.concurrency,
            worker_count=args.workers,
            postgres=args.postgres,
        )
    )


if __name__ == "__main__":
    exit_after(main(sys.argv[1:]))
