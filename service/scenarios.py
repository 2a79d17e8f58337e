"""``starter.py simulate`` and ``starter.py test``: scenarios read, checked, run and shown.

A scenario is read and checked like a definition (every problem at once, with file and line),
then run by ``process.simulate`` on virtual time and printed like ``starter.py show``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from process.compiler import CompiledSpec
from process.loader import DefinitionError, read_validated
from process.scenario import Scenario, scenario_problems
from process.simulate import Simulation, simulate
from process.yamlsource import Document, Problem, format_path
from workflows.case import CaseView

from .render import render_case


class ScenarioError(DefinitionError):
    """A scenario that cannot run, with every problem found (file:line each)."""

    subject = "the scenario"


@dataclass(frozen=True)
class LoadedScenario:
    path: Path
    scenario: Scenario
    document: Document
    spec: CompiledSpec

    def where(self, place: tuple[str | int, ...]) -> str:
        return f"{self.path.name}:{self.document.line_of(place)}"


def load_scenario(
    path: Path, specs: Mapping[str, CompiledSpec], process: str | None = None
) -> LoadedScenario:
    """A scenario checked against its process; DefinitionError with every problem otherwise."""
    try:
        scenario, document = read_validated(path, Scenario, "scenario", "process:, steps:")
    except DefinitionError as error:
        raise ScenarioError(error.problems) from None
    if process is not None and scenario.process != process:
        message = f"process: the scenario is for {scenario.process!r}, not {process!r}"
        raise ScenarioError([f"{path.name}:{document.line_of(('process',))}: {message}"])
    spec = specs.get(scenario.process)
    if spec is None:
        known = ", ".join(sorted(specs)) or "none"
        message = f"process: unknown process {scenario.process!r} (known: {known})"
        raise ScenarioError([f"{path.name}:{document.line_of(('process',))}: {message}"])
    found = scenario_problems(scenario, spec.definition, ZoneInfo(spec.time_zone))
    problems = [Problem(document.line_of(place), format_path(place), text) for place, text in found]
    if problems:
        problems.sort(key=lambda problem: problem.line)
        raise ScenarioError([problem.render(path.name) for problem in problems])
    return LoadedScenario(path, scenario, document, spec)


def run_scenario(loaded: LoadedScenario) -> Simulation:
    return simulate(loaded.spec, loaded.scenario, f"simulated-{loaded.path.stem}")


def render_simulation(loaded: LoadedScenario, run: Simulation) -> str:
    """The case as ``starter.py show`` prints it, its messages, then the verdict."""
    engine = run.engine
    view = CaseView(
        state=engine.state, allowed_events=engine.allowed_events(), definition=loaded.spec.label
    )
    lines = [render_case(view, loaded.spec, show_pii=True), "messages:"]
    for outcome in run.outcomes:
        lines.extend(
            f"  #{outcome.step.seq:<3} {message.recipient}: {message.template}"
            for message in outcome.messages
        )
    if not any(outcome.messages for outcome in run.outcomes):
        lines.append("  (none)")
    lines.append(verdict(loaded, run))
    return "\n".join(lines)


def verdict(loaded: LoadedScenario, run: Simulation) -> str:
    steps = len(loaded.scenario.steps)
    title = f" — {loaded.scenario.title}" if loaded.scenario.title else ""
    if run.ok:
        return f"ok    {loaded.path.name}: {steps} steps, {run.elapsed} of virtual time{title}"
    lines = [f"FAIL  {loaded.path.name}{title}"]
    for failure in sorted(run.failures, key=lambda f: loaded.document.line_of(f.place)):
        step = loaded.scenario.steps[failure.step]
        what = f"step {failure.step + 1}" + (f" ({step.event})" if step.event else "")
        lines.append(f"  {loaded.where(failure.place)}: {what}: {failure.message}")
    return "\n".join(lines)


def run_suite(folder: Path, specs: Mapping[str, CompiledSpec]) -> tuple[str, bool]:
    """Every ``*.yaml`` scenario under ``folder`` (or one file): a line each, then a total."""
    files = sorted(folder.rglob("*.yaml")) if folder.is_dir() else [folder]
    if not files:
        return f"{folder}: no scenarios (*.yaml) found", False
    lines, failed = [], 0
    for path in files:
        try:
            loaded = load_scenario(path, specs)
        except ScenarioError as error:
            failed += 1
            lines.append(f"FAIL  {path.name}: cannot be read")
            lines.extend(f"  {problem}" for problem in error.problems)
            continue
        run = run_scenario(loaded)
        failed += not run.ok
        lines.append(verdict(loaded, run))
    lines.append(f"{len(files) - failed} passed, {failed} failed")
    return "\n".join(lines), failed == 0
