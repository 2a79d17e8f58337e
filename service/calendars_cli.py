"""``starter.py calendars``: list business calendars, add a year by hand, publish to open cases.

starter.py calendars                          # coverage, open cases and clocks of each
starter.py calendars add-year notice.yaml     # merge a year from the State Council's notice
starter.py calendars publish cn-workdays      # re-target every open case that counts on it
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

from process.calendar_years import add_year
from process.loader import DefinitionError, load_calendar, load_calendars

from .calendars import calendar_usage, publish_calendar, render_published, render_usage
from .cases import Kesu

COMMAND = "calendars"


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    calendars = commands.add_parser(
        COMMAND, help="business calendars: coverage and use, add-year, publish"
    )
    actions = calendars.add_subparsers(dest="calendars_action")
    add = actions.add_parser("add-year", help="add a year from a transcription of the notice")
    add.add_argument("notice", type=Path, help="YAML: year, holidays, workdays (调休)")
    add.add_argument("--calendar", default="cn-workdays", help="the calendar to extend")
    add.add_argument("--dry-run", action="store_true", help="check and show, write nothing")
    publish = actions.add_parser("publish", help="send a calendar to every open case using it")
    publish.add_argument("calendar", help="calendar name, e.g. cn-workdays")
    publish.add_argument("--actor", default="starter", help="who publishes it")
    publish.add_argument(
        "--case", action="append", help="only this open case (again for more); default: all"
    )


async def run(
    args: argparse.Namespace,
    calendars_dir: Path,
    open_kesu: Callable[[], AbstractAsyncContextManager[Kesu]],
) -> int:
    if args.calendars_action == "add-year":
        path = calendars_dir / f"{args.calendar}.yaml"
        if not path.is_file():
            raise DefinitionError([f"{path.name}: no such calendar in {calendars_dir}"])
        text, merged = add_year(path, args.notice)
        added = f"{merged.calendar} now covers {merged.covers.first} to {merged.covers.last}"
        if args.dry_run:
            print(f"{added} (dry run: nothing written)")
            return 0
        path.write_text(text, encoding="utf-8")
        print(f"{added}; open cases keep the old dates until: starter.py calendars publish "
              f"{merged.calendar}")  # fmt: skip
        return 0
    async with open_kesu() as kesu:
        if args.calendars_action == "publish":
            calendar = load_calendar(calendars_dir / f"{args.calendar}.yaml")
            published = await publish_calendar(kesu, calendar, args.actor, args.case)
            print(render_published(published))
            return 1 if published.refused else 0
        print(render_usage(await calendar_usage(kesu, load_calendars(calendars_dir))))
    return 0
