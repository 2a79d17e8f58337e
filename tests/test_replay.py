"""Recorded case histories must replay on today's code: a change that would break running
cases fails here. ``KESU_RECORD_HISTORIES=1 pytest -k "every_stage or extended_decision"``
records new ones (a full complaint; a bank complaint with an extension, business clocks and an
escalation chain); keep the old files too, since cases started on old code still run."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.case import CaseWorkflow
from workflows.definitions import workflow_runner

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_there_are_recorded_histories() -> None:
    assert HISTORIES, "tests/histories holds no recorded case history"


@pytest.mark.parametrize("path", HISTORIES, ids=[path.stem for path in HISTORIES])
async def test_a_recorded_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    replayer = Replayer(
        workflows=[CaseWorkflow],
        data_converter=pydantic_data_converter,
        workflow_runner=workflow_runner(),
    )
    await replayer.replay_workflow(history)
