"""Run a kesu worker: ``python worker.py``.

Wires configuration to the Temporal client, the database and the message channels, then runs
case workflows and their activities until interrupted. With ``TEMPORAL_ADDRESS`` unset it starts
the embedded Temporal dev server (state in ``data/temporal.db``); ``KESU_DATABASE_URL`` defaults
to a SQLite file beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client import REGISTRY
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

import telemetry
from activities import metrics
from activities.channels.config import ChannelConfigError, ChannelSetup, console_setup
from activities.channels.setup import TEMPLATES_FOLDER, load_channel_setup, read_channels
from activities.events import domain_events
from activities.halts import HaltActivities
from activities.keys import Keyring
from activities.messaging import MessagingActivities
from activities.metrics import OutboxCollector
from activities.storage import (
    CaseSealer,
    EarlyWarnings,
    PublishRefused,
    StorageActivities,
    describe_failure,
    make_engine,
    make_session_factory,
)
from activities.storage.migrations import SchemaError, migrate
from activities.templates import TemplateCatalog, TemplateProblems
from process.coverage import calendars_in_use, ending_soon
from process.loader import DefinitionError, load_directory
from process.warning_loader import load_warnings
from process.warnings import WarningRules
from runtime import (
    PROJECT_DIR,
    Settings,
    SetupError,
    exit_after,
    load_specs,
    publications,
    temporal_client,
)
from service import config_report, warnings_cli
from service.case_numbers import CaseNumbers
from service.versions import PublishedDefinitions, keep_fresh, render_published
from telemetry import HealthServer, TimedActivities
from workflows.case import CaseWorkflow
from workflows.definitions import CACHE, workflow_runner

log = logging.getLogger("kesu.worker")

SWEEP_INTERVAL_SECONDS = 1.0
"""Often enough that a message a crashed worker had claimed goes out a second after its lease."""
STICKY_WAIT = timedelta(seconds=3)
WORKFLOW_TASK_SLOTS = 500
"""Workflow tasks a worker takes at once. A burst of deadlines falling due together (a
thousand cases opened in the same minute) is that many tasks at once: each breach is stamped
when its task starts, so a task waiting for a free slot is a deadline recorded late. Tasks
are light (a step stored locally), so many in flight cost little."""
ACTIVITY_SLOTS = 8
LOCAL_ACTIVITY_SLOTS = 8
ACTIVITY_THREADS = ACTIVITY_SLOTS + LOCAL_ACTIVITY_SLOTS
"""Activities (durable, local) a worker runs at once, and the threads they run on: one each.
The SDK's defaults (100 of each) on 16 threads took tasks that then waited for a thread
inside the worker, a durable one with its heartbeat timeout running and a local one with its
budget, while the threads they waited for fought the workflow tasks for the GIL. Beyond
these, durable activities wait in the server's task queue and local ones in the SDK's, and a
worker with free slots (another, or this one later) takes them."""
CHANNELS_ENV = "KESU_CHANNELS"
DEFAULT_CHANNELS = PROJECT_DIR / "config" / "channels.yaml"


@dataclass(frozen=True)
class Activities:
    storage: StorageActivities
    messaging: MessagingActivities
    sessions: sessionmaker[Session]
    halts: HaltActivities


def build_activities(
    database_url: str,
    channels: ChannelSetup | None = None,
    keyring: Keyring | None = None,
    warnings: WarningRules | None = None,
) -> Activities:
    """The activities on ``database_url``; messages go to the console unless ``channels``.
    With a ``keyring``, customer data is stored encrypted with per-case keys; ``warnings``
    are counted as cases open (early warning)."""
    engine = make_engine(database_url)
    try:
        migrate(engine)  # the schema at the newest revision before any activity runs
    except SchemaError as error:
        raise SetupError(str(error)) from None
    except OperationalError as error:  # unreachable, refused login, TLS: libpq says which
        where = engine.url.render_as_string(hide_password=True)
        raise SetupError(f"cannot connect to the database {where}: {error.orig}") from None
    sessions = make_session_factory(engine)
    channels = channels or console_setup()
    sealer = CaseSealer(keyring) if keyring is not None else None
    return Activities(
        storage=StorageActivities(
            sessions,
            domain_events if channels.events else None,
            stored=metrics.count_step,
            sealer=sealer,
            opened=EarlyWarnings(warnings) if warnings is not None and warnings.rules else None,
        ),
        messaging=MessagingActivities(
            sessions,
            channels.routes,
            channels.default,
            max_attempts=channels.max_attempts,
            backoff=channels.backoff,
            sealer=sealer,
        ),
        sessions=sessions,
        halts=HaltActivities(sessions, events=channels.events, halted=metrics.count_halt),
    )


def warning_rules(folder: Path) -> WarningRules:
    """The early-warning rules of the definitions folder, their templates checked."""
    try:
        rules = load_warnings(folder, load_directory(folder))
        problems = warnings_cli.template_problems(
            rules, TemplateCatalog.load(folder / TEMPLATES_FOLDER)
        )
    except (DefinitionError, TemplateProblems) as error:
        raise SetupError(str(error)) from None
    if problems:
        raise SetupError(str(TemplateProblems(problems)))
    return rules


def channels_file() -> Path | None:
    """``KESU_CHANNELS``, else ``config/channels.yaml`` if present; None: the console."""
    configured = os.environ.get(CHANNELS_ENV)
    path = Path(configured) if configured else DEFAULT_CHANNELS
    return path if configured or path.exists() else None


def channel_setup(settings: Settings) -> ChannelSetup:
    """The channels of ``KESU_CHANNELS`` (default ``config/channels.yaml``, else the console)."""
    path = channels_file()
    if path is None:
        return console_setup()
    try:
        return load_channel_setup(path, settings.definitions_dir, os.environ)
    except (ChannelConfigError, TemplateProblems, DefinitionError) as error:
        raise SetupError(str(error)) from None


def build_worker(
    client: Client, task_queue: str, activities: Activities, executor: ThreadPoolExecutor
) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[CaseWorkflow],
        workflow_runner=workflow_runner(),
        activities=[
            activities.storage.record_step,
            activities.messaging.deliver_outbox,
            activities.halts.report_halt,
        ],
        activity_executor=executor,
        interceptors=[TimedActivities()],
        # A case's next task waits this long for a worker that died (its sticky queue has
        # no poller) before any worker may take it: seconds, not Temporal's default 10 s.
        sticky_queue_schedule_to_start_timeout=STICKY_WAIT,
        max_concurrent_workflow_tasks=WORKFLOW_TASK_SLOTS,
        max_concurrent_activities=ACTIVITY_SLOTS,
        max_concurrent_local_activities=LOCAL_ACTIVITY_SLOTS,
    )


def settle_heap() -> None:
    """Once a worker process is set up, before it polls: keep what start-up made (modules,
    the SDK, SQLAlchemy's and pydantic's machinery, some 150,000 objects) out of the garbage
    collector's full collections from now on. A burst of cases allocates enough to trigger
    one, and a full collection over that heap held the GIL, and every workflow task behind
    it, for about 200 ms. Later collections scan only what the cases made. Garbage is
    collected first, so that nothing unreachable is kept for good."""
    gc.collect()
    gc.freeze()


async def sweep_outbox(messaging: MessagingActivities, interval: float) -> None:
    """Deliver what cases left in the outbox (a channel was down, a worker died mid-send),
    starting at once: what a crashed worker left behind goes out as soon as one is back."""
    while True:
        try:
            result = await asyncio.to_thread(messaging.deliver_pending)
        except Exception as error:  # the sweep must outlive a database hiccup
            log.warning("outbox sweep failed (%s); trying again", describe_failure(error))
        else:
            if result.delivered or result.failed:
                log.info("outbox sweep: %d delivered, %d failed", result.delivered, result.failed)
        await asyncio.sleep(interval)


def publish_definitions(sessions: sessionmaker[Session], folder: Path) -> None:
    """Publish the definition files that changed since they were last published."""
    try:
        results = PublishedDefinitions(sessions).publish(
            publications(folder), by=f"worker@{socket.gethostname()}"
        )
    except (DefinitionError, PublishRefused) as error:
        raise SetupError(f"cannot publish the definitions of {folder}:\n{error}") from None
    for line in render_published([result for result in results if result.created]).splitlines():
        log.info("%s", line)


@contextlib.asynccontextmanager
async def serving_definitions(sessions: sessionmaker[Session]) -> AsyncIterator[None]:
    """The published definitions in the workflows' cache, kept fresh while the block runs."""
    registry = PublishedDefinitions(sessions)
    await asyncio.to_thread(registry.fill, CACHE)
    refresher = asyncio.create_task(keep_fresh(registry, CACHE))
    try:
        yield
    finally:
        refresher.cancel()


@contextlib.asynccontextmanager
async def running_worker(
    settings: Settings, health: tuple[str, int] | None = None
) -> AsyncIterator[Client]:
    """A worker (and, with no cluster configured, the embedded server) for the block's duration.

    ``health``: serve ``/metrics``, ``/healthz`` and ``/readyz`` there (``telemetry.HealthServer``).
    """
    channels = channel_setup(settings)
    warnings = warning_rules(settings.definitions_dir)
    activities = build_activities(settings.database_url, channels, settings.keyring, warnings)
    publish_definitions(activities.sessions, settings.definitions_dir)
    polling = threading.Event()
    async with contextlib.AsyncExitStack() as cleanup:
        cleanup.callback(channels.close)
        await cleanup.enter_async_context(serving_definitions(activities.sessions))
        if health is not None:
            REGISTRY.register(collector := OutboxCollector(activities.sessions))
            cleanup.callback(REGISTRY.unregister, collector)
            not_polling = "the worker is not polling its task queue yet"
            server = HealthServer(
                health,
                live=[CaseNumbers(activities.sessions).problem],
                ready=[lambda: None if polling.is_set() else not_polling],
            )
            cleanup.enter_context(server)
            log.info(
                "metrics and health at http://%s:%d/metrics, /healthz, /readyz",
                health[0],
                server.port,
            )
        client = await cleanup.enter_async_context(temporal_client(settings))
        with ThreadPoolExecutor(
            max_workers=ACTIVITY_THREADS, thread_name_prefix="kesu-activity"
        ) as executor:
            worker = build_worker(client, settings.task_queue, activities, executor)
            sweeper = asyncio.create_task(
                sweep_outbox(activities.messaging, SWEEP_INTERVAL_SECONDS)
            )
            settle_heap()
            try:
                async with worker:
                    polling.set()
                    yield client
            finally:
                sweeper.cancel()


def _warn_about_calendars(settings: Settings) -> None:
    """Calendars ending soon make due times provisional: say so where operators look."""
    try:
        specs = load_specs(settings.definitions_dir)
    except DefinitionError as error:
        log.warning("definitions not checked for calendar coverage: %s", error)
        return
    for warning in ending_soon(calendars_in_use(specs.values()).values(), datetime.now(UTC).date()):
        log.warning("%s", warning)


async def serve(settings: Settings, health: tuple[str, int] | None = None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with running_worker(settings, health):
        where = settings.temporal_address or "the embedded Temporal server"
        log.info("kesu worker on task queue %r at %s; Ctrl-C stops it", settings.task_queue, where)
        _warn_about_calendars(settings)
        await stop.wait()
        log.info("stopping: finishing the tasks in hand")


def _parser(prog: str = "worker.py") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run a kesu worker: case workflows and their activities, until Ctrl-C. "
        "Without TEMPORAL_ADDRESS it starts (or joins) the embedded Temporal server of "
        "KESU_DATA_DIR; settings come from the environment (see the README).",
    )
    parser.add_argument(
        "--check-config",
        action="store_true",
        help="print the resolved configuration (secrets masked) and exit, contacting nothing",
    )
    return parser


def check_config() -> int:
    """Print the resolved configuration with secrets masked; 1 if something is missing."""
    settings = Settings.from_env()
    path = channels_file()
    try:
        channels = None if path is None else (path, read_channels(path))
    except ChannelConfigError as error:
        raise SetupError(str(error)) from None
    report = config_report.check_config(settings, os.environ, channels)
    print(report.text())
    return 1 if report.problems else 0


def main(argv: Sequence[str] | None = None, prog: str = "worker.py") -> int:
    args = _parser(prog).parse_args(argv)
    try:
        if args.check_config:
            return check_config()
        ops = telemetry.setup()
        asyncio.run(serve(Settings.from_env(), ops.metrics_address))
    except (SetupError, telemetry.SettingError) as error:
        print(f"kesu worker: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    exit_after(main())
