"""Operations: kesu's Prometheus metrics, the worker's health and readiness, JSON logs."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import pytest_asyncio
from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from temporalio.testing import WorkflowEnvironment

from activities.metrics import CachedCollector
from runtime import Settings
from service.cases import Kesu, KesuError
from telemetry import JsonFormatter, OpsSettings, SettingError
from tests.temporal_support import DEFINITIONS, sqlite_url
from worker import running_worker

PROJECT = Path(__file__).parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Worked:
    def __init__(self, kesu: Kesu, base: str) -> None:
        self.kesu, self.base = kesu, base


@pytest_asyncio.fixture
async def worker_with_health(
    temporal_env: WorkflowEnvironment, tmp_path: Path, specs: dict[str, object]
) -> AsyncIterator[Worked]:
    settings = Settings(
        temporal_address=temporal_env.client.service_client.config.target_host,
        namespace="default",
        task_queue=f"kesu-ops-{free_port()}",
        data_dir=tmp_path,
        database_url=sqlite_url(tmp_path),
        definitions_dir=DEFINITIONS,
    )
    port = free_port()
    async with running_worker(settings, ("127.0.0.1", port)) as client:
        yield Worked(Kesu(client, specs, settings.task_queue), f"http://127.0.0.1:{port}")  # type: ignore[arg-type]


@pytest.mark.temporal
async def test_worker_metrics_health_and_readiness(worker_with_health: Worked) -> None:
    kesu, base = worker_with_health.kesu, worker_with_health.base
    assert get(f"{base}/healthz")[0] == 200
    status, body = get(f"{base}/readyz")
    assert status == 200 and json.loads(body) == {"status": "ok", "problems": []}
    opened = sample("kesu_cases_opened_total", process="complaint")
    refused = sample("kesu_events_refused_total", reason="conflict")
    forbidden = sample("kesu_events_refused_total", reason="forbidden")
    timed = sample("kesu_activity_seconds_count", activity="record_step", outcome="ok")

    case = (await kesu.start_case("complaint", {"customer_id": "C-1"}, roles=["agent"])).case_id
    with pytest.raises(KesuError):
        await kesu.send_event(case, "accept", actor="张三", roles=["customer"])  # forbidden
    await kesu.send_event(case, "accept", actor="王敏", roles=["agent"])
    with pytest.raises(KesuError):
        await kesu.send_event(case, "close", actor="王敏", roles=["agent"])  # not in triage
    await kesu.get_case(case)

    assert sample("kesu_cases_opened_total", process="complaint") == opened + 1
    assert sample("kesu_events_refused_total", reason="conflict") == refused + 1
    assert sample("kesu_events_refused_total", reason="forbidden") == forbidden + 1
    assert sample("kesu_activity_seconds_count", activity="record_step", outcome="ok") >= timed + 2
    status, scraped = get(f"{base}/metrics")
    assert status == 200
    assert 'kesu_outbox_messages{status="pending"}' in scraped
    assert 'kesu_outbox_messages{status="dead"} 0.0' in scraped
    assert "kesu_database_up 1.0" in scraped
    assert "kesu_cases_opened_total" in scraped and "kesu_deadline_breaches" in scraped
    assert "张" not in scraped and "C-1" not in scraped  # names and counts only
    assert get(f"{base}/nothing")[0] == 404


def test_a_cached_collector_asks_once_per_period_however_many_scrape() -> None:
    class Counting(Collector):
        def __init__(self) -> None:
            self.calls = 0

        def collect(self) -> Iterator[GaugeMetricFamily]:
            self.calls += 1
            yield GaugeMetricFamily("kesu_test_calls", "calls so far", value=self.calls)

    inner, now = Counting(), [100.0]
    cached = CachedCollector(inner, seconds=10, clock=lambda: now[0])
    with ThreadPoolExecutor(max_workers=8) as pool:  # a storm of scrapes at once
        answers = list(pool.map(lambda _: list(cached.collect()), range(50)))
    assert inner.calls == 1
    assert {answer[0].samples[0].value for answer in answers} == {1.0}
    now[0] += 9.9
    assert next(cached.collect()).samples[0].value == 1.0
    now[0] += 0.1  # the period is over: asked again
    assert next(cached.collect()).samples[0].value == 2.0 and inner.calls == 2


def test_log_format_setting() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert OpsSettings.from_env({}, Terminal()).log_format == "plain"
    assert OpsSettings.from_env({}, io.StringIO()).log_format == "json"
    assert OpsSettings.from_env({"KESU_LOG_FORMAT": "json"}, Terminal()).log_format == "json"
    assert OpsSettings.from_env({"KESU_LOG_FORMAT": "plain"}, io.StringIO()).log_format == "plain"
    with pytest.raises(SettingError, match="KESU_LOG_FORMAT is 'plain' or 'json', not 'xml'"):
        OpsSettings.from_env({"KESU_LOG_FORMAT": "xml"})
    with pytest.raises(SettingError, match="KESU_METRICS_ADDRESS is host:port"):
        OpsSettings.from_env({"KESU_METRICS_ADDRESS": "9464"})
    settings = OpsSettings.from_env({"KESU_METRICS_ADDRESS": "0.0.0.0:9464"})
    assert settings.metrics_address == ("0.0.0.0", 9464)


def test_json_lines_carry_the_case_context_and_nothing_else() -> None:
    record = logging.LogRecord("kesu.storage", logging.INFO, "x.py", 1, "case %s stored", (), None)
    record.msg = "case c-1 stored"
    extra = {"case_id": "c-1", "case_process": "complaint", "case_event": "accept"}
    record.__dict__.update(extra, case_stage="triage")
    record.customer_name = "张女士"  # an extra the formatter was not told about: never written
    record.temporal_activity = {"activity_type": "record_step", "workflow_id": "c-1", "attempt": 2}
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "case c-1 stored" and line["level"] == "info"
    assert {key: line[key] for key in ("case_id", "process", "event", "stage")} == {
        "case_id": "c-1",
        "process": "complaint",
        "event": "accept",
        "stage": "triage",
    }
    assert (line["activity"], line["attempt"]) == ("record_step", 2)
    assert "张女士" not in json.dumps(line, ensure_ascii=False)


TEMPORAL_METRICS = """
import asyncio, os, sys, urllib.request
import telemetry
from runtime import connect

telemetry.setup()
async def main():
    await connect(sys.argv[1], "default")
    where = os.environ["KESU_TEMPORAL_METRICS_ADDRESS"]
    with urllib.request.urlopen(f"http://{where}/metrics") as page:
        print(page.read().decode())
asyncio.run(main())
"""


@pytest.mark.temporal
def test_temporal_sdk_metrics_and_json_logs_from_an_entry_point(
    temporal_env: WorkflowEnvironment,
) -> None:
    address = temporal_env.client.service_client.config.target_host
    environment = {
        **os.environ,
        "KESU_TEMPORAL_METRICS_ADDRESS": f"127.0.0.1:{free_port()}",
        "KESU_LOG_FORMAT": "json",
    }
    done = subprocess.run(
        [sys.executable, "-c", TEMPORAL_METRICS, address], cwd=PROJECT, env=environment,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "temporal_request" in done.stdout  # the SDK's own client metrics
    for line in filter(None, done.stderr.splitlines()):
        json.loads(line)  # every log line, the Temporal core's too, is JSON
