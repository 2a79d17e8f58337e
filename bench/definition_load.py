"""Definition load: validate and compile a generated 100-stage definition, in milliseconds.

``python -m bench.definition_load [--stages N] [--repeat R]``

The definition (``bench.specs.generated_definition``) gives every stage events with roles,
required inputs and a guard, entry actions with a decision table and a message, every tenth a
timeout, and a deadline per ten stages with warnings. The baseline in the same run is
``yaml.safe_load`` of the same text: the least any YAML-based tool must spend on it.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

import yaml

from bench.common import Ratio, Report, median, ms
from bench.specs import generated_definition
from process.compiler import compile_definition
from process.loader import load_definition_text


def _timed(action: Callable[[], Any], repeat: int) -> float:
    """Median seconds of ``repeat`` runs (after one unmeasured run that warms caches)."""
    action()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return median(times)


def measure(stages: int = 100, repeat: int = 20) -> Report:
    text = generated_definition(stages)
    source = f"generated-{stages}.yaml"
    definition = load_definition_text(text, source)
    parse = _timed(lambda: yaml.safe_load(text), repeat)
    load = _timed(lambda: load_definition_text(text, source), repeat)
    compile_ = _timed(lambda: compile_definition(definition), repeat)
    total = _timed(lambda: compile_definition(load_definition_text(text, source)), repeat)
    compiled = compile_definition(definition)
    report = Report(
        title=f"Definition load: {stages} stages, {len(text.splitlines())} YAML lines, "
        f"{len(compiled.machine.transitions)} transitions (median of {repeat})",
        headers=["step", "ms"],
        rows=[
            ["yaml.safe_load (baseline)", ms(parse)],
            ["kesu load + validate (file:line errors, checks)", ms(load)],
            ["kesu compile (machine, hash)", ms(compile_)],
            ["kesu validate + compile", ms(total)],
        ],
        ratios=[Ratio("kesu validate + compile ÷ yaml.safe_load", total / parse)],
        figures={"parse_seconds": parse, "total_seconds": total},
    )
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stages", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    if args.stages < 2:
        parser.error("--stages: a process needs at least 2 stages")
    print(measure(args.stages, args.repeat).render(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
