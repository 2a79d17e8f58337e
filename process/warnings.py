"""Early warning (投诉预防): rules that see complaints pile up before they become a crisis.

A rule in ``definitions/warnings/*.yaml`` counts the cases opened of some processes by the
value of one of their fields (one category, one branch, one product) in fixed windows of time;
when a window holds ``at_least`` of them, the named recipients are warned, once per rule, value
and window. Windows follow each other from Monday 1970-01-05 00:00 in the rule's time zone, so
``window: 7d`` is a week from Monday and ``1d`` a day from midnight.

Pure: the rule models, matching a case and the window maths. Counting is SQL's
(``activities.storage.warnings``); loading and the checks against the definitions are
``warning_loader``'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from .calendars import known_zone
from .durations import parse_duration

WARNINGS_FOLDER = "warnings"
"""Inside the definitions folder: the early-warning rule files."""
DEFAULT_TEMPLATE = "early_warning"
MAX_WINDOW = timedelta(days=366)
"""A longer window is a report, not a warning."""
_ANCHOR = datetime(1970, 1, 5)  # a Monday: 7d windows are weeks from Monday
_DURATION_PATTERN = r"^\s*(\d+(\.\d+)?\s*[wWdDhHmM]\s*)+$"


def _window(value: Any) -> Any:
    if isinstance(value, str):
        span = parse_duration(value)
        if span > MAX_WINDOW:
            raise ValueError(f"a window of at most {MAX_WINDOW.days}d")
        if span < timedelta(minutes=1):
            raise ValueError("a window of at least 1m")
    return value


Window = Annotated[
    str,
    BeforeValidator(_window),
    WithJsonSchema({"type": "string", "pattern": _DURATION_PATTERN}),
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class WarningRule(_Model):
    """Warn when ``at_least`` cases with one value of ``count_by`` open within one window."""

    title: str | None = None
    """The warning's name for people, e.g. ``银行卡投诉集中 Card complaints pile up``."""
    processes: list[str] = Field(min_length=1)
    """The processes whose cases count, e.g. ``[complaint]``."""
    count_by: str
    """The case field whose value is counted (``category``, ``branch``, ``product``); cases
    without a value do not count."""
    values: list[str] | None = None
    """Only these values count (default: every value, each on its own)."""
    at_least: int = Field(ge=2, le=100_000)
    """How many cases of one value within one window raise the warning."""
    window: Window
    """The window's length: calendar time, ``1d``, ``7d``, ``24h``."""
    timezone: Annotated[str, AfterValidator(known_zone)] = "Asia/Shanghai"
    """Where windows start at midnight."""
    notify: list[str] = Field(min_length=1)
    """The recipients (roles, routed to channels like any message): ``[supervisor, manager]``."""
    template: str = DEFAULT_TEMPLATE
    """The message template (``definitions/templates/<name>.<language>.j2``)."""

    @property
    def span(self) -> timedelta:
        return parse_duration(self.window)

    def key_of(self, process: str, fields: Mapping[str, Any]) -> str | None:
        """The value a case of ``process`` with ``fields`` counts under, or None."""
        if process not in self.processes:
            return None
        value = fields.get(self.count_by)
        if value is None or isinstance(value, (dict, list)):
            return None
        key = str(value).strip()
        if not key or (self.values is not None and key not in self.values):
            return None
        return key

    def window_of(self, at: datetime) -> tuple[datetime, datetime]:
        """The window ``at`` falls in: [start, end), aware, in the rule's zone."""
        return window_of(at, self.span, ZoneInfo(self.timezone))


class WarningFile(_Model):
    """A file of early-warning rules: ``warnings: {name: rule, ...}``."""

    warnings: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")], WarningRule] = Field(
        min_length=1
    )
    """The rules by name (lower case, digits, ``_``): the name keys what was raised."""


def window_of(at: datetime, span: timedelta, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The window of length ``span`` holding ``at``; windows count from ``_ANCHOR`` in
    ``zone``'s wall time (a day window runs midnight to midnight there)."""
    wall = at.astimezone(zone).replace(tzinfo=None)
    index = (wall - _ANCHOR) // span
    start = _ANCHOR + index * span
    return start.replace(tzinfo=zone), (start + span).replace(tzinfo=zone)


@dataclass(frozen=True)
class WarningRules:
    """Every rule of the definitions folder by name (empty: no early warning)."""

    rules: Mapping[str, WarningRule]

    def matching(
        self, process: str, fields: Mapping[str, Any]
    ) -> list[tuple[str, WarningRule, str]]:
        """The rules a case counts for, with the value it counts under, by rule name."""
        found = []
        for name in sorted(self.rules):
            key = self.rules[name].key_of(process, fields)
            if key is not None:
                found.append((name, self.rules[name], key))
        return found


NO_WARNINGS = WarningRules({})
