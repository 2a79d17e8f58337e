"""Recorded case histories must replay on today's code: a change that would break running
cases fails here. ``KESU_RECORD_HISTORIES=1 pytest -k "every_stage or extended_decision"``
records new ones (a full complaint; a bank complaint with an extension, business clocks and an
escalation chain; ``-k upgrades`` a claim that names its definition by hash and is upgraded to
v2, with the definitions it references beside it in ``*.definitions.json``; ``-k publishing``
a bank complaint re-targeted by a published calendar update; ``-k provisional_timeout`` a
stage timeout in working days re-targeted and fired; ``-k setting_the_field`` a clock counting
from a date field set later; ``test_halts.py -k repaired`` a complaint halted by a data fault
on PostgreSQL, alerted, repaired too early, then repaired; ``test_long_case.py -k sent_again``
a complaint continuing as new at its bound of steps per run, and the run after it answering
events sent again with their ids). The first, second and repaired ones are also recorded as
``*_lighter.json``: cases that arm their alarms with the step that sets them and store steps
locally (``LIGHTER_PATCH``). Keep the old files too, since cases started on old code (which
carried the whole definition, or stored every step durably) still run."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from pydantic import TypeAdapter
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from process.compiler import CompiledSpec
from workflows import definitions
from workflows.case import LIGHTER_PATCH, CaseWorkflow
from workflows.definitions import workflow_runner

DEFINITIONS_SUFFIX = ".definitions.json"
HISTORIES = sorted(
    path
    for path in (Path(__file__).parent / "histories").glob("*.json")
    if not path.name.endswith(DEFINITIONS_SUFFIX)
)


def _load_definitions(history: Path) -> None:
    """What a worker's registry would hold: the definitions the history names by hash."""
    beside = history.with_name(history.stem + DEFINITIONS_SUFFIX)
    if beside.exists():
        specs = TypeAdapter(list[CompiledSpec]).validate_json(beside.read_text(encoding="utf-8"))
        definitions.CACHE.add(specs)


def test_there_are_recorded_histories() -> None:
    assert HISTORIES, "tests/histories holds no recorded case history"


def _markers(path: Path) -> list[tuple[str, str]]:
    """(marker name, its first payload decoded) of every marker in the history."""
    events = json.loads(path.read_text(encoding="utf-8"))["events"]
    found = []
    for event in events:
        marker = event.get("markerRecordedEventAttributes")
        if marker is not None:
            payloads = [p for detail in marker["details"].values() for p in detail["payloads"]]
            data = base64.b64decode(payloads[0]["data"]).decode() if payloads else ""
            found.append((marker["markerName"], data))
    return found


def test_the_lighter_path_is_among_them() -> None:
    """Histories of the patched path, with steps stored by local activities among them."""
    recorded = {path.stem: _markers(path) for path in HISTORIES}
    lighter = {
        stem: markers
        for stem, markers in recorded.items()
        if any(LIGHTER_PATCH in data for _, data in markers)
    }
    assert set(lighter) >= {
        "complaint_full_lighter",
        "bank_complaint_escalated_lighter",
        "complaint_halted_repaired_lighter",
    }
    for markers in lighter.values():
        assert any(name == "core_local_activity" for name, _ in markers)


@pytest.mark.parametrize("path", HISTORIES, ids=[path.stem for path in HISTORIES])
async def test_a_recorded_history_replays(path: Path) -> None:
    _load_definitions(path)
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    replayer = Replayer(
        workflows=[CaseWorkflow],
        data_converter=pydantic_data_converter,
        workflow_runner=workflow_runner(),
    )
    await replayer.replay_workflow(history)
