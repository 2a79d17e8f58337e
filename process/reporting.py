"""Checks of a definition's ``reporting:`` section: the names it sets must exist.

Only names the designer wrote are checked; the defaults may name things a process lacks (a
service request has no ``csat`` field), and then that measure is simply empty in reports.
"""

from __future__ import annotations

from .problems import unknown_name
from .spec import ProcessDefinition

Found = list[tuple[tuple[str | int, ...], str]]

_FIELDS = ("team", "category", "csat", "nps", "responsibility", "root_cause")
_CLOCKS = ("first_response", "resolution", "rectification")


def check_reporting(definition: ProcessDefinition) -> Found:
    reporting, found = definition.reporting, Found()
    written = reporting.model_fields_set
    for key in _FIELDS:
        name = getattr(reporting, key)
        if key in written and name not in definition.fields:
            found.append((("reporting", key), unknown_name("field", name, definition.fields)))
    for key in _CLOCKS:
        name = getattr(reporting, key)
        if key in written and name not in definition.deadlines:
            found.append((("reporting", key), unknown_name("deadline", name, definition.deadlines)))
    if "review_stages" in written:
        for index, stage in enumerate(reporting.review_stages):
            if stage not in definition.stages:
                path = ("reporting", "review_stages", index)
                found.append((path, unknown_name("stage", stage, definition.stages)))
    if "reopen_events" in written:
        events = {event for stage in definition.stages.values() for event in stage.on}
        for index, event in enumerate(reporting.reopen_events):
            if event not in events:
                path = ("reporting", "reopen_events", index)
                found.append((path, unknown_name("event", event, sorted(events))))
    return found
