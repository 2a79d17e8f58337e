"""Service-layer objects turned into the API's response bodies, customer data masked."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from typing import Any

from process.compiler import CompiledSpec
from process.links import duplicates_of, group_of, merged_into
from process.pii import pii_names
from process.spec import ProcessDefinition
from process.state import EventResult, Step
from service.cases import CaseListing, KesuError
from service.pii import mask_pii, may_see_pii
from service.upgrades import UpgradePlan
from workflows.case import CaseView

from . import models


def case_body(view: CaseView, spec: CompiledSpec | None, roles: Iterable[str]) -> models.Case:
    """The case as the caller may see it: pii values masked unless a role is in ``pii_roles``.

    Titles and masking follow the case's own published version (``spec``); without it (not
    found) every value is masked and no title is given.
    """
    state = view.state
    definition = spec.definition if spec is not None else None
    show = may_see_pii(definition, roles)

    def shown(values: dict[str, object]) -> dict[str, object]:
        return dict(values) if show else mask_pii(values, definition)

    stages = definition.stages if definition is not None else {}
    deadlines = definition.deadlines if definition is not None else {}
    stage = stages.get(state.stage)
    return models.Case(
        case_id=state.case_id,
        process=state.process,
        definition=view.definition,
        stage=state.stage,
        stage_title=stage.title if stage else None,
        closed=state.closed_at is not None,
        opened_at=state.opened_at,
        stage_entered_at=state.stage_entered_at,
        closed_at=state.closed_at,
        allowed_events=[] if view.halted else view.allowed_events,
        pending_steps=view.pending,
        halted=view.halted,
        fields=shown(state.fields),
        pii_masked=not show
        and (
            definition is None or bool(definition.pii_fields or pii_names(definition, state.fields))
        ),
        clocks=[
            models.Clock(
                name=name,
                title=deadline.title if deadline else None,
                status=clock.status.value,
                measure=deadline.clock if deadline else "calendar",
                target=clock.target,
                started_at=clock.started_at,
                due_at=clock.due_at,
                paused_at=clock.paused_at,
                paused_seconds=clock.paused_for.total_seconds(),
                stopped_at=clock.stopped_at,
                breached_at=clock.breached_at,
                met=clock.met,
                problem=clock.problem,
                provisional=clock.provisional,
                counts_from=clock.counts_from,
                explain=clock.explain,
            )
            for name, clock in state.clocks.items()
            for deadline in [deadlines.get(name)]
        ],
        timeout=models.StageTimeout(**dict(view.timeout)) if view.timeout is not None else None,
        timeline=[
            models.TimelineStep(**{**dict(step), "data": shown(step.data)}) for step in state.steps
        ],
        earlier_steps=state.earlier_steps,
        **_links(state.steps),
    )


def _links(steps: list[Step]) -> dict[str, Any]:
    """Merges and the group, as the case's own steps recorded them."""
    group = group_of(steps)
    return {
        "merged_into": merged_into(steps),
        "duplicates": duplicates_of(steps),
        "group": group[0] if group else None,
        "group_plan": group[1] if group else None,
    }


def event_applied(
    case_id: str, case_number: str | None, event: str, result: EventResult
) -> models.EventApplied:
    """The answer of a route that recorded a step on a case."""
    return models.EventApplied(
        case_id=case_id, case_number=case_number, event=event, **result.model_dump()
    )


def case_row(item: CaseListing) -> models.CaseRow:
    return models.CaseRow(
        case_id=item.case_id,
        process=item.process,
        stage=item.stage,
        priority=item.priority,
        next_deadline=item.next_deadline,
        breached=item.breached,
        running=item.running,
        opened_at=item.opened_at,
        provisional=item.provisional,
    )


def definition_body(spec: CompiledSpec) -> models.Definition:
    definition: ProcessDefinition = spec.definition
    return models.Definition(
        process=definition.process,
        version=definition.version,
        title=definition.title,
        label=spec.label,
        roles=definition.roles,
        pii_roles=definition.pii_roles,
        fields={
            name: models.FieldInfo(
                type=field.type.value,
                title=field.title,
                required=field.required,
                pii=field.pii,
                values=field.values,
            )
            for name, field in definition.fields.items()
        },
        stages={
            name: models.StageInfo(
                title=stage.title,
                initial=stage.initial,
                final=stage.final,
                events={
                    event: models.EventInfo(
                        to=move.to,
                        title=move.title,
                        roles=move.roles,
                        requires=move.requires,
                        requires_when=[
                            models.RequiredWhen(when=needed.when, fields=needed.fields)
                            for needed in move.requires_when
                        ],
                    )
                    for event, move in stage.on.items()
                },
            )
            for name, stage in definition.stages.items()
        },
        deadlines=list(definition.deadlines),
    )


def encode_page_token(token: bytes | None) -> str | None:
    """A listing's page token as URL-safe text (what callers pass back as ``page_token``)."""
    return base64.urlsafe_b64encode(token).decode("ascii").rstrip("=") if token else None


def decode_page_token(text: str | None) -> bytes | None:
    if not text:
        return None
    try:
        padded = text + "=" * (-len(text) % 4)
        return base64.b64decode(padded, altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise KesuError("page_token is not a token this listing gave") from None


def upgrade_body(plan: UpgradePlan) -> models.UpgradeResult:
    return models.UpgradeResult(
        process=plan.source.process,
        from_version=plan.source.version,
        to_version=plan.target.version,
        carried_out=plan.carried_out,
        field_map=plan.field_map,
        moves=[
            models.UpgradeMove(
                case_id=move.case.case_id,
                case_number=move.case.case_number,
                stage=move.case.stage,
                to_stage=move.to_stage,
                problem=move.problem,
                seq=move.seq,
            )
            for move in plan.moves
        ],
    )
