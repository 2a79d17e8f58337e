"""Business calendars in operation: which open cases count on them, and publishing new data.

``starter.py calendars`` lists each calendar with its coverage and the open clocks that use it;
``starter.py calendars publish NAME`` sends every open case that counts on it the calendar's
new content as a recorded update, so its clocks re-target (see ``process.recalendar``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

from process.calendars import CalendarSpec
from process.clocks import ClockStatus
from process.compiler import CompiledSpec
from process.recalendar import UNCHANGED, CalendarUpdate, calendar_hash
from process.spec import ProcessDefinition

from .cases import Kesu
from .listing import CaseFilter
from .refusals import KesuError

_MOST_CASES = 1_000_000


@dataclass
class CalendarUsage:
    calendar: CalendarSpec
    processes: list[str]
    open_cases: int = 0
    open_clocks: int = 0
    """Running or paused clocks of open cases that count on this calendar, and stage timeouts
    in working days on it (publishing re-targets both)."""


@dataclass
class Published:
    calendar: str
    updated: dict[str, list[str]] = field(default_factory=dict)
    """Case id -> the notes of its re-targeting step."""
    unchanged: int = 0
    refused: dict[str, str] = field(default_factory=dict)


def _counts_on(definition: ProcessDefinition, name: str) -> list[str]:
    """The deadlines of a definition that count on calendar ``name``."""
    return [
        deadline_name
        for deadline_name, deadline in definition.deadlines.items()
        if deadline.clock != "calendar" and (deadline.calendar or definition.calendar) == name
    ]


def _users(specs: Mapping[str, CompiledSpec], name: str) -> list[str]:
    return sorted(process for process, spec in specs.items() if name in spec.calendars)


async def _open_cases(kesu: Kesu, processes: list[str]) -> list[str]:
    found = []
    for process in processes:
        rows = await kesu.list_cases(CaseFilter(process=process), limit=_MOST_CASES)
        found += [row.case_id for row in rows if row.running]
    return found


async def calendar_usage(kesu: Kesu, calendars: Mapping[str, CalendarSpec]) -> list[CalendarUsage]:
    """Every calendar, the processes counting on it, and its open cases and clocks."""
    usages = []
    for name, calendar in sorted(calendars.items()):
        usage = CalendarUsage(calendar=calendar, processes=_users(kesu.processes, name))
        for case_id in await _open_cases(kesu, usage.processes):
            view = await kesu.get_case(case_id)
            # The clocks of the case's own version count on the calendar, not the current one's.
            spec = kesu.definition_of(view.state) or kesu.processes[view.state.process]
            definition = spec.definition
            active = (ClockStatus.RUNNING, ClockStatus.PAUSED)
            clocks = [view.state.clocks[n] for n in _counts_on(definition, name)]
            counted = sum(1 for clock in clocks if clock.status in active)
            counted += 1 if view.timeout is not None and view.timeout.calendar == name else 0
            usage.open_cases += 1 if counted else 0
            usage.open_clocks += counted
        usages.append(usage)
    return usages


async def publish_calendar(
    kesu: Kesu,
    calendar: CalendarSpec,
    actor: str,
    cases: list[str] | None = None,
    wait: float = 60.0,
) -> Published:
    """Send the calendar to every open case of a process that counts on it (or to ``cases``).

    A case whose worker does not answer within ``wait`` seconds is reported, not waited for:
    publishing again later sends it what it lacks (cases that have the calendar refuse it).
    """
    update = CalendarUpdate.of(calendar, actor)
    published = Published(calendar=calendar.calendar)
    if cases is None:
        cases = await _open_cases(kesu, _users(kesu.processes, calendar.calendar))
    for case_id in cases:
        try:
            await asyncio.wait_for(kesu.update_calendar(case_id, update), wait)
        except TimeoutError:
            published.refused[case_id] = f"no worker answered within {wait:.0f} s; publish again"
            continue
        except KesuError as error:
            if UNCHANGED in str(error):
                published.unchanged += 1
            else:
                published.refused[case_id] = str(error)
            continue
        view = await kesu.get_case(case_id)
        published.updated[case_id] = view.state.steps[-1].notes
    return published


def render_usage(usages: list[CalendarUsage]) -> str:
    lines = [f"{'calendar':<16} {'covers':<25} {'open cases':>10} {'open clocks':>11}  processes"]
    for usage in usages:
        covers = usage.calendar.covers
        lines.append(
            f"{usage.calendar.calendar:<16} {f'{covers.first} to {covers.last}':<25} "
            f"{usage.open_cases:>10} {usage.open_clocks:>11}  {', '.join(usage.processes) or '-'}"
            f"  ({calendar_hash(usage.calendar)[:12]})"
        )
    return "\n".join(lines)


def render_published(published: Published) -> str:
    lines = [f"calendar {published.calendar}: {len(published.updated)} open cases updated, "
             f"{published.unchanged} already had it, {len(published.refused)} refused"]  # fmt: skip
    for case_id, notes in published.updated.items():
        lines.append(f"  {case_id}")
        lines += [f"    · {note}" for note in notes]
    lines += [f"  REFUSED {case_id}: {why}" for case_id, why in published.refused.items()]
    return "\n".join(lines)
