"""Simulation on virtual time: each shipped scenario, in milliseconds, against its virtual span.

``python -m bench.simulate [--repeat R]``

A designer's scenario runs the case engine with a clock that jumps from alarm to alarm, so a
case of 15 days or more should take milliseconds. The ratio is the wall time a scenario takes
per 15 days of virtual time, in seconds: the target is that a 15-day case runs within a second.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bench.common import Ratio, Report, median, ms
from runtime import load_specs
from service.scenarios import load_scenario, run_scenario

DEFINITIONS = Path(__file__).resolve().parent.parent / "definitions"
FIFTEEN_DAYS = 15 * 24 * 3600


def measure(repeat: int = 20) -> Report:
    specs = load_specs(DEFINITIONS)
    rows, worst = [], 0.0
    for path in sorted((DEFINITIONS / "tests").glob("*.yaml")):
        loaded = load_scenario(path, specs)
        times = []
        for _ in range(repeat + 1):
            started = time.perf_counter()
            run = run_scenario(loaded)
            times.append(time.perf_counter() - started)
        wall = median(times[1:])  # the first run warms the rule caches
        engine = run.engine.state
        virtual = ((run.now or engine.opened_at) - engine.opened_at).total_seconds()
        worst = max(worst, wall / virtual)
        rows.append([path.stem, f"{virtual / 86400:.1f}", str(len(engine.steps)), ms(wall)])
    return Report(
        title=f"Scenarios on virtual time (median of {repeat})",
        headers=["scenario", "virtual days", "steps", "ms"],
        rows=rows,
        ratios=[
            Ratio("wall seconds per 15 virtual days, worst scenario", worst * FIFTEEN_DAYS, 1.0)
        ],
        figures={"worst_ratio": worst},
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    print(measure(args.repeat).render(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
