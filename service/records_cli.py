"""``starter.py`` commands on the stored records: ``verify``, ``report``, ``reassign``, ``migrate``.

Kept out of ``starter.py`` so that it only wires them in. The database URL and a way to reach
Temporal (for ``reassign``) are handed in by the entry point; nothing here reads settings.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import date, datetime, time, timedelta
from typing import TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import make_url, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from activities.storage import CaseRow, make_engine, make_session_factory
from activities.storage.migrations import SchemaError, head_revision, migrate, require_current
from process.spec import Reporting

from .cases import Kesu, KesuError
from .records import Reassigned, open_cases_of, reassign_cases, verify_cases
from .report_causes import cause_report
from .report_causes_render import rectification_lines, render_causes, write_causes_csv
from .report_render import render_report, write_csv
from .report_sql import summarise_report
from .reports import DatedBy, GroupBy, Period

COMMANDS = frozenset({"verify", "report", "reassign", "migrate"})


class RecordsUnavailable(Exception):
    """The database cannot be read as kesu's: unreachable, empty, or an older schema."""


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    verify = commands.add_parser("verify", help="check the audit trail's hash chains")
    verify.add_argument("case", nargs="?", help="one case (id or number); default: every case")

    report = commands.add_parser("report", help="case metrics per process, team or category")
    report.add_argument("--process", help="only this process")
    report.add_argument("--by", choices=[g.value for g in GroupBy], default=GroupBy.PROCESS.value)
    report.add_argument("--csv", action="store_true", help="CSV for spreadsheets")
    report.add_argument("--since", metavar="DATE", help="cases opened (or closed) on or after it")
    report.add_argument("--until", metavar="DATE", help="... and before it (a date: through it)")
    report.add_argument(
        "--dated-by", choices=[d.value for d in DatedBy], default=DatedBy.OPENED.value,
        help="which date --since/--until look at (default: opened)",
    )  # fmt: skip
    report.add_argument("--tz", default="UTC", help="zone of dates without one, e.g. Asia/Shanghai")
    report.add_argument(
        "--causes", action="store_true",
        help="root causes (根本原因) by ISO week in --tz, open rectifications (整改)",
    )  # fmt: skip

    reassign = commands.add_parser("reassign", help="move someone's open cases to someone else")
    reassign.add_argument("--from", dest="from_", required=True, metavar="PERSON")
    reassign.add_argument("--to", required=True, metavar="PERSON")
    reassign.add_argument("--reason", help="recorded in each case's audit trail")
    reassign.add_argument("--actor", default="starter", help="who orders the move")
    reassign.add_argument(
        "--role", action="append", default=[], help="a role the mover acts in (overrides 回避)"
    )
    reassign.add_argument(
        "--with", dest="with_", action="append", default=[], metavar="FIELD=VALUE",
        help="what conflict rules (回避) need of the new assignee, e.g. assignee_branch=静安支行",
    )  # fmt: skip
    reassign.add_argument(
        "--justification", help="why the move goes ahead despite a conflict of interest"
    )

    commands.add_parser("migrate", help="create or upgrade the database schema and stop")


def _moment(text: str, zone: ZoneInfo, option: str, end: bool) -> datetime:
    """``2026-01-31`` or ``2026-01-31T08:00[+08:00]``; a plain date as ``--until`` counts whole."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day + timedelta(days=1) if end else day, time(), zone)
        else:
            moment = datetime.fromisoformat(text)
    except ValueError:
        raise KesuError(f"{option}: {text!r} is not a date (2026-01-31) or a time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def report_period(since: str | None, until: str | None, by: DatedBy, tz: str) -> Period:
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise KesuError(f"--tz: unknown time zone {tz!r}") from None
    period = Period(
        since=_moment(since, zone, "--since", end=False) if since else None,
        until=_moment(until, zone, "--until", end=True) if until else None,
        by=by,
    )
    if period.since and period.until and period.since >= period.until:
        raise KesuError("--since must come before --until")
    return period


def _where(database_url: str) -> str:
    return make_url(database_url).render_as_string(hide_password=True)


@contextlib.contextmanager
def open_records(database_url: str) -> Iterator[Session]:
    """A session on a database at kesu's current schema."""
    engine = make_engine(database_url)
    try:
        try:
            require_current(engine)
        except SchemaError as error:
            raise RecordsUnavailable(f"database {_where(database_url)}: {error}") from None
        except SQLAlchemyError as error:
            raise RecordsUnavailable(
                f"cannot read the database {_where(database_url)}: {error.__class__.__name__}"
            ) from None
        with make_session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


def case_number(database_url: str, case_id: str) -> str | None:
    """The case's number for display, or None if the records cannot tell."""
    with contextlib.suppress(RecordsUnavailable, SQLAlchemyError), open_records(database_url) as s:
        return s.scalar(select(CaseRow.case_number).where(CaseRow.case_id == case_id))
    return None


def _verify(session: Session, case: str | None, out: TextIO) -> int:
    cases = steps = broken = 0
    for verdict in verify_cases(session, case):
        cases, steps = cases + 1, steps + verdict.steps
        if verdict.problem is not None:
            broken += 1
            ref = verdict.case
            print(f"TAMPERED {ref.case_number} {ref.case_id}: {verdict.problem}", file=out)
    if broken:
        print(f"{broken} of {cases} case(s) fail the check", file=out)
        return 1
    print(f"ok  {cases} case(s), {steps} step(s): every audit trail is intact", file=out)
    return 0


def _assignments(given: list[str]) -> dict[str, str]:
    """``--with assignee_branch=静安支行`` -> {"assignee_branch": "静安支行"}."""
    found = {}
    for item in given:
        name, equals, value = item.partition("=")
        if not equals or not name.strip():
            raise KesuError(f"--with {item!r}: write FIELD=VALUE")
        found[name.strip()] = value.strip()
    return found


def _progress(out: TextIO) -> Callable[[Reassigned], None]:
    def show(done: Reassigned) -> None:
        where = f"{done.case.case_number} {done.case.case_id}"
        if done.problem is None:
            print(f"  moved   {where} (step {done.seq})", file=out)
        else:
            print(f"  FAILED  {where}: {done.problem}", file=out)

    return show


async def run(
    args: argparse.Namespace,
    database_url: str,
    reporting: Mapping[str, Reporting],
    open_kesu: Callable[[], AbstractAsyncContextManager[Kesu]],
    out: TextIO = sys.stdout,
) -> int:
    """Run one of ``COMMANDS``; ``reporting`` holds each process's ``reporting:`` section."""
    try:
        if args.command == "migrate":
            engine = make_engine(database_url)
            try:
                migrate(engine)
            except (SchemaError, SQLAlchemyError) as error:
                raise RecordsUnavailable(f"database {_where(database_url)}: {error}") from None
            finally:
                engine.dispose()
            print(f"ok  database {_where(database_url)} at revision {head_revision()}", file=out)
            return 0
        if args.command == "reassign":
            with open_records(database_url) as session:
                cases = open_cases_of(session, args.from_)
            print(f"{len(cases)} open case(s) of {args.from_} → {args.to}", file=out)
            async with open_kesu() as kesu:
                results = await reassign_cases(
                    kesu, cases, args.from_, args.to, actor=args.actor, reason=args.reason,
                    progress=_progress(out), roles=args.role, data=_assignments(args.with_),
                    justification=args.justification,
                )  # fmt: skip
            failed = sum(result.problem is not None for result in results)
            print(f"{len(results) - failed} moved, {failed} failed", file=out)
            return 1 if failed else 0
        with open_records(database_url) as session:
            if args.command == "verify":
                return _verify(session, args.case, out)
            by = GroupBy(args.by)
            period = report_period(args.since, args.until, DatedBy(args.dated_by), args.tz)
            offset = datetime.now(ZoneInfo(args.tz)).utcoffset() or timedelta()
            causes = None
            if args.causes or not args.csv:  # a CSV of the groups has no place for them
                causes = cause_report(
                    session, reporting, process=args.process, period=period, offset=offset,
                    weekly=args.causes,
                )  # fmt: skip
            if causes is not None and args.causes:
                if args.csv:
                    write_causes_csv(causes, out)
                else:
                    print(render_causes(causes, offset), file=out)
                return 0
            reports = summarise_report(
                session, reporting, by=by, process=args.process, period=period
            )
            if args.csv:
                write_csv(reports, by, out)
            else:
                print(render_report(reports, by), file=out)
                if causes is not None and (lines := rectification_lines(causes)):
                    print("\n".join(["", *lines]), file=out)
            return 0
    except RecordsUnavailable as error:
        raise KesuError(str(error)) from None
