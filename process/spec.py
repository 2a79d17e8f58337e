"""The process definition language, as typed models.

This module checks the *shape* of a definition (types, required keys, spellings of keys);
cross-references (does a stage exist, does a guard parse, is every stage reachable) are checked
in ``checks.py`` once the shape is known to be right. Both run once, when a definition loads.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from .calendars import known_zone
from .conflicts import Conflicts
from .durations import TimeAmount
from .events import CASE_OPENED_TRIGGER
from .merging import Merging
from .retention import Retention


class Model(BaseModel):
    """Strict about keys: a misspelt key is an error, not a silently ignored setting."""

    # Attribute docstrings become the JSON Schema's descriptions: editors show them on hover.
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class FieldType(StrEnum):
    STRING = "string"
    TEXT = "text"
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    ENUM = "enum"
    DATE = "date"
    DATETIME = "datetime"


class FieldSpec(Model):
    """A case field: its type, its title for people, whether it is customer data."""

    type: FieldType = FieldType.STRING
    """string, text, number, integer, boolean, enum (with ``values``), date or datetime."""
    title: str | None = None
    """The field's name for people, e.g. ``客户姓名 Customer name``."""
    required: bool = False
    """A case cannot be opened without a value for it."""
    pii: bool = False
    """Customer data: encrypted at rest, never in search attributes or logs."""
    values: list[str] | None = None
    """The allowed values of an ``enum`` field."""
    default: Any = None
    """The value a new case starts with when none is given."""


ACTION_KEYS = ("notify", "set", "decide", "to")


class Action(Model):
    """One thing to do: exactly one of notify / set / decide / to."""

    notify: str | None = None
    """Recipient role of a message (``customer``, ``supervisor``, ``assignee``...)."""
    template: str | None = None
    """The message template a ``notify`` sends (``definitions/templates/<name>.<lang>.j2``)."""
    set: dict[str, Any] | None = None
    """Field values to set, e.g. ``{priority: high}``; a value that does not fit its field is an
    expression (``reopen_count + 1``), for a text field written after ``=`` (``= actor``)."""
    decide: str | None = None
    """Name of a decision table whose first matching rule sets fields."""
    to: str | None = None
    """Move the case to this stage."""

    @model_validator(mode="before")
    @classmethod
    def _one_kind(cls, data: Any) -> Any:
        if isinstance(data, dict):
            # Keys set to null count as absent: that is how a compiled spec serialises.
            kinds = [key for key in ACTION_KEYS if data.get(key) is not None]
            if len(kinds) != 1:
                found = ", ".join(kinds) if kinds else "none of them"
                raise ValueError(
                    f"an action has exactly one of {', '.join(ACTION_KEYS)}; found {found}"
                )
            if data.get("template") is not None and kinds != ["notify"]:
                raise ValueError("'template' belongs to a notify action")
        return data

    @model_validator(mode="after")
    def _notify_has_template(self) -> Action:
        if self.notify is not None and not self.template:
            raise ValueError(f"notify {self.notify!r} needs a template")
        return self


def _stage_name_shorthand(value: Any) -> Any:
    """``withdraw: closed`` is short for ``withdraw: {to: closed}``."""
    return {"to": value} if isinstance(value, str) else value


class ConditionalRequirement(Model):
    """Fields an event must carry when a condition holds, e.g. a rectification when the
    finding is not the customer's."""

    when: str
    """A condition over the case fields and the event's inputs, e.g.
    ``responsibility != 'customer'``."""
    fields: list[str] = Field(min_length=1)
    """The fields the event must then carry a value for (they are inputs of the event)."""


class Transition(Model):
    """An event the stage accepts; ``withdraw: closed`` is short for ``withdraw: {to: closed}``."""

    to: str
    """The stage the event moves the case to (the same stage records work done in it)."""
    title: str | None = None
    """The event's name for people, e.g. ``受理 Accept``."""
    roles: list[str] = Field(default_factory=list)
    """Roles allowed to send the event; ``[any]`` for everybody (checked: never left empty)."""
    requires: list[str] = Field(default_factory=list)
    """Fields the event must carry a value for."""
    # Left out of dumps while empty: older definitions keep their content hash.
    requires_when: list[ConditionalRequirement] = Field(
        default_factory=list, exclude_if=lambda value: not value
    )
    """Fields the event must carry only when a condition holds: ``[{when: "responsibility !=
    'customer'", fields: [rectification, rectification_owner]}]``; a refusal names them."""
    inputs: list[str] = Field(default_factory=list)
    """Fields the event may carry besides ``requires``; any other field is refused."""
    when: str | None = None
    """Guard in kesu's expression language over the case fields (and the event's inputs)."""
    actions: list[Action] = Field(default_factory=list)
    """Run when the event is applied, before the case enters the target stage (set, notify)."""


class Timeout(Model):
    """Leave the stage by itself when no event came within ``after``."""

    after: TimeAmount
    """Time in the stage: calendar time (``7d``) or working days (``3wd``, on ``calendar``)."""
    to: str
    """The stage the case moves to."""
    # Left out of dumps while unset: a definition that does not use it keeps its content hash
    # (a published version stays the same content; its cases' histories name it by hash).
    calendar: str | None = Field(default=None, exclude_if=lambda value: value is None)
    """The business calendar a timeout in working days counts on (default: the process's)."""
    refuse: str | None = None
    """Once the timeout has fired, the reason an event of this stage is refused (a window that
    closed), e.g. ``核查申请须在收到决定后30日内提出``."""
    actions: list[Action] = Field(default_factory=list)
    """Run before the move."""


class Stage(Model):
    """A stage of a case: what happens on entering it and which events it accepts."""

    title: str | None = None
    """The stage's name for people, e.g. ``受理 Intake``."""
    initial: bool = False
    """Cases open in this stage (exactly one stage is initial)."""
    final: bool = False
    """Entering it closes the case and stops every clock."""
    on_enter: list[Action] = Field(default_factory=list)
    """Actions run each time the case enters the stage."""
    on: dict[
        str,
        Annotated[
            Transition,
            BeforeValidator(_stage_name_shorthand, json_schema_input_type=Transition | str),
        ],
    ] = Field(default_factory=dict)
    """The events the stage accepts, by name: a target stage or ``{to: ..., roles: ...}``."""
    timeout: Timeout | None = None
    """Leave the stage by itself after a while."""
    pauses: list[str] = Field(default_factory=list)
    """Deadlines whose clocks stop while the case is in this stage."""
    requires: list[str] = Field(default_factory=list)
    """Fields that must have a value before the case may enter this stage."""


class ClockTrigger(Model):
    """When a deadline clock starts or stops: exactly one of enter / leave / event; a start
    may count from a date ``field`` (alone: from when the case opens)."""

    enter: str | None = None
    """On entering this stage."""
    leave: str | None = None
    """On leaving this stage."""
    event: str | None = None
    """When this event is applied (``case_opened``: when the case opens)."""
    field: str | None = Field(default=None, exclude_if=lambda value: value is None)  # hash kept
    """``start`` and ``restart`` only: count from this date or datetime field's value rather
    than from the moment (``{field: received_at}``: a letter's receipt date entered later)."""
    when: str | None = Field(default=None, exclude_if=lambda value: value is None)  # hash kept
    """Only when this condition over the case fields holds at that moment, e.g.
    ``{event: close, when: "responsibility != 'customer'"}``."""

    @model_validator(mode="before")
    @classmethod
    def _one_kind(cls, data: Any) -> Any:
        if data == CASE_OPENED_TRIGGER:
            return {"event": CASE_OPENED_TRIGGER}
        kinds = ("enter", "leave", "event")
        alone = isinstance(data, dict) and not any(data.get(key) is not None for key in kinds)
        if alone and data.get("field") is not None:  # counts from a date: starts on opening
            data = {**data, "event": CASE_OPENED_TRIGGER}
        if isinstance(data, dict) and sum(data.get(key) is not None for key in kinds) != 1:
            raise ValueError(
                f"write exactly one of enter, leave, event (or {CASE_OPENED_TRIGGER!r})"
            )
        return data


def _one_or_many(value: Any) -> Any:
    return value if isinstance(value, list) else [value]


_TriggerInput = ClockTrigger | Literal["case_opened"]
Triggers = Annotated[
    list[ClockTrigger],
    BeforeValidator(_one_or_many, json_schema_input_type=_TriggerInput | list[_TriggerInput]),
]


class Escalation(Model):
    """One rung of an escalation chain: ``after`` the breach, if the clock still runs."""

    after: TimeAmount
    """Time after the breach, on the deadline's clock, e.g. ``4h``."""
    actions: list[Action]
    """What the rung does: notify someone, set fields, move the case (``to``)."""


class Deadline(Model):
    """A clock with its own start, stop, pause, resume and restart moments and a target."""

    title: str | None = None
    """The deadline's name for people, e.g. ``24小时内响应 Respond within 24 hours``."""
    start: Triggers = Field(default_factory=lambda: [ClockTrigger(event=CASE_OPENED_TRIGGER)])
    """When the clock starts (default: when the case opens); it starts once."""
    stop: Triggers
    """When the clock stops: met if before its due time."""
    pause: Triggers = Field(default_factory=list)
    """When the clock pauses (paused time does not count)."""
    resume: Triggers = Field(default_factory=list)
    """When a paused clock runs again."""
    restart: Triggers = Field(default_factory=list)
    """Start afresh (new facts from the customer): elapsed and paused time are forgotten."""
    within: TimeAmount | dict[str, TimeAmount]
    """One duration, or one per value of the ``by`` field."""
    by: str | None = None
    """The field whose value picks the target when ``within`` is a mapping."""
    clock: Literal["calendar", "business", "legal"] = "calendar"
    """``calendar``: every hour counts; ``business``: only working time on ``calendar``;
    ``legal``: days and months as the Civil Code counts periods (arts. 200-204), on ``calendar``."""
    ends: Literal["midnight", "close"] = "midnight"
    """Legal clock: the last day ends at 24:00, or at the close of business on ``calendar``."""
    calendar: str | None = None
    """The business calendar (default: the process's ``calendar``)."""
    warn: list[str] = Field(default_factory=list)
    """Warn before the breach: a share of the target (``75%``) or a time before it (``15m``)."""
    on_warn: list[Action] = Field(default_factory=list)
    """Actions run at each warning."""
    on_breach: list[Action] = Field(default_factory=list)
    """Actions run when the clock passes its due time while still running."""
    escalate: list[Escalation] = Field(default_factory=list)
    """An escalation chain: rungs run ``after`` the breach while the clock still runs."""


class Rule(Model):
    """A row of a decision table: the first rule whose condition holds sets its fields."""

    when: str
    """A condition over the case fields, e.g. ``amount > 50000``."""
    set: dict[str, Any]
    """Field values set when it holds."""


class Reporting(Model):
    """What ``starter.py report`` reads from a case: field, clock, stage and event names.

    The defaults are the names the shipped definitions use; a name the process lacks leaves
    its measure empty (a process without a ``nps`` field reports no NPS).
    """

    team: str = "team"
    category: str = "category"
    csat: str = "csat"
    """Satisfaction 1-5."""
    nps: str = "nps"
    """Likelihood to recommend 0-10."""
    responsibility: str = "responsibility"
    """责任认定; the actor of the step that set it signed it off."""
    first_response: str = "response"
    """The clock whose stop is the first response."""
    resolution: str = "resolution"
    """The clock whose stop is the resolution."""
    review_stages: list[str] = Field(default_factory=lambda: ["review"])
    """Entering one of these stages counts the case as reviewed (复核)."""
    reopen_events: list[str] = Field(default_factory=lambda: ["reopen", "dissatisfied"])
    """Events that send a case back to handling (reopened)."""
    # Left out of dumps while unset (content hashes kept); unset reads as the name below.
    root_cause: str | None = Field(default=None, exclude_if=lambda value: value is None)
    """The root-cause field (根本原因; default ``root_cause``): ``report --causes``."""
    rectification: str | None = Field(default=None, exclude_if=lambda value: value is None)
    """The clock that follows a rectification (整改; default ``rectification``): running, it
    is an open rectification."""

    @property
    def root_cause_field(self) -> str:
        return self.root_cause or "root_cause"

    @property
    def rectification_clock(self) -> str:
        return self.rectification or "rectification"


def _zone_or_none(value: str | None) -> str | None:
    return None if value is None else known_zone(value)


class ProcessDefinition(Model):
    """A kesu process definition: fields, stages, deadlines and decision tables."""

    process: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    """The process name (lower case, digits, ``_``), e.g. ``complaint``."""
    version: int = Field(ge=1)
    """Raise it with each change: running cases keep the version they were opened with."""
    title: str | None = None
    """The process's name for people, e.g. ``客户投诉 Customer complaint``."""
    case_number_prefix: str | None = Field(default=None, pattern=r"^[A-Z][A-Z0-9]{0,15}$")
    """Case numbers read ``CP-2026-000123``; default: the process name in capitals."""
    calendar: str | None = None
    """The business calendar (``definitions/calendars/<name>.yaml``) of business clocks."""
    timezone: Annotated[str | None, AfterValidator(_zone_or_none)] = None
    """Where the process's people read times (default: its calendar's zone, else UTC)."""
    priority_field: str | None = None
    """The field shown as the case's priority in listings (a search attribute)."""
    roles: list[str] = Field(default_factory=list)
    """Every role the definition uses; events may only name these."""
    opened_by: list[str] = Field(default_factory=list)
    """Roles that may open a case; ``[any]`` for everybody (checked: never left empty)."""
    pii_roles: list[str] = Field(default_factory=list)
    """Roles that see ``pii`` fields unmasked when reading a case (HTTP API); empty: none."""
    fields: dict[str, FieldSpec] = Field(default_factory=dict)
    """The case's fields by name."""
    stages: dict[str, Stage]
    """The stages by name; one is ``initial``, at least one ``final``."""
    deadlines: dict[str, Deadline] = Field(default_factory=dict)
    """Deadline clocks by name."""
    decisions: dict[str, list[Rule]] = Field(default_factory=dict)
    """Decision tables by name, used by ``decide`` actions: the first matching rule applies."""
    reporting: Reporting = Field(default_factory=Reporting)
    """Which fields, clocks, stages and events ``starter.py report`` reads."""
    retention: Retention | None = None
    """How long customer data is kept once the case closed; None: until destroyed by hand."""
    # Left out of dumps while unset: definitions without it keep their content hash.
    merging: Merging | None = Field(default=None, exclude_if=lambda value: value is None)
    """Duplicates (same customer and category within a window) and group complaints: which
    fields identify them, the stage a merged duplicate moves to, who may merge and group."""
    conflicts: Conflicts | None = Field(default=None, exclude_if=lambda value: value is None)
    """回避: who may not be made responsible for a case (the employee it is about, staff of
    the branch it is about); an assignment into that set is refused and recorded."""

    @property
    def number_prefix(self) -> str:
        return self.case_number_prefix or self.process.upper()

    @property
    def initial_stage(self) -> str:
        return next(name for name, stage in self.stages.items() if stage.initial)

    @property
    def pii_fields(self) -> list[str]:
        return [name for name, field in self.fields.items() if field.pii]
