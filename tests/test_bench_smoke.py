"""Each benchmark once with tiny numbers: the scripts keep working as kesu changes.

No figure is judged here (timings on a shared machine are not test material); what is checked
is that every script runs end to end and that its comparison stays fair.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from bench import (
    deadlines,
    definition_load,
    long_case,
    open_cases,
    overhead,
    reports,
    simulate,
    throughput,
)
from bench.common import Server

pytestmark = pytest.mark.temporal


@pytest.fixture
def server(temporal_env: WorkflowEnvironment) -> Server:
    client = temporal_env.client
    return Server(client.service_client.config.target_host, client)


def test_definition_load_smoke() -> None:
    report = definition_load.measure(stages=10, repeat=1)
    assert report.figures["total_seconds"] > 0
    assert "kesu validate + compile" in report.render()


def test_simulate_smoke() -> None:
    report = simulate.measure(repeat=1)
    assert report.figures["worst_ratio"] > 0
    assert "complaint_dissatisfied" in report.render()


async def test_overhead_smoke_compares_equal_work(server: Server, tmp_path: Path) -> None:
    report = await overhead.measure(server, tmp_path, cases=2, concurrency=2, rounds=1, warmup=1)
    # The baseline is only fair while it stores as many steps per case as kesu does (the
    # number of deliveries may differ by chance: one delivery can take two steps' messages).
    figures = report.figures
    assert figures["kesu_record_steps_per_case"] == figures["raw_record_steps_per_case"] == 7
    assert "kesu/raw worker CPU per case" in report.render()


async def test_throughput_smoke(server: Server, tmp_path: Path) -> None:
    report = await throughput.measure(
        server, tmp_path, workflows=3, cases=1, concurrency=3, warmup=1
    )
    assert report.figures["trivial_per_second"] > 0
    assert report.figures["kesu_activities_per_second"] > 0


async def test_throughput_smoke_with_two_workers_on_postgres(
    server: Server, tmp_path: Path
) -> None:
    report = await throughput.measure(
        server, tmp_path, workflows=3, cases=2, concurrency=3, warmup=1, worker_count=2,
        postgres=True,
    )  # fmt: skip
    assert report.figures["kesu_activities_per_second_2_workers"] > 0
    assert report.figures["scaling"] > 0 and "with 1 worker ÷ with 2" in report.render()


async def test_deadlines_smoke_never_fire_early(server: Server, tmp_path: Path) -> None:
    report = await deadlines.measure(server, tmp_path, cases=2, within=1, concurrency=2, rounds=2)
    for name in ("raw", "kesu"):
        assert report.figures[f"{name}_round1_p50_seconds"] >= 0
        assert report.figures[f"{name}_round2_p50_seconds"] >= 0
    assert report.figures["p99_ratio"] > 0 and "median of 2 rounds" in report.render()


async def test_open_cases_smoke(server: Server, tmp_path: Path) -> None:
    report = await open_cases.measure(server, tmp_path, cases=2, queries=2, concurrency=2, warmup=1)
    assert report.figures["kesu_query_p50_seconds"] > 0


def test_reports_smoke(tmp_path: Path) -> None:
    found = reports.measure(rows=60, repeat=1, workdir=tmp_path)
    assert found.figures["whole table:ratio"] > 0 and found.figures["one month:ratio"] > 0
    assert "kesu report ÷ plain GROUP BY" in found.render()
    assert found.figures["overdue:ratio"] > 0


async def test_long_case_smoke_continues_as_new(server: Server, tmp_path: Path) -> None:
    report = await long_case.measure(server, tmp_path, events=40, notes=4, steps_per_run=15)
    assert report.figures["runs"] >= 2
    assert report.figures["long_history_bytes_per_step"] > 0
    assert "long/short history per step" in report.render()
