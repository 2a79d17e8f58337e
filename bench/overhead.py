"""Engine overhead: the shipped complaint process vs the same process written by hand.

``python -m bench.overhead [--cases N] [--concurrency C] [--rounds R]``

Each case takes the same journey (start, then six events: accept ... close) on both: through
``Kesu`` and ``CaseWorkflow`` on a ``kesu`` worker, and through the plain client and
``bench.raw_complaint.RawComplaint`` on a ``raw`` worker. The two workers run in their own
processes on their own SQLite files with the same activity code. Rounds alternate which
variant goes first; each round gives one kesu/raw ratio and the report shows their median.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.common import (
    Phase,
    Ratio,
    Report,
    Server,
    in_turn,
    median,
    ms,
    run_script,
    worker_process,
)
from bench.journey import Drive, drive_cases, history_profile, kesu_case, raw_case
from bench.specs import complaint_spec
from runtime import exit_after
from service.cases import Kesu

TARGET = 1.15
HISTORY_TARGET = 1.1
"""Issue 16: a case's Temporal history at most a tenth larger than the hand-written one's."""
PROFILED = 20
"""Cases whose histories are counted for the activities/timers/events columns."""


async def measure(
    server: Server,
    workdir: Path,
    *,
    cases: int = 60,
    concurrency: int = 10,
    rounds: int = 3,
    warmup: int = 5,
) -> Report:
    databases = {name: f"sqlite:///{workdir / f'{name}.db'}" for name in ("kesu", "raw")}
    kesu = Kesu(server.client, {"complaint": complaint_spec()}, "bench-kesu")
    drives: dict[str, Drive] = {
        "kesu": lambda key: kesu_case(kesu, key),
        "raw": lambda key: raw_case(server.client, "bench-raw", key),
    }
    phases: dict[str, list[Phase]] = {"kesu": [], "raw": []}
    profiles: dict[str, dict[str, float]] = {}
    async with (
        worker_process(
            "kesu", server, "bench-kesu", databases["kesu"], workdir, kesu.processes.values()
        ) as kesu_worker,
        worker_process("raw", server, "bench-raw", databases["raw"], workdir) as raw_worker,
    ):
        workers = {"kesu": kesu_worker, "raw": raw_worker}
        for name in phases:  # first cases pay for imports and caches; not measured
            await drive_cases(workers[name], databases[name], drives[name], warmup, concurrency)
        for round_number in range(rounds):
            for name in in_turn(["raw", "kesu"], round_number):
                case_ids, phase = await drive_cases(
                    workers[name], databases[name], drives[name], cases, concurrency
                )
                phases[name].append(phase)
                profiles[name] = await history_profile(server.client, case_ids[:PROFILED])
    return _report(phases, profiles, cases, concurrency)


def _report(
    phases: dict[str, list[Phase]],
    profiles: dict[str, dict[str, float]],
    cases: int,
    concurrency: int,
) -> Report:
    wall = [k.wall / r.wall for k, r in zip(phases["kesu"], phases["raw"], strict=True)]
    cpu = [k.cpu / r.cpu for k, r in zip(phases["kesu"], phases["raw"], strict=True)]
    report = Report(
        title=f"Engine overhead: {cases} complaint cases x {len(wall)} rounds, "
        f"{concurrency} in flight",
        headers=[
            "variant", "cases/s", "wall ms/case", "worker CPU ms/case", "activities/case",
            "timers/case", "updates/case", "history events/case", "history KiB/case",
        ],
    )  # fmt: skip
    for name, label in (("raw", "hand-written Temporal"), ("kesu", "kesu CaseWorkflow")):
        walls = [phase.wall for phase in phases[name]]
        cpus = [phase.cpu for phase in phases[name]]
        profile = profiles[name]
        report.rows.append(
            [
                label,
                f"{cases / median(walls):.1f}",
                ms(median(walls) / cases),
                ms(median(cpus) / cases),
                f"{profile.get('activities', 0):.1f}",
                f"{profile.get('timers', 0):.1f}",
                f"{profile.get('updates', 0):.1f}",
                f"{profile.get('events', 0):.1f}",
                f"{profile.get('history bytes', 0) / 1024:.1f}",
            ]
        )
        report.figures[f"{name}_cases_per_second"] = cases / median(walls)
        report.figures[f"{name}_cpu_seconds_per_case"] = median(cpus) / cases
        report.figures[f"{name}_activities_per_case"] = profile.get("activities", 0)
        report.figures[f"{name}_record_steps_per_case"] = profile.get("record_step", 0)
        report.figures[f"{name}_history_bytes_per_case"] = profile.get("history bytes", 0)
    history = report.figures["kesu_history_bytes_per_case"] / max(
        report.figures["raw_history_bytes_per_case"], 1.0
    )
    report.ratios = [
        Ratio("kesu/raw wall time per case (raw cases/s ÷ kesu cases/s)", median(wall), TARGET),
        Ratio("kesu/raw worker CPU per case", median(cpu), TARGET),
        Ratio("kesu/raw history bytes per case", history, HISTORY_TARGET),
    ]
    report.figures["wall_ratio"], report.figures["cpu_ratio"] = median(wall), median(cpu)
    rounds = ", ".join(f"{w:.2f}/{c:.2f}" for w, c in zip(wall, cpu, strict=True))
    report.notes.append(f"per round (wall/CPU): {rounds}")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cases", type=int, default=60, help="cases per variant per round")
    parser.add_argument("--concurrency", type=int, default=10, help="cases in flight at once")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    return run_script(
        lambda server, workdir: measure(
            server, workdir, cases=args.cases, concurrency=args.concurrency, rounds=args.rounds
        )
    )


if __name__ == "__main__":
    exit_after(main(sys.argv[1:]))
