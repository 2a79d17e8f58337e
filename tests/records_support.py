"""Steps of made-up cases for the storage, audit and report tests: each ``Script`` plays one case
forward, keeping its fields, clocks and times as a workflow would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from activities.inputs import StepRecord
from activities.storage import store_step
from process.clocks import ClockState, ClockStatus
from process.spec import Reporting

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


class Script:
    def __init__(
        self,
        case_id: str,
        *,
        process: str = "complaint",
        prefix: str | None = "CP",
        zone: str = "Asia/Shanghai",
        at: datetime = T0,
        fields: dict[str, Any] | None = None,
        clocks: tuple[str, ...] = (),
        reporting: Reporting | None = None,
        content_hash: str = "sha256:test",
    ) -> None:
        self.case_id, self.process, self.prefix, self.zone = case_id, process, prefix, zone
        self.content_hash = content_hash
        self.at = at
        self.fields: dict[str, Any] = dict(fields or {"customer_id": "C-1"})
        self.clocks = {name: ClockState(name=name) for name in clocks}
        self.reporting = reporting or Reporting()
        self.seq = -1
        self.stage: str | None = None

    def step(
        self,
        event: str,
        to_stage: str,
        *,
        actor: str = "王敏",
        role: str | None = "agent",
        data: dict[str, Any] | None = None,
        after: timedelta = timedelta(minutes=10),
        final: bool = False,
        notes: list[str] | None = None,
        start: tuple[str, ...] = (),
        stop: tuple[str, ...] = (),
        missed: tuple[str, ...] = (),
    ) -> StepRecord:
        """A step ``after`` the last; it starts, stops (in time) or stops ``missed`` clocks."""
        self.seq += 1
        if self.seq:
            self.at += after
        self.fields.update(data or {})
        for name in start:
            self._start_clock(name)
        for name in (*stop, *missed):
            self._stop_clock(name, breached=name in missed)
        record = StepRecord(
            case_id=self.case_id, seq=self.seq, process=self.process, version=1,
            content_hash=self.content_hash, event=event, from_stage=self.stage, to_stage=to_stage,
            actor=actor, role=role, data=data or {}, fields=dict(self.fields),
            clocks={name: c.model_dump(mode="json") for name, c in self.clocks.items()},
            at=self.at, final=final, notes=notes or [], case_number_prefix=self.prefix,
            time_zone=self.zone, reporting=self.reporting,
        )  # fmt: skip
        self.stage = to_stage
        return record

    def open(self, stage: str = "intake", **fields: Any) -> StepRecord:
        self.fields.update(fields)
        return self.step("case.opened", stage, actor="web", role=None)

    def _start_clock(self, name: str) -> None:
        clock = self.clocks[name]
        clock.status, clock.started_at, clock.target = ClockStatus.RUNNING, self.at, "24h"
        clock.due_at = self.at + timedelta(hours=24)

    def _stop_clock(self, name: str, *, breached: bool) -> None:
        clock = self.clocks[name]
        if breached:
            clock.breached_at = min(clock.due_at or self.at, self.at)
        clock.status, clock.stopped_at, clock.due_at = ClockStatus.STOPPED, self.at, None


def store(sessions: sessionmaker[Session], *steps: StepRecord) -> None:
    for step in steps:
        with sessions.begin() as session:
            store_step(session, step)
