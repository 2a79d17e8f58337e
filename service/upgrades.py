"""Upgrading a process's open cases from one published version to another.

The plan comes first and covers every open case: those the database holds, and those Temporal
runs that the database does not hold yet (just opened, their first step not stored), read from
their workflows; one whose workflow does not answer is refused in the plan, never left out.
Each case: each must map to a stage of the target and its
values must fit it; renamed fields (``field_map``) must exist on both sides with types that
fit, and customer data must stay customer data. A plan with a refused case moves nothing.
Then each case moves through its own workflow (a ``case.upgraded`` step, audited like any
other) with an update id fixed by case and target, so a rerun after a crash half-way moves
the rest and none twice: a moved case is on the target version in the database and no longer
in the plan.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from activities.storage import OpenCase, open_cases_on, stored_case_ids, version_spec
from process.compiler import CompiledSpec
from process.refusals import Refusal, RefusalKind
from process.state import CaseState, EventResult
from process.upgrade import field_map_problems, upgrade_problem

from .listing import CaseFilter, CaseListing
from .refusals import KesuError
from .versions import PublishedDefinitions

if TYPE_CHECKING:
    from workflows.case import CaseView

MOST_OPEN_CASES = 100_000
"""How many running cases of a process one plan reads from Temporal's visibility."""
NOT_STORED = "(not stored yet)"
"""The case number of a case whose first step is not stored: numbers are given when it is."""


class CaseUpgrader(Protocol):
    """What moving cases needs of the client (``Kesu``): one upgrade update per case."""

    async def upgrade_case(
        self,
        case_id: str,
        to_definition: str,
        *,
        stage_map: Mapping[str, str] | None = None,
        field_map: Mapping[str, str] | None = None,
        actor: str = "system",
        request_id: str | None = None,
    ) -> EventResult: ...

    @property
    def task_queue(self) -> str: ...

    async def list_cases(
        self, where: CaseFilter | None = None, *, limit: int = 100
    ) -> list[CaseListing]: ...

    async def get_case(self, case_id: str, *, bounded: bool = True) -> CaseView: ...


@dataclass(frozen=True)
class Unstored:
    """A case Temporal runs that the database does not hold yet, as its workflow answered."""

    case_id: str
    state: CaseState | None
    problem: str | None = None
    """Why its state could not be read (then the plan refuses it)."""


async def unstored_open_cases(
    kesu: CaseUpgrader, registry: PublishedDefinitions, process: str
) -> list[Unstored]:
    """The running cases of ``process`` in Temporal that the database has no row of: those on
    kesu's task queue (another installation may share the namespace, with its own database)."""
    where = CaseFilter(process=process, task_queue=kesu.task_queue)
    running = await kesu.list_cases(where, limit=MOST_OPEN_CASES)
    with registry.sessions() as session:
        stored = stored_case_ids(session, process)
    found: list[Unstored] = []
    for listed in running:
        if listed.case_id in stored:
            continue
        try:
            view = await kesu.get_case(listed.case_id)
        except KesuError as error:
            found.append(Unstored(listed.case_id, None, str(error)))
        else:
            found.append(Unstored(listed.case_id, view.state))
    return found


__all__ = [
    "NOT_STORED",
    "Move",
    "Unstored",
    "UpgradePlan",
    "parse_field_map",
    "parse_stage_map",
    "plan_upgrade",
    "run_upgrade",
    "unstored_open_cases",
]


@dataclass(frozen=True)
class Move:
    case: OpenCase
    to_stage: str
    problem: str | None = None
    """Why the case cannot move (in a plan), or why moving it failed."""
    seq: int | None = None
    """The ``case.upgraded`` step, once moved."""


@dataclass(frozen=True)
class UpgradePlan:
    source: CompiledSpec
    target: CompiledSpec
    stage_map: dict[str, str]
    moves: list[Move]
    carried_out: bool = False
    field_map: dict[str, str] = field(default_factory=dict)
    """False for a dry run or a refused plan: nothing moved."""

    @property
    def refused(self) -> list[Move]:
        return [move for move in self.moves if move.problem is not None]


def _pairs(pairs: list[str], option: str, what: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise KesuError(f"{option} takes old_{what}=new_{what}, got {pair!r}")
        if old.strip() in found:
            raise KesuError(f"{option}: {old.strip()!r} is mapped twice")
        found[old.strip()] = new.strip()
    return found


def parse_stage_map(pairs: list[str]) -> dict[str, str]:
    return _pairs(pairs, "--map", "stage")


def parse_field_map(pairs: list[str]) -> dict[str, str]:
    return _pairs(pairs, "--map-field", "field")


def _text(refusal: Refusal | None) -> str | None:
    return None if refusal is None else refusal.message


def _spec(registry: PublishedDefinitions, process: str, version: int) -> CompiledSpec:
    with registry.sessions() as session:
        spec = version_spec(session, process, version)
    if spec is None:
        raise KesuError(f"version {version} of {process} is not published", RefusalKind.NOT_FOUND)
    return spec


def plan_upgrade(
    registry: PublishedDefinitions,
    process: str,
    from_version: int,
    to_version: int,
    stage_map: Mapping[str, str],
    field_map: Mapping[str, str] | None = None,
    unstored: Sequence[Unstored] = (),
) -> UpgradePlan:
    """Every open case of ``process`` on ``from_version``, each with its verdict; ``unstored``:
    the running cases Temporal has and the database has not (``unstored_open_cases``)."""
    field_map = dict(field_map or {})
    if to_version <= from_version:
        raise KesuError(f"--to ({to_version}) must be a newer version than --from ({from_version})")
    source = _spec(registry, process, from_version)
    target = _spec(registry, process, to_version)
    problems = (
        [
            f"--map {old}={new}: v{from_version} has no stage {old!r}"
            for old, new in stage_map.items()
            if old not in source.definition.stages
        ]
        + [
            f"--map {old}={new}: v{to_version} has no stage {new!r}"
            for old, new in stage_map.items()
            if new not in target.definition.stages
        ]
        + field_map_problems(source, target, field_map)
    )
    if problems:
        raise KesuError("; ".join(problems))
    with registry.sessions() as session:
        cases = open_cases_on(session, source.content_hash)
    known = {case.case_id for case in cases}
    unreadable: list[Move] = []
    for case in unstored:
        if case.case_id in known:
            continue  # stored since Temporal was asked: the database's row is planned
        if case.state is None:
            problem = (
                f"case {case.case_id} is open in Temporal and not stored yet, and its workflow "
                f"could not be read ({case.problem}): nothing moves; run the plan again"
            )
            unreadable.append(Move(OpenCase(case.case_id, NOT_STORED, "?", {}), "?", problem))
        elif case.state.content_hash == source.content_hash and case.state.closed_at is None:
            state = case.state
            cases.append(OpenCase(state.case_id, NOT_STORED, state.stage, dict(state.fields)))
    moves = unreadable + [
        Move(
            case,
            stage_map.get(case.stage, case.stage),
            _text(
                upgrade_problem(
                    case.case_id,
                    case.stage,
                    case.fields,
                    False,
                    source,
                    target,
                    stage_map,
                    field_map,
                )
            ),
        )
        for case in cases
    ]
    return UpgradePlan(source, target, dict(stage_map), moves, field_map=field_map)


async def run_upgrade(
    kesu: CaseUpgrader,
    plan: UpgradePlan,
    *,
    actor: str = "system",
    progress: Callable[[Move], None] | None = None,
) -> list[Move]:
    """Move every case of a plan without refusals; each result says moved (seq) or why not."""
    if plan.refused:
        raise KesuError(
            f"{len(plan.refused)} case(s) cannot move: nothing moved", RefusalKind.CONFLICT
        )
    target = plan.target.content_hash
    done: list[Move] = []
    for move in plan.moves:
        try:
            result = await kesu.upgrade_case(
                move.case.case_id,
                target,
                stage_map=plan.stage_map,
                field_map=plan.field_map,
                actor=actor,
                request_id=f"upgrade:{move.case.case_id}:{target}",
            )
            finished = Move(move.case, move.to_stage, seq=result.seq)
        except KesuError as error:
            finished = Move(move.case, move.to_stage, problem=str(error))
        done.append(finished)
        if progress is not None:
            progress(finished)
    return done
