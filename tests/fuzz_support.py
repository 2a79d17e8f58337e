"""Mutated process definitions through the loader, then through the engine.

Each mutant of a shipped definition (deleted, retyped and renamed keys, random guards and
durations, deep nesting, alias bombs, junk and full-width characters, long text, and edits that
keep it valid) is loaded; an accepted one opens a case on a virtual clock and is driven through
its events and alarms. The outcome is one of ``OUTCOMES``; kesu's promise is that only the
first two ever happen.

    python -m tests.fuzz_support --n 10000 [--seed 1]     (make fuzz N=10000)
"""

from __future__ import annotations

import argparse
import random
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from process.compiler import compile_definition
from process.engine import CaseEngine
from process.loader import DefinitionError, load_calendars, load_definition_text
from process.rules import forget_rules
from process.spec import FieldSpec, FieldType, ProcessDefinition
from process.state import EventInput
from tests.fuzz_mutations import mutate

DEFINITIONS = Path(__file__).resolve().parent.parent / "definitions"
REFUSED, ACCEPTED, CRASHED, HUNG, ACCEPTED_THEN_CRASHED = (
    "refused", "accepted", "crashed", f"hung over {2.0:g} s", "accepted, then crashed",
)  # fmt: skip
OUTCOMES = (REFUSED, ACCEPTED, CRASHED, HUNG, ACCEPTED_THEN_CRASHED)
HANG_SECONDS = 2.0
"""Processor time, not wall time: the verdict must not depend on what else the machine runs."""
ABORT_SECONDS = 20.0
"""A mutant still running after this much processor time is stopped (and counted as hung)."""
OPENED_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class Result:
    outcome: str
    seconds: float
    mutations: list[str]
    detail: str = ""


@dataclass
class Tally:
    counts: Counter[str] = field(default_factory=Counter)
    failures: list[Result] = field(default_factory=list)

    def add(self, result: Result) -> None:
        self.counts[result.outcome] += 1
        if result.outcome not in (REFUSED, ACCEPTED):
            self.failures.append(result)

    def table(self) -> str:
        lines = ["| outcome | count |", "| --- | --- |"]
        lines += [f"| {outcome} | {self.counts[outcome]:,} |" for outcome in OUTCOMES]
        return "\n".join(lines)


class _Abort(Exception):
    pass


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise _Abort


def bases() -> list[str]:
    return [path.read_text(encoding="utf-8") for path in sorted(DEFINITIONS.glob("*.yaml"))]


CALENDARS = load_calendars(DEFINITIONS / "calendars")


def sample_value(rng: random.Random, spec: FieldSpec) -> Any:
    kind = spec.type
    if kind is FieldType.ENUM:
        return rng.choice(spec.values or [None])
    if kind is FieldType.NUMBER:
        return rng.choice([0, 1, 2.5, 50001, -3, 10**12])
    if kind is FieldType.INTEGER:
        return rng.choice([0, 1, 2, 3, 4, 5, 10**12])
    if kind is FieldType.BOOLEAN:
        return rng.random() < 0.5
    if kind is FieldType.DATE:
        return "2026-03-01"
    if kind is FieldType.DATETIME:
        return "2026-03-01T09:00:00+08:00"
    return rng.choice(["x", "客户", "a b"])


def drive(definition: ProcessDefinition, rng: random.Random, steps: int = 40) -> None:
    """Open a case and feed it events and alarms on a virtual clock; raise if the engine
    fails (a refused event is fine: that is the engine explaining itself)."""
    spec = compile_definition(definition, CALENDARS)
    try:
        given = {
            name: sample_value(rng, field_spec)
            for name, field_spec in definition.fields.items()
            if field_spec.required or rng.random() < 0.3
        }
        now = OPENED_AT
        engine, _ = CaseEngine.open(spec, "FUZZ-1", given, "fuzz", now)
        for _ in range(steps):
            if engine.state.closed_at is not None:
                break
            events = engine.allowed_events()
            if events and rng.random() < 0.7:
                name = rng.choice(events)
                transition = definition.stages[engine.state.stage].on[name]
                data = {
                    key: sample_value(rng, definition.fields[key])
                    for key in definition.fields
                    if key in transition.requires or rng.random() < 0.2
                }
                event = EventInput(event=name, actor="fuzz", roles=transition.roles[:1], data=data)
                if engine.check_event(event) is None:
                    engine.apply_event(event, now)
            alarm = engine.next_alarm()
            now = alarm if alarm is not None and rng.random() < 0.6 else now + timedelta(hours=7)
            engine.fire_due(now)
            engine.state.model_dump_json()  # what the workflow persists must serialise
    finally:
        forget_rules(spec)  # one machine per mutant: do not keep them all


def run_one(text: str, rng: random.Random, mutations: list[str]) -> Result:
    started = time.process_time()
    outcome, detail = ACCEPTED, ""
    signal.setitimer(signal.ITIMER_PROF, ABORT_SECONDS)
    try:
        try:
            definition = load_definition_text(text, "mutant.yaml", CALENDARS)
            compile_definition(definition, CALENDARS)
        except DefinitionError:
            outcome = REFUSED
        except _Abort:
            outcome, detail = HUNG, "stopped"
        except Exception as error:
            outcome, detail = CRASHED, f"{type(error).__name__}: {error}"[:300]
        if outcome == ACCEPTED:
            try:
                drive(definition, rng)
            except _Abort:
                outcome, detail = HUNG, "stopped while running a case"
            except Exception as error:
                outcome = ACCEPTED_THEN_CRASHED
                detail = f"{type(error).__name__}: {error}"[:300]
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
    seconds = time.process_time() - started
    if seconds > HANG_SECONDS and outcome in (REFUSED, ACCEPTED):
        outcome, detail = HUNG, f"{outcome} after {seconds:.1f} s"
    return Result(outcome, seconds, mutations, detail)


def mutants(count: int, seed: int, valid_leaning: bool = False) -> Iterator[Result]:
    previous = signal.signal(signal.SIGPROF, _on_alarm)
    try:
        texts = bases()
        for index in range(count):
            rng = random.Random(f"{seed}:{index}")
            text, mutations = mutate(rng, rng.choice(texts), valid_leaning=valid_leaning)
            yield run_one(text, rng, mutations)
    finally:
        signal.signal(signal.SIGPROF, previous)


def fuzz(count: int, seed: int, report: Callable[[Result], None] | None = None) -> Tally:
    tally = Tally()
    for index, result in enumerate(mutants(count, seed), start=1):
        tally.add(result)
        if report is not None:
            report(result)
        if index % 1000 == 0:
            print(f"{index:,} mutants", file=sys.stderr, flush=True)
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    started = time.perf_counter()

    def progress(result: Result) -> None:
        if result.outcome not in (REFUSED, ACCEPTED):
            print(f"{result.outcome}: {', '.join(result.mutations)}: {result.detail}", flush=True)

    tally = fuzz(args.n, args.seed, progress)
    elapsed = time.perf_counter() - started
    print(f"\n{args.n:,} mutants (seed {args.seed}) in {elapsed:.0f} s\n")
    print(tally.table())
    return 1 if tally.failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
