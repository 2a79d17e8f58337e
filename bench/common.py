"""What the benchmarks share: a private Temporal dev server, worker processes whose CPU and
memory can be read from outside, bounded concurrency, percentiles and the printed report.

Workers run in their own processes so that a figure of "worker CPU" holds only what the worker
spent, not the driving client's work, and so that the RSS of one worker is its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

import psutil
from temporalio.client import Client

from activities.storage import Publication, make_engine, make_session_factory, publish
from activities.storage.migrations import migrate
from process.compiler import CompiledSpec
from runtime import SetupError, connect, embedded_temporal

T = TypeVar("T")
PROJECT = Path(__file__).absolute().parent.parent
WorkerKind = Literal["kesu", "raw"]
READY_TIMEOUT_SECONDS = 90.0
STUCK_SECONDS = 120.0
"""Far beyond any single case or wait here: past it, something is broken, not slow."""


@dataclass(frozen=True)
class Server:
    """A Temporal frontend for a benchmark: its address (for worker processes) and a client."""

    address: str
    client: Client


def publish_specs(database_url: str, specs: Iterable[CompiledSpec]) -> None:
    engine = make_engine(database_url)
    try:
        migrate(engine)
        with make_session_factory(engine).begin() as session:
            publish(
                session,
                [
                    Publication(spec, f"{spec.process}.yaml", spec.definition.model_dump_json())
                    for spec in specs
                ],
                by="bench",
            )
    finally:
        engine.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def private_server(workdir: Path) -> AsyncIterator[Server]:
    """The embedded dev server (file database, WAL pragmas) on a free port under ``workdir``.

    A port of its own, so that a benchmark never lands on a developer's running kesu server.
    """
    address = f"127.0.0.1:{free_port()}"
    async with embedded_temporal(workdir / "temporal", address):
        yield Server(address, await _connect_when_healthy(address))


async def _connect_when_healthy(address: str, attempts: int = 100) -> Client:
    # The dev server accepts connections a moment before its frontend answers ("Frontend is
    # not healthy yet"); on a busy machine that moment is long enough to fail a run.
    for _ in range(attempts - 1):
        with contextlib.suppress(SetupError):
            return await connect(address, "default")
        await asyncio.sleep(0.1)
    return await connect(address, "default")


class WorkerProcess:
    """A running ``bench.worker_main`` process; CPU and RSS read through its pid."""

    def __init__(self, process: subprocess.Popen[bytes], log: Path) -> None:
        self.process = process
        self.log = log
        self._ps = psutil.Process(process.pid)

    def cpu_seconds(self) -> float:
        """User plus system CPU of every thread of the worker (the SDK's core threads too)."""
        times = self._ps.cpu_times()
        return float(times.user + times.system)

    def rss_bytes(self) -> int:
        return int(self._ps.memory_info().rss)


@contextlib.asynccontextmanager
async def worker_process(
    kind: WorkerKind,
    server: Server,
    task_queue: str,
    database_url: str,
    workdir: Path,
    specs: Iterable[CompiledSpec] = (),
    raw_task_slots: int | None = None,
    name: str | None = None,
) -> AsyncIterator[WorkerProcess]:
    """Start a worker of ``kind`` in its own process; yields once it polls its task queue.

    ``specs``: the definitions kesu's cases will name, published first as ``starter.py
    publish`` would (a kesu worker resolves a case's definition from the registry).
    ``raw_task_slots``: workflow tasks a raw worker takes at once (else the SDK's default).
    """
    publish_specs(database_url, specs)
    name = name or task_queue  # ``name``: several workers on one task queue, a file each
    ready = workdir / f"{name}.ready"
    log = workdir / f"{name}.log"
    command = [
        sys.executable, "-m", "bench.worker_main", "--kind", kind,
        "--address", server.address, "--task-queue", task_queue,
        "--database-url", database_url, "--ready-file", str(ready),
    ]  # fmt: skip
    if raw_task_slots is not None:
        command += ["--workflow-task-slots", str(raw_task_slots)]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, cwd=PROJECT, stdout=sink, stderr=subprocess.STDOUT)
    try:
        started = time.monotonic()
        while not ready.exists():
            if process.poll() is not None or time.monotonic() - started > READY_TIMEOUT_SECONDS:
                raise RuntimeError(f"the {kind} worker did not start:\n{_tail(log)}")
            await asyncio.sleep(0.05)
        yield WorkerProcess(process, log)
    except Exception:
        print(f"--- last lines of the {kind} worker's log:\n{_tail(log)}", file=sys.stderr)
        raise
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(process.wait, 20)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait)


def _tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


@dataclass(frozen=True)
class Phase:
    """One measured stretch of work: wall seconds and the worker's CPU seconds in it."""

    wall: float
    cpu: float


class CpuMeter(Protocol):
    def cpu_seconds(self) -> float: ...


async def measured(worker: CpuMeter, work: Awaitable[T]) -> tuple[T, Phase]:
    cpu_before, started = worker.cpu_seconds(), time.perf_counter()
    result = await work
    wall = time.perf_counter() - started
    return result, Phase(wall=wall, cpu=worker.cpu_seconds() - cpu_before)


async def run_bounded(
    count: int, concurrency: int, job: Callable[[int], Coroutine[Any, Any, T]]
) -> list[T]:
    """``job(0) ... job(count - 1)`` with at most ``concurrency`` of them in flight."""
    results: list[T | None] = [None] * count
    indexes = iter(range(count))

    async def lane() -> None:
        for index in indexes:  # the lanes share one iterator: each index is taken once
            results[index] = await stuck_guard(job(index), f"job {index}")

    try:
        async with asyncio.TaskGroup() as lanes:  # one failure cancels the other lanes
            for _ in range(max(1, min(concurrency, count))):
                lanes.create_task(lane())
    except ExceptionGroup as group:
        raise group.exceptions[0] from None
    return [result for result in results if result is not None]


async def stuck_guard(work: Awaitable[T], what: str, seconds: float = 0.0) -> T:
    """``work``, or a clear failure if it hangs: a workflow task that keeps failing (say, a
    worker running code that does not match) is retried forever and would stall the run."""
    limit = seconds + STUCK_SECONDS  # ``seconds``: what the work is expected to take
    try:
        async with asyncio.timeout(limit):
            return await work
    except TimeoutError:
        problem = f"{what} did not finish within {limit:.0f} s; see the worker's log"
        raise RuntimeError(problem) from None


def percentile(values: Sequence[float], share: float) -> float:
    """Linear-interpolated percentile, ``share`` in 0..100."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * share / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def in_turn(variants: Iterable[T], round_: int) -> list[T]:
    """``variants`` in the order of round ``round_`` (from 0): as given in even rounds,
    reversed in odd ones, so that neither side always runs first (on a fresh server, with a
    cold cache) and the machine's drift falls on both."""
    ordered = list(variants)
    return ordered if round_ % 2 == 0 else ordered[::-1]


@dataclass(frozen=True)
class Ratio:
    """A figure a benchmark is judged by; ``target`` is the most it may be, when it has one."""

    name: str
    value: float
    target: float | None = None

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.value <= self.target

    def render(self) -> str:
        if self.target is None:
            return f"  {self.name}: {self.value:.2f}×"
        # Three decimals where a target judges it: 1.152 must not read as a missed 1.15.
        verdict = "met" if self.met else "MISSED"
        return f"  {self.name}: {self.value:.3f}×  (target ≤ {self.target:.2f}×: {verdict})"


@dataclass
class Report:
    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    ratios: list[Ratio] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    figures: dict[str, float] = field(default_factory=dict)
    """The raw numbers by name, for tests and for anyone post-processing a run."""

    def render(self) -> str:
        columns = zip(self.headers, *self.rows, strict=True)
        widths = [max(len(cell) for cell in column) for column in columns]
        lines = [f"## {self.title}", ""]
        for cells in [self.headers, ["-" * width for width in widths], *self.rows]:
            padded = (cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
            lines.append(("  " + "  ".join(padded)).rstrip())
        if self.ratios:
            lines += ["", "ratios:", *(ratio.render() for ratio in self.ratios)]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines) + "\n"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def run_script(measure: Callable[[Server, Path], Coroutine[Any, Any, Report]]) -> int:
    """Entry point of a benchmark script: a private server in a temp folder, then the report."""

    async def main() -> Report:
        with tempfile.TemporaryDirectory(prefix="kesu-bench-") as folder:
            workdir = Path(folder)
            async with private_server(workdir) as server:
                return await measure(server, workdir)

    try:
        report = asyncio.run(main())
    except Exception as error:  # a benchmark that cannot finish says why in one line
        print(f"benchmark failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(report.render(), flush=True)
    return 0
