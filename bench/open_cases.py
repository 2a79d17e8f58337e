"""Open cases held by one worker: memory per open case and the time to answer a query.

``python -m bench.open_cases [--cases N] [--queries Q] [--concurrency C]``

For each variant (the hand-written complaint workflow, then kesu) a fresh worker process opens
N complaint cases and accepts them, so each one waits on its three running deadlines (24 h,
48 h, 15 days). RSS per open case is the worker's RSS growth over those N cases divided by N;
then Q queries ("show me the case") go to random open cases, one at a time. The SDK keeps up
to 1000 workflows in its cache by default: beyond that, a query replays the case's history.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.common import (
    Ratio,
    Report,
    Server,
    WorkerKind,
    ms,
    percentile,
    run_bounded,
    run_script,
    stuck_guard,
    worker_process,
)
from bench.journey import Drive, kesu_case, outbox_drained, raw_case, unused_key
from bench.raw_complaint import RawComplaint
from bench.specs import complaint_spec
from runtime import exit_after
from service.cases import Kesu

MIB = 1024 * 1024
SEED = 7
MEMORY_TARGET = 1.3
"""Issue 16: an open case held in a worker at most 1.3 times the hand-written one's memory."""
Query = Callable[[str], Awaitable[Any]]


async def _hold(
    kind: WorkerKind,
    server: Server,
    workdir: Path,
    open_case: Drive,
    query: Query,
    *,
    cases: int,
    queries: int,
    concurrency: int,
    warmup: int,
) -> tuple[int, int, list[float]]:
    """RSS before and after opening ``cases``, and the seconds each query took."""
    database = f"sqlite:///{workdir / f'{kind}-open.db'}"
    specs = [complaint_spec()] if kind == "kesu" else []
    queue = f"bench-open-{kind}"
    async with worker_process(kind, server, queue, database, workdir, specs) as worker:
        await run_bounded(warmup, concurrency, lambda _: open_case(unused_key("warm")))
        await stuck_guard(outbox_drained(database), "delivering the outbox")
        before = worker.rss_bytes()
        ids = await run_bounded(cases, concurrency, lambda _: open_case(unused_key("open")))
        await stuck_guard(outbox_drained(database), "delivering the outbox")
        after = worker.rss_bytes()
        pick = random.Random(SEED)
        latencies = []
        for _ in range(queries):
            started = time.perf_counter()
            await query(pick.choice(ids))
            latencies.append(time.perf_counter() - started)
        return before, after, latencies


async def measure(
    server: Server,
    workdir: Path,
    *,
    cases: int = 300,
    queries: int = 200,
    concurrency: int = 20,
    warmup: int = 10,
) -> Report:
    kesu = Kesu(server.client, {"complaint": complaint_spec()}, "bench-open-kesu")
    variants: dict[WorkerKind, tuple[Drive, Query]] = {
        "raw": (
            lambda key: raw_case(server.client, "bench-open-raw", key, events=1),
            lambda case_id: server.client.get_workflow_handle(case_id).query(RawComplaint.case),
        ),
        "kesu": (lambda key: kesu_case(kesu, key, events=1), kesu.get_case),
    }
    report = Report(
        title=f"Open cases held: {cases} accepted complaints waiting on deadlines, "
        f"{queries} queries on random ones",
        headers=[
            "variant", "RSS before MiB", "RSS after MiB", "KiB per open case",
            "query p50 ms", "query p99 ms",
        ],
    )  # fmt: skip
    labels: dict[WorkerKind, str] = {"raw": "hand-written Temporal", "kesu": "kesu CaseWorkflow"}
    for kind, label in labels.items():
        open_case, query = variants[kind]
        before, after, latencies = await _hold(
            kind, server, workdir, open_case, query,
            cases=cases, queries=queries, concurrency=concurrency, warmup=warmup,
        )  # fmt: skip
        per_case = (after - before) / cases
        report.rows.append(
            [
                label,
                f"{before / MIB:.1f}",
                f"{after / MIB:.1f}",
                f"{per_case / 1024:.1f}",
                ms(percentile(latencies, 50)),
                ms(percentile(latencies, 99)),
            ]
        )
        report.figures[f"{kind}_bytes_per_case"] = per_case
        report.figures[f"{kind}_query_p50_seconds"] = percentile(latencies, 50)
    figures = report.figures
    report.ratios = [
        Ratio(
            "kesu/raw memory per open case",
            figures["kesu_bytes_per_case"] / max(figures["raw_bytes_per_case"], 1.0),
            target=MEMORY_TARGET,
        ),
        Ratio(
            "kesu/raw query p50",
            figures["kesu_query_p50_seconds"] / figures["raw_query_p50_seconds"],
        ),
    ]
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cases", type=int, default=300, help="open cases per variant")
    parser.add_argument("--queries", type=int, default=200, help="queries per variant")
    parser.add_argument("--concurrency", type=int, default=20, help="cases opened at once")
    args = parser.parse_args(argv)
    return run_script(
        lambda server, workdir: measure(
            server,
            workdir,
            cases=args.cases,
            queries=args.queries,
            concurrency=args.concurrency,
        )
    )


if __name__ == "__main__":
    exit_after(main(sys.argv[1:]))
