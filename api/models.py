"""The API's request and response bodies: what the OpenAPI document promises.

Request bodies forbid unknown keys, so a misspelt ``feilds`` is refused by name instead of
silently opening a case without its data. Field *values* are checked by the service layer
against the process definition (types, enums, required fields).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from process.state import Step

MAX_NAME = 100
KEY_PATTERN = r"^[^\s/\x00-\x1f\x7f]{1,200}$"
"""A caller's id for a case or an event: no spaces or '/', at most 200 characters."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StartCase(Strict):
    process: str = Field(max_length=MAX_NAME, examples=["complaint"])
    fields: dict[str, Any] = Field(
        default_factory=dict,
        examples=[{"customer_id": "C-1", "customer_name": "张女士", "category": "card"}],
    )
    external_id: str | None = Field(
        default=None,
        pattern=KEY_PATTERN,
        description="Your id for the case: the same id never opens a second case.",
    )


class SendEvent(Strict):
    data: dict[str, Any] = Field(
        default_factory=dict, description="Field values the event brings", examples=[{}]
    )
    event_id: str | None = Field(
        default=None,
        pattern=KEY_PATTERN,
        description="Sent again with the same id, the event is applied once.",
    )


class Reassign(Strict):
    from_assignee: str = Field(min_length=1, max_length=200, examples=["陈静"])
    """Who the case is assigned to now: a case assigned to someone else is refused (409)."""
    to_assignee: str = Field(min_length=1, max_length=200, examples=["李娜"])
    reason: str | None = Field(default=None, max_length=1000, examples=["离职 left the bank"])
    data: dict[str, Any] = Field(
        default_factory=dict,
        max_length=20,
        description="What the process's conflict rules (回避) need of the new assignee",
        examples=[{"assignee_branch": "静安支行"}],
    )
    justification: str | None = Field(default=None, min_length=1, max_length=2000)
    """Why the move goes ahead despite a conflict of interest (a role the process names may
    override one); recorded in the timeline. Without it a conflicting move is refused (409)."""
    request_id: str | None = Field(
        default=None,
        pattern=KEY_PATTERN,
        description="Sent again with the same id, the move is applied once.",
    )


class Repair(Strict):
    reason: str = Field(min_length=1, max_length=2000, examples=["widened kesu_case_event.actor"])
    """What was fixed, so that the halted step can be stored now: kept in the timeline."""
    request_id: str | None = Field(
        default=None,
        pattern=KEY_PATTERN,
        description="Sent again with the same id, the repair is applied once.",
    )


class Error(BaseModel):
    error: str = Field(examples=["conflict"])
    detail: str = Field(
        examples=["event 'close' in stage 'intake': not allowed here (allowed: accept, withdraw)"]
    )


class PossibleDuplicate(BaseModel):
    """An open case of the same customer and category, opened within the definition's window."""

    case_id: str
    case_number: str
    stage: str
    opened_at: datetime


class Started(BaseModel):
    case_id: str
    case_number: str | None = None
    """The number people use (``CP-2026-000123``); null until the worker has stored the case."""
    created: bool
    """False when a case with this id already existed: nothing new was opened."""
    duplicates: list[PossibleDuplicate] | None = None
    """Open cases of the same customer and category within the window (``merging:``); null
    when not checked: the process declares no merging, or ``duplicates_note`` says why."""
    duplicates_note: str | None = None


class Merge(Strict):
    into: str = Field(min_length=1, max_length=300, pattern=KEY_PATTERN)
    """The primary case (id or number) the duplicate is merged into."""
    reason: str = Field(min_length=1, max_length=1000, examples=["同一笔重复扣费 same charge"])
    request_id: str | None = Field(
        default=None,
        pattern=KEY_PATTERN,
        description="Sent again with the same id, the merge is applied once.",
    )


class NewGroup(Strict):
    process: str = Field(min_length=1, max_length=100, examples=["complaint"])
    plan: str = Field(min_length=1, max_length=4000, examples=["统一退还重复扣费 refund all"])
    """The one handling plan for every case of the group."""
    title: str | None = Field(default=None, max_length=200, examples=["3月2日 POS 重复扣费"])


class GroupCase(Strict):
    case_id: str = Field(min_length=1, max_length=300, pattern=KEY_PATTERN)
    request_id: str | None = Field(default=None, pattern=KEY_PATTERN)


class GroupMember(BaseModel):
    case_id: str
    case_number: str
    stage: str
    closed: bool


class Group(BaseModel):
    group_id: str
    process: str
    title: str | None
    plan: str
    created_by: str
    created_at: datetime
    cases: list[GroupMember]


class EventApplied(BaseModel):
    case_id: str
    case_number: str | None = None
    """The number people use (``CP-2026-000123``); null until the worker has stored the case."""
    event: str
    seq: int
    from_stage: str
    stage: str
    closed: bool


class Merged(BaseModel):
    duplicate: EventApplied
    """The duplicate's closing ``case.merged`` step."""
    primary: EventApplied
    """The primary's ``case.duplicate_linked`` step."""


class Clock(BaseModel):
    name: str
    title: str | None
    status: str
    measure: str
    """``calendar`` (every hour counts) or ``business`` (working time on a calendar)."""
    target: str | None
    started_at: datetime | None
    due_at: datetime | None
    paused_at: datetime | None
    paused_seconds: float
    stopped_at: datetime | None
    breached_at: datetime | None
    met: bool | None
    problem: str | None
    provisional: str | None = None
    """Why ``due_at`` is provisional (it runs past the dates its calendar knows, or the date
    field it counts from is empty), or null."""
    counts_from: str | None = None
    """The date field the clock counts from (``started_at`` is its value), or null: it counts
    from the moment it started."""
    explain: list[str]


class StageTimeout(BaseModel):
    """The current stage's timeout: it moves the case ``to`` a stage at ``due_at``."""

    stage: str
    after: str
    """As written: ``7d`` (calendar time) or ``3wd`` (working days on ``calendar``)."""
    to: str
    calendar: str | None
    due_at: datetime
    provisional: str | None
    """Why ``due_at`` is provisional (it runs past the dates its calendar knows), or null."""


class TimelineStep(Step):
    """A step of the case's timeline; inputs of pii fields masked as in ``fields``."""


class Case(BaseModel):
    case_id: str
    case_number: str | None = None
    """The number people use (``CP-2026-000123``); null until the worker has stored the case."""
    process: str
    definition: str
    """The definition the case runs: process, version and content hash."""
    stage: str
    stage_title: str | None
    closed: bool
    opened_at: datetime
    stage_entered_at: datetime
    closed_at: datetime | None
    allowed_events: list[str]
    pending_steps: list[int] = Field(default_factory=list)
    """Steps taken but not yet stored (seq): the stage and fields shown include them, and
    become final once they are stored. Empty when everything shown is stored."""
    halted: str | None = None
    """Why the case stopped: a step the database refuses. It takes no events until repaired."""
    fields: dict[str, Any]
    pii_masked: bool
    """True when customer data (pii fields) is shown as ``***`` for the caller's roles."""
    clocks: list[Clock]
    timeline: list[TimelineStep]
    earlier_steps: int = 0
    """Steps before the first one in ``timeline``, all stored in the database: a long case
    (hundreds of events) shows its latest steps here."""
    timeout: StageTimeout | None = None
    """The current stage's timeout, if it has one: when it fires, and whether provisionally."""
    merged_into: str | None = None
    """The primary case this one was merged into (it is closed)."""
    duplicates: list[str] = Field(default_factory=list)
    """Cases merged into this one."""
    group: str | None = None
    """The group complaint the case is in; ``group_plan`` is its handling plan."""
    group_plan: str | None = None


class CaseRow(BaseModel):
    case_id: str
    case_number: str | None = None
    """The number people use (``CP-2026-000123``); null until the worker has stored the case."""
    process: str | None
    stage: str | None
    priority: str | None
    next_deadline: datetime | None
    breached: bool
    running: bool
    opened_at: datetime
    provisional: bool = False
    """A due time of the case is provisional (past the end of its calendar)."""
    group: str | None = None
    """The group complaint the case is in."""


class CaseList(BaseModel):
    cases: list[CaseRow]
    next_page_token: str | None
    """Pass as ``page_token`` with the same filters for the next page; null on the last."""


class FieldInfo(BaseModel):
    type: str
    title: str | None
    required: bool
    pii: bool
    values: list[str] | None


class RequiredWhen(BaseModel):
    when: str
    """The condition (kesu's expression language) under which ``fields`` are required."""
    fields: list[str]


class EventInfo(BaseModel):
    to: str
    title: str | None
    roles: list[str]
    requires: list[str]
    requires_when: list[RequiredWhen] = []
    """Fields the event must also bring while a condition holds (e.g. a rectification)."""


class StageInfo(BaseModel):
    title: str | None
    initial: bool
    final: bool
    events: dict[str, EventInfo]


class Definition(BaseModel):
    process: str
    version: int
    title: str | None
    label: str
    roles: list[str]
    pii_roles: list[str]
    fields: dict[str, FieldInfo]
    stages: dict[str, StageInfo]
    deadlines: list[str]


class Health(BaseModel):
    status: str
    processes: int
    workers: int
    """Workers that polled the task queue lately."""
    database: str
    """``ok``, or ``not checked`` where this process does not know the database."""
    warnings: list[str] = []
    """Not failures: e.g. a calendar in use whose known dates end within 60 days."""


class UpgradeRequest(Strict):
    from_version: int = Field(ge=1, examples=[1])
    to_version: int = Field(ge=1, examples=[2])
    map: dict[str, str] = Field(
        default_factory=dict,
        description="Old stage -> stage of the target, for stages it renamed",
        examples=[{"handling": "investigation"}],
    )
    field_map: dict[str, str] = Field(
        default_factory=dict,
        description="Old field -> field of the target, for fields it renamed (checked: the "
        "field exists, its type fits, customer data stays customer data)",
        examples=[{"description": "complaint_text"}],
    )
    dry_run: bool = Field(default=False, description="Only the plan: nothing moves")


class UpgradeMove(BaseModel):
    case_id: str
    case_number: str
    stage: str
    to_stage: str
    problem: str | None
    """Why the case cannot move (plan), or why its move failed; None when fine."""
    seq: int | None
    """The ``case.upgraded`` step, once moved."""


class UpgradeResult(BaseModel):
    process: str
    from_version: int
    to_version: int
    carried_out: bool
    """False for a dry run or a plan with a refused case: nothing moved."""
    field_map: dict[str, str] = Field(default_factory=dict)
    """The renamed fields the plan carries over (old -> new), as checked."""
    moves: list[UpgradeMove]
