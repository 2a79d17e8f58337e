"""Operations wiring for the entry points: logs, Prometheus metrics, health and readiness.

- Logs: ``KESU_LOG_FORMAT=json`` writes one JSON object a line (time, level, logger, message and
  the case context: case id, process, event, stage, activity); ``plain`` is text. Unset: plain
  on a terminal, JSON otherwise (a service manager or a container collects it). The Temporal
  core's own log lines are forwarded through the same handler instead of printing coloured
  text of their own.
- Metrics: ``KESU_METRICS_ADDRESS=host:port`` makes a worker serve kesu's metrics at
  ``/metrics``, liveness at ``/healthz`` and readiness at ``/readyz`` (the API serves
  ``/metrics`` on its own port). ``KESU_TEMPORAL_METRICS_ADDRESS=host:port`` serves the Temporal
  SDK's metrics (workflow and activity task latencies, poller counts, ...).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TextIO
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app
from temporalio import activity
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from activities.metrics import ACTIVITY_SECONDS

LogFormat = Literal["plain", "json"]
CONTEXT = {
    "case_id": "case_id",
    "case_process": "process",  # LogRecord has its own "process" (the pid)
    "case_event": "event",
    "case_stage": "stage",
    "clock": "clock",
}
"""Log ``extra`` key -> JSON key: what a line may carry beside the message. Names and ids,
never field values (PII)."""


class SettingError(Exception):
    """A telemetry setting is wrong; the message names it."""


@dataclass(frozen=True)
class OpsSettings:
    log_format: LogFormat
    metrics_address: tuple[str, int] | None
    temporal_metrics_address: str | None

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] = os.environ, stream: TextIO = sys.stderr
    ) -> OpsSettings:
        chosen = environ.get("KESU_LOG_FORMAT", "").strip().lower()
        if chosen not in ("", "plain", "json"):
            raise SettingError(f"KESU_LOG_FORMAT is 'plain' or 'json', not {chosen!r}")
        log_format: LogFormat = (
            "json" if chosen == "json" or (not chosen and not stream.isatty()) else "plain"
        )
        metrics = environ.get("KESU_METRICS_ADDRESS") or None
        temporal = environ.get("KESU_TEMPORAL_METRICS_ADDRESS") or None
        if temporal is not None:
            _host_port("KESU_TEMPORAL_METRICS_ADDRESS", temporal)
        return cls(
            log_format=log_format,
            metrics_address=_host_port("KESU_METRICS_ADDRESS", metrics) if metrics else None,
            temporal_metrics_address=temporal,
        )


def _host_port(name: str, text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise SettingError(f"{name} is host:port (e.g. 127.0.0.1:9464), not {text!r}")
    return host, int(port)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: the message and the case context, nothing else."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(_temporal_context(record))
        line.update(
            {out: getattr(record, key) for key, out in CONTEXT.items() if hasattr(record, key)}
        )
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def _temporal_context(record: logging.LogRecord) -> dict[str, Any]:
    """The ids the Temporal SDK's loggers attach (``workflow.logger``, ``activity.logger``)."""
    found: dict[str, Any] = {}
    for extra in ("temporal_workflow", "temporal_activity"):
        info = getattr(record, extra, None)
        if isinstance(info, dict):
            if "workflow_id" in info:
                found["case_id"] = info["workflow_id"]
            if "activity_type" in info:
                found["activity"] = info["activity_type"]
            if "attempt" in info:
                found["attempt"] = info["attempt"]
    return found


def configure_logging(log_format: LogFormat, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter()
        if log_format == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def install_temporal_runtime(settings: OpsSettings) -> None:
    """The process's Temporal runtime: core logs into Python logging, SDK metrics if asked.

    Called before the first client is made (every client uses the default runtime).
    """
    metrics = (
        PrometheusConfig(bind_address=settings.temporal_metrics_address)
        if settings.temporal_metrics_address
        else None
    )
    core_logs = LoggingConfig(
        filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
        forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
    )
    telemetry = TelemetryConfig(logging=core_logs, metrics=metrics)
    Runtime.set_default(Runtime(telemetry=telemetry), error_if_already_set=False)


def setup(environ: Mapping[str, str] = os.environ) -> OpsSettings:
    """Logging and the Temporal runtime of an entry point, from the environment."""
    settings = OpsSettings.from_env(environ)
    configure_logging(settings.log_format)
    install_temporal_runtime(settings)
    return settings


class TimedActivities(Interceptor):
    """Every activity's duration and outcome into ``kesu_activity_seconds``."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _TimedActivity(next)


class _TimedActivity(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        name = activity.info().activity_type
        started, outcome = time.perf_counter(), "error"
        try:
            result = await super().execute_activity(input)
            outcome = "ok"
            return result
        finally:
            ACTIVITY_SECONDS.labels(name, outcome).observe(time.perf_counter() - started)


Check = Callable[[], str | None]
"""A health check: None when fine, else what is wrong (said in the 503 body)."""


class HealthServer:
    """``/metrics``, ``/healthz`` (alive, database answers) and ``/readyz`` (polling too)
    of a worker, on a thread of their own so that a busy event loop does not fail them."""

    def __init__(self, address: tuple[str, int], live: Iterable[Check], ready: Iterable[Check]):
        self._live, self._ready = list(live), list(ready)
        self._metrics = make_wsgi_app()
        self._server = make_server(*address, self._app, WSGIServer, _QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_port

    def __enter__(self) -> HealthServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return self._metrics(environ, start_response)  # type: ignore[no-any-return]
        checks = {"/healthz": self._live, "/readyz": self._live + self._ready}.get(path)
        if checks is None:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"try /metrics, /healthz or /readyz\n"]
        problems = [problem for check in checks if (problem := check()) is not None]
        status = "503 Service Unavailable" if problems else "200 OK"
        body = {"status": "unavailable" if problems else "ok", "problems": problems}
        start_response(status, [("Content-Type", "application/json")])
        return [json.dumps(body, ensure_ascii=False).encode()]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # a scrape every few seconds is not news
