"""Forms for a case's events, built from what the definition declares each event takes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from process.access import accepted_inputs
from process.spec import FieldType, ProcessDefinition, Transition
from service.field_text import field_from_text

_INPUT_TYPES = {
    FieldType.NUMBER: "number",
    FieldType.INTEGER: "number",
    FieldType.DATE: "date",
    FieldType.DATETIME: "datetime-local",
}


@dataclass(frozen=True)
class Input:
    name: str
    label: str
    kind: str
    """An HTML input type, or ``select``, ``textarea``, ``checkbox``."""
    required: bool
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class EventForm:
    event: str
    label: str
    inputs: tuple[Input, ...]


def event_inputs(transition: Transition) -> list[str]:
    """The inputs an event takes: those it requires first, then those it requires under a
    condition (``requires_when``), then any others it declares."""
    return accepted_inputs(transition)


def event_forms(
    definition: ProcessDefinition, stage: str, allowed: Iterable[str], roles: Iterable[str]
) -> list[EventForm]:
    """A form for each event of ``stage`` that the case allows now and ``roles`` may send."""
    held = set(roles)
    transitions = definition.stages[stage].on if stage in definition.stages else {}
    forms = []
    for event in allowed:
        transition = transitions.get(event)
        if transition is None or (transition.roles and held.isdisjoint(transition.roles)):
            continue
        inputs = tuple(
            _input(definition, name, name in transition.requires)
            for name in event_inputs(transition)
        )
        forms.append(EventForm(event=event, label=transition.title or event, inputs=inputs))
    return forms


def _input(definition: ProcessDefinition, name: str, required: bool) -> Input:
    field = definition.fields.get(name)
    if field is None:
        return Input(name=name, label=name, kind="text", required=required)
    label = field.title or name
    if field.type is FieldType.ENUM:
        choices = tuple(field.values or ())
        return Input(name=name, label=label, kind="select", required=required, choices=choices)
    if field.type is FieldType.BOOLEAN:
        return Input(name=name, label=label, kind="checkbox", required=False)
    if field.type is FieldType.TEXT:
        return Input(name=name, label=label, kind="textarea", required=required)
    return Input(
        name=name, label=label, kind=_INPUT_TYPES.get(field.type, "text"), required=required
    )


def event_data(
    definition: ProcessDefinition, transition: Transition, form: Mapping[str, str]
) -> dict[str, Any]:
    """The event's inputs from a submitted form: typed, blank ones left out."""
    data: dict[str, Any] = {}
    for name in event_inputs(transition):
        field = definition.fields.get(name)
        text = form.get(name, "").strip()
        if field is not None and field.type is FieldType.BOOLEAN:
            data[name] = bool(text)
        elif text:
            data[name] = field_from_text(field, text)
    return data


def form_day(text: str | None, *, end: bool = False) -> datetime | None:
    """A date from the form as a UTC moment; the end of a period includes its last day."""
    try:
        day = date.fromisoformat(text or "")
    except ValueError:
        return None
    moment = datetime.combine(day, time(), tzinfo=UTC)
    return moment + timedelta(days=1) if end else moment
