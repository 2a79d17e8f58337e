"""Checks of a definition's ``reporting:`` section: the names it sets must exist.

Only names the designer wrote are checked; the defaults may name things a process lacks (a
service request has no ``csat`` field), and then that measure is simply empty in reports.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from .spec import ProcessDefinition

Found = list[tuple[tuple[str | int, ...], str]]

_FIELDS = ("team", "category", "csat", "nps", "responsibility")
_CLOCKS = ("first_response", "resolution")


def _unknown(kind: str, name: str, known: Iterable[str]) -> str:
    message = f"unknown {kind} {name!r}"
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"{message}; did you mean {close[0]!r}?" if close else message


def check_reporting(definition: ProcessDefinition) -> Found:
    reporting, found = definition.reporting, Found()
    written = reporting.model_fields_set
    for key in _FIELDS:
        name = getattr(reporting, key)
        if key in written and name not in definition.fields:
            found.append((("reporting", key), _unknown("field", name, definition.fields)))
    for key in _CLOCKS:
        name = getattr(reporting, key)
        if key in written and name not in definition.deadlines:
            found.append((("reporting", key), _unknown("deadline", name, definition.deadlines)))
    if "review_stages" in written:
        for index, stage in enumerate(reporting.review_stages):
            if stage not in definition.stages:
                path = ("reporting", "review_stages", index)
                found.append((path, _unknown("stage", stage, definition.stages)))
    if "reopen_events" in written:
        events = {event for stage in definition.stages.values() for event in stage.on}
        for index, event in enumerate(reporting.reopen_events):
            if event not in events:
                path = ("reporting", "reopen_events", index)
                found.append((path, _unknown("event", event, sorted(events))))
    return found
