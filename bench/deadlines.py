"""Deadline precision: how late N real deadline timers fire, kesu vs a bare Temporal timer.

``python -m bench.deadlines [--cases N [N ...]] [--within S] [--concurrency C] [--same-slots]
[--rounds R]``

kesu: N cases of a generated process whose only deadline (``within: S``s, calendar clock,
started when the case opens) moves the case to a final stage on breach. Lateness is the time of
the stored breach step minus the due time (opened + S), both as the case records them.
Baseline: N plain workflows that sleep S seconds from their first task and report how late
they woke. Both sets are started as fast as ``--concurrency`` allows, so later timers fire
while the last cases are still being opened, as they would on a busy day. Several ``--cases``
(``--cases 100 1000``) measure each burst size in turn, each against its own baseline on its
own server; ``--within`` then defaults to a deadline long enough for the largest burst to be
opened before its first deadline falls due, so that they fall due together. The bare timers
run on a worker with the SDK's default workflow task slots (100), kesu's on its own
(``worker.WORKFLOW_TASK_SLOTS``); ``--same-slots`` gives the bare timers' worker kesu's too, so
that only the workflow code differs.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from activities.storage import CaseEventRow, CaseRow, make_engine, make_session_factory
from bench.common import (
    Ratio,
    Report,
    Server,
    in_turn,
    median,
    ms,
    percentile,
    run_bounded,
    run_script,
    stuck_guard,
    worker_process,
)
from bench.journey import unused_key
from bench.raw_simple import Timer
from bench.specs import DEADLINE_PROCESS, deadline_spec
from bench.timer_history import timer_parts
from runtime import exit_after
from service.cases import Kesu
from worker import WORKFLOW_TASK_SLOTS

BREACH_EVENT = "deadline.breached:reply"
P99_TARGET = 1.5
"""Issue 16: a burst of deadlines breached at most half as late again as bare timers."""
OPENING_PER_SECOND = 15
"""A cautious rate of kesu case starts on a loaded 2-core machine, to size ``--within``."""


@dataclass(frozen=True)
class Run:
    lateness: list[float]
    """Seconds, one per deadline."""
    opening: float
    """Seconds it took to start them all."""
    ids: list[str]


async def _kesu_lateness(
    server: Server, workdir: Path, cases: int, within: int, concurrency: int, round_: int
) -> Run:
    database = f"sqlite:///{workdir / f'kesu-{round_}.db'}"  # a round's breaches alone
    kesu = Kesu(server.client, {DEADLINE_PROCESS: deadline_spec(within)}, "bench-kesu")
    specs = kesu.processes.values()
    async with worker_process("kesu", server, "bench-kesu", database, workdir, specs):

        async def open_case(_: int) -> str:
            fields = {"customer_id": "C-1"}
            return (await kesu.start_case(DEADLINE_PROCESS, fields, key=unused_key("d"))).case_id

        started = time.perf_counter()
        case_ids = await run_bounded(cases, concurrency, open_case)
        opening = time.perf_counter() - started
        results = (server.client.get_workflow_handle(i).result() for i in case_ids)
        await stuck_guard(asyncio.gather(*results), "waiting for the deadlines", within)
    sessions = make_session_factory(make_engine(database))
    query = (
        select(CaseRow.opened_at, CaseEventRow.at)
        .join(CaseEventRow, CaseEventRow.case_id == CaseRow.case_id)
        .where(CaseEventRow.event == BREACH_EVENT)
    )
    with sessions() as session:
        rows = session.execute(query).all()
    if len(rows) != cases:
        raise RuntimeError(f"{len(rows)} breaches stored for {cases} cases")
    due = timedelta(seconds=within)
    lateness = [(fired - (opened + due)).total_seconds() for opened, fired in rows]
    return Run(lateness, opening, case_ids)


async def _raw_lateness(
    server: Server,
    workdir: Path,
    cases: int,
    within: int,
    concurrency: int,
    round_: int,
    slots: int | None,
) -> Run:
    database = f"sqlite:///{workdir / f'raw-{round_}.db'}"
    async with worker_process("raw", server, "bench-raw", database, workdir, raw_task_slots=slots):

        async def start(_: int) -> str:
            handle = await server.client.start_workflow(
                Timer.run, float(within), id=unused_key("timer"), task_queue="bench-raw"
            )
            return handle.id

        started = time.perf_counter()
        ids = await run_bounded(cases, concurrency, start)
        opening = time.perf_counter() - started
        handles = (server.client.get_workflow_handle(i, result_type=float) for i in ids)
        waiting = asyncio.gather(*(handle.result() for handle in handles))
        results = await stuck_guard(waiting, "waiting for the timers", within)
        return Run(list(results), opening, ids)


async def measure(
    server: Server,
    workdir: Path,
    *,
    cases: int = 100,
    within: int = 5,
    concurrency: int = 20,
    same_slots: bool = False,
    rounds: int = 1,
) -> Report:
    """``same_slots``: the bare timers' worker takes as many workflow tasks at once as kesu's
    (``worker.WORKFLOW_TASK_SLOTS``) rather than the SDK's default. ``rounds``: bursts of each,
    in alternating order (bare timers first in the first round), judged by the median of the
    rounds' ratios: a p99 of 100 deadlines rests on a run's latest one or two, which the
    machine's other work moves by several times from one burst to the next."""
    slots = WORKFLOW_TASK_SLOTS if same_slots else None
    report = Report(
        title=f"Deadline precision: {cases} deadlines of {within} s each, "
        f"started {concurrency} at a time, {rounds} round{'s' if rounds > 1 else ''}"
        + (f"; bare timers' worker with kesu's {slots} task slots" if slots else ""),
        headers=[
            "round", "timers", "count", "started in s", "p50 ms late", "p99 ms late",
            "max ms late", "p50 arming", "p99 arming", "p50 timer", "p50 dispatch",
            "p99 dispatch",
        ],
    )  # fmt: skip
    ratios: dict[int, list[float]] = {50: [], 99: []}
    for round_ in range(rounds):
        runs: dict[str, Run] = {}
        for name in in_turn(("raw", "kesu"), round_):
            if name == "raw":
                lateness = _raw_lateness(server, workdir, cases, within, concurrency, round_, slots)
            else:
                lateness = _kesu_lateness(server, workdir, cases, within, concurrency, round_)
            runs[name] = await lateness
        for name in ("raw", "kesu"):
            await _report_run(report, server, round_ + 1, name, runs[name], within)
        for share, found in ratios.items():
            found.append(_ratio(runs["kesu"].lateness, runs["raw"].lateness, share))
        if max(run.opening for run in runs.values()) > within:
            report.notes.append(
                f"round {round_ + 1}: starting took longer than {within} s: the first timers "
                "fired while later cases were still being opened, so lateness includes waiting "
                "behind that work"
            )
    across = f" (median of {rounds} rounds: {_listed(ratios[99])})" if rounds > 1 else ""
    report.ratios = [
        Ratio("kesu p50 lateness ÷ bare timer p50", median(ratios[50])),
        Ratio(f"kesu p99 lateness ÷ bare timer p99{across}", median(ratios[99]), P99_TARGET),
    ]
    report.figures["p99_ratio"] = median(ratios[99])
    report.notes.append(
        "arming: the timer starts when the task that sets it completes, later than the task "
        "time its delay was computed from; timer: the server's lag; dispatch: until the task "
        "that records the breach starts (see bench/timer_history.py); ms, over the deadlines"
    )
    return report


LABELS = {"raw": "bare Temporal timer", "kesu": "kesu deadline breach"}


async def _report_run(
    report: Report, server: Server, round_: int, name: str, run: Run, within: int
) -> None:
    parts = [await timer_parts(server.client, i, within) for i in run.ids]
    arming = [part.arming for part in parts]
    dispatch = [part.dispatch for part in parts]
    report.rows.append(
        [
            str(round_),
            LABELS[name],
            str(len(run.lateness)),
            f"{run.opening:.1f}",
            ms(percentile(run.lateness, 50)),
            ms(percentile(run.lateness, 99)),
            ms(max(run.lateness)),
            ms(median(arming)),
            ms(percentile(arming, 99)),
            ms(median([part.timer for part in parts])),
            ms(median(dispatch)),
            ms(percentile(dispatch, 99)),
        ]
    )
    prefix = f"{name}_round{round_}"
    report.figures[f"{prefix}_p99_arming_seconds"] = percentile(arming, 99)
    report.figures[f"{prefix}_p99_dispatch_seconds"] = percentile(dispatch, 99)
    report.figures[f"{prefix}_p50_seconds"] = percentile(run.lateness, 50)
    report.figures[f"{prefix}_p99_seconds"] = percentile(run.lateness, 99)


def _listed(ratios: list[float]) -> str:
    return ", ".join(f"{ratio:.2f}" for ratio in ratios)


def _ratio(values: list[float], baseline: list[float], share: float) -> float:
    return percentile(values, share) / max(percentile(baseline, share), 1e-6)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--cases", type=int, nargs="+", default=[100], help="deadlines per variant, per run"
    )
    parser.add_argument(
        "--within",
        type=int,
        help="seconds (at least 1); default 5, or enough to open the largest burst first",
    )
    parser.add_argument("--concurrency", type=int, default=20, help="starts in flight at once")
    parser.add_argument(
        "--same-slots",
        action="store_true",
        help="give the bare timers' worker kesu's workflow task slots, not the SDK's default",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="bursts of each per size, in alternating order; judged by the median ratio",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds: at least 1")
    within: int = args.within or _within_for(max(args.cases))
    if within < 1:
        parser.error("--within: kesu's shortest deadline is 1 s")
    concurrency: int = args.concurrency
    same_slots: bool = args.same_slots
    rounds: int = args.rounds

    def burst(cases: int) -> Callable[[Server, Path], Coroutine[Any, Any, Report]]:
        return lambda server, workdir: measure(
            server, workdir, cases=cases, within=within, concurrency=concurrency,
            same_slots=same_slots, rounds=rounds,
        )  # fmt: skip

    return max(run_script(burst(cases)) for cases in args.cases)


def _within_for(cases: int) -> int:
    """5 s, or long enough that ``cases`` are all opened before the first falls due."""
    return max(5, cases // OPENING_PER_SECOND)


if __name__ == "__main__":
    exit_after(main(sys.argv[1:]))
