"""Synthetic case records written straight into kesu's tables, many at a time.

Cases of two processes and two definition versions over a year, each with its steps, deadline
clocks (met, missed, running), satisfaction answers (some answered again after a reopening),
responsibility attributions, reviews and reopenings: what ``starter.py report`` reads, in
realistic shares. Times carry microseconds, so medians of even counts are exercised.

``odd_values``: team and category values that test how a report names groups (missing, JSON
null, ``"-"``, ``1`` beside ``"1"``, ``true`` beside ``"True"``, a number with a fraction).

Rows go in by ``executemany`` in batches (PostgreSQL: ``COPY``), never one at a time. The rows
skip the hash chain (the report does not read it): never verify a database filled by this.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Engine, Table, insert

from activities.storage import (
    CaseEventRow,
    CaseRow,
    ClockRow,
    ResponsibilityRow,
    SatisfactionRow,
)

START = datetime(2025, 1, 1, tzinfo=UTC)
TEAMS = ["银行卡与信贷 cards", "财富管理 wealth", "loans", "branch", "online"]
CATEGORIES = ["card", "fee", "service", "fraud"]
ODD_VALUES: list[Any] = [None, "-", 1, "1", True, "True", 1.5, "cards"]
MISSING = object()
NO_HASH = "0" * 64


@dataclass
class Batch:
    cases: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    clocks: list[dict[str, Any]] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)
    parties: list[dict[str, Any]] = field(default_factory=list)

    def tables(self) -> Iterator[tuple[Table, list[dict[str, Any]]]]:
        yield CaseRow.__table__, self.cases  # type: ignore[misc]
        yield CaseEventRow.__table__, self.events  # type: ignore[misc]
        yield ClockRow.__table__, self.clocks  # type: ignore[misc]
        yield SatisfactionRow.__table__, self.answers  # type: ignore[misc]
        yield ResponsibilityRow.__table__, self.parties  # type: ignore[misc]


def _moment(rng: random.Random, after: datetime, most: timedelta) -> datetime:
    return after + timedelta(microseconds=rng.randrange(int(most.total_seconds() * 1e6)))


def _clock(case_id: str, name: str, rng: random.Random, opened: datetime) -> dict[str, Any]:
    started = _moment(rng, opened, timedelta(minutes=30))
    due = started + timedelta(hours=rng.choice((1, 4, 48)))
    row: dict[str, Any] = {
        "case_id": case_id, "name": name, "status": "running", "target": None,
        "started_at": started, "paused_at": None, "paused_seconds": 0.0, "due_at": due,
        "stopped_at": None, "breached_at": None, "met": None, "seq": 1,
    }  # fmt: skip
    outcome = rng.random()
    if outcome < 0.08:  # never started
        row.update(status="waiting", started_at=None, due_at=None)
    elif outcome < 0.7:  # a stopped clock has no due time (as kesu stores it)
        stopped = _moment(rng, started, due - started)
        row.update(status="stopped", stopped_at=stopped, due_at=None, met=True)
    elif outcome < 0.85:
        late = _moment(rng, due, timedelta(days=3))
        row.update(status="stopped", stopped_at=late, breached_at=due, due_at=None, met=False)
    elif outcome < 0.93:
        row.update(breached_at=due)
    return row


def _fields(rng: random.Random, odd_values: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {"customer_id": f"C-{rng.randrange(10**6)}"}
    for name, values in (("team", TEAMS), ("category", CATEGORIES)):
        value = rng.choice([*ODD_VALUES, MISSING] if odd_values else values)
        if value is not MISSING:
            fields[name] = value
    return fields


def _case(index: int, rng: random.Random, batch: Batch, span: timedelta, odd: bool) -> None:
    answers, parties = len(batch.answers), len(batch.parties)
    process = "complaint" if rng.random() < 0.8 else "service_request"
    case_id = f"{process}-bench-{index:08d}"
    opened = _moment(rng, START, span)
    clocks = ("response", "resolution") if process == "complaint" else ("answer",)
    steps: list[tuple[str, str]] = [("case.opened", "intake"), ("accept", "triage")]
    if rng.random() < 0.15:
        steps.append(("request_review", "review"))
    if rng.random() < 0.1:
        steps.append(("dissatisfied", "handling"))
        if rng.random() < 0.5:
            batch.answers.append(_answer(case_id, len(steps), rng, opened, csat=1, nps=None))
    closed = rng.random() < 0.75
    if closed:
        steps.append(("archive", "archived"))
    at, stage = opened, None
    for seq, (event, to_stage) in enumerate(steps):
        at = _moment(rng, at, timedelta(hours=30)) if seq else at
        batch.events.append({
            "case_id": case_id, "seq": seq, "event": event, "from_stage": stage,
            "to_stage": to_stage, "actor": "bench", "role": None, "data": {}, "notes": [],
            "clocks": {}, "at": at, "prev_hash": NO_HASH, "row_hash": NO_HASH,
        })  # fmt: skip
        stage = to_stage
    # Drawn in the order they always were: the same seed gives the same records.
    version, fields = rng.choice((1, 2)), _fields(rng, odd)
    kept = [_clock(case_id, name, rng, opened) for name in clocks]
    # As store_step keeps it: the open case's running clock due first (by due time, name).
    running = sorted((c["due_at"], c["name"], c) for c in kept if c["due_at"] and not closed)
    first = running[0][2] if running else None
    batch.cases.append({
        "case_id": case_id, "case_number": f"B-{index:09d}", "process": process,
        "version": version, "content_hash": "sha256:bench", "stage": stage,
        "fields": fields, "opened_at": opened, "updated_at": at,
        "closed_at": at if closed else None, "last_seq": len(steps) - 1, "assignee": None,
        "next_due_at": first and first["due_at"], "next_due_clock": first and first["name"],
        "next_due_breached": first and first["breached_at"] is not None,
    })  # fmt: skip
    batch.clocks += kept
    if closed and rng.random() < 0.6:
        csat = rng.choice((1, 2, 3, 4, 5, None))
        nps = rng.choice((None, *range(11)))
        batch.answers.append(_answer(case_id, len(steps) + 1, rng, at, csat=csat, nps=nps))
    for seq in (len(steps) + 2, len(steps) + 3)[: rng.choice((0, 0, 1, 1, 2))]:
        batch.parties.append({
            "case_id": case_id, "seq": seq, "responsibility": rng.choice(("bank", "customer")),
            "signed_off_by": "bench", "role": None, "at": at,
        })  # fmt: skip
    batch.cases[-1].update(  # as store_step keeps them: the latest non-null of each, by seq
        latest_csat=_latest(batch.answers[answers:], "csat"),
        latest_nps=_latest(batch.answers[answers:], "nps"),
        latest_responsibility=_latest(batch.parties[parties:], "responsibility"),
    )


def _latest(rows: list[dict[str, Any]], column: str) -> Any:
    values = [
        row[column] for row in sorted(rows, key=lambda row: row["seq"]) if row[column] is not None
    ]
    return values[-1] if values else None


def _answer(case_id: str, seq: int, rng: random.Random, at: datetime, **scores: Any) -> (
    dict[str, Any]
):  # fmt: skip
    return {"case_id": case_id, "seq": seq, "actor": "customer", "at": at} | scores


def generate(
    engine: Engine,
    rows: int,
    *,
    seed: int = 7,
    batch_size: int = 5000,
    span: timedelta = timedelta(days=365),
    odd_values: bool = False,
) -> None:
    """``rows`` cases (with their steps, clocks, answers and attributions) into ``engine``."""
    rng = random.Random(seed)
    for first in range(0, rows, batch_size):
        batch = Batch()
        for index in range(first, min(first + batch_size, rows)):
            _case(index, rng, batch, span, odd_values)
        if engine.dialect.name == "postgresql":
            _copy(engine, batch)
            continue
        with engine.begin() as connection:
            for table, values in batch.tables():
                if values:
                    connection.execute(insert(table), values)


def _copy(engine: Engine, batch: Batch) -> None:
    """PostgreSQL: the batch through ``COPY``, an order of magnitude faster than INSERTs."""
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        for table, values in batch.tables():
            if not values:
                continue
            names = list(values[0])
            json_columns = {name for name in names if isinstance(table.c[name].type, JSON)}
            columns = ", ".join(names)
            with cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:
                for row in values:
                    copy.write_row(
                        [json.dumps(row[n]) if n in json_columns else row[n] for n in names]
                    )
        connection.commit()
    finally:
        connection.close()
