"""Start cases, send events, show and list cases: ``python starter.py --help``.

Also the Python API for other systems::

    from starter import open_kesu
    async with open_kesu() as kesu:
        started = await kesu.start_case(
            "complaint", {"customer_id": "C-1"}, key="crm-42", actor="王敏", roles=["agent"]
        )
        await kesu.send_event(started.case_id, "accept", actor="li", roles=["agent"])
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import signal
import sys
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from activities.channels.setup import TEMPLATES_FOLDER
from activities.storage import make_engine, make_session_factory
from activities.template_checks import load_checked_templates
from activities.templates import TemplateProblems
from process.coverage import calendars_in_use, ending_soon
from process.loader import CALENDARS_FOLDER, DefinitionError, load_catalog
from process.spec import FieldSpec
from process.warning_loader import load_warnings
from runtime import (
    EmbeddedServer,
    Settings,
    SetupError,
    exit_after,
    load_specs,
    publications,
    reader_left,
    temporal_client,
)
from service import (
    calendars_cli,
    designer_cli,
    linking_cli,
    outbox,
    privacy_cli,
    records_cli,
    versions_cli,
    warnings_cli,
)
from service.cases import CaseFilter, CaseListing, Kesu, KesuError, Started
from service.field_text import field_from_text
from service.privacy import Privacy
from service.render import render_case, render_listing
from service.versions import PublishedDefinitions
from service.waiting import database_probe

__all__ = ["CaseListing", "Kesu", "KesuError", "Started", "open_kesu"]


@contextlib.asynccontextmanager
async def open_kesu(settings: Settings | None = None) -> AsyncIterator[Kesu]:
    """Kesu on the configured Temporal cluster (or the embedded server) and definitions."""
    settings = settings or Settings.from_env()
    engine = make_engine(settings.database_url)
    try:
        registry = PublishedDefinitions(make_session_factory(engine))
        async with temporal_client(settings) as client:
            yield kesu_for(client, settings, registry)
    finally:
        engine.dispose()


def kesu_for(client: Client, settings: Settings, registry: PublishedDefinitions) -> Kesu:
    """The service layer with the configured wait and, where known, a database to check."""
    known = settings.database_configured
    probe = database_probe(settings.database_url) if known else None
    return Kesu(
        client, {}, settings.task_queue, registry, wait=settings.wait_seconds, database=probe
    )


def _fields(
    declared: Mapping[str, FieldSpec], pairs: Sequence[str], raw: str | None
) -> dict[str, Any]:
    values: dict[str, Any] = json.loads(raw) if raw else {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep:
            raise KesuError(f"--field takes name=value, got {pair!r}")
        values[name] = field_from_text(declared.get(name), text)
    return values


@contextlib.contextmanager
def _outbox_sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(settings.database_url)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def _outbox_command(args: argparse.Namespace, settings: Settings) -> int:
    """``list --dead`` and ``redeliver``: the database only, no Temporal needed."""
    try:
        with _outbox_sessions(settings) as sessions:
            return _outbox_action(args, sessions)
    except outbox.OutboxError as error:
        raise KesuError(str(error)) from None
    except SQLAlchemyError as error:
        where = make_url(settings.database_url).render_as_string(hide_password=True)
        raise KesuError(
            f"cannot use the outbox at {where} ({type(error).__name__}): is the database "
            "running, and has a worker created kesu's tables there?"
        ) from None


def _outbox_action(args: argparse.Namespace, sessions: sessionmaker[Session]) -> int:
    if args.command == "redeliver":
        keys = outbox.redeliver(sessions, case_id=args.case, keys=args.key)
        print(f"{len(keys)} message(s) queued again; the worker's sweep sends them:")
        print("\n".join(f"  {key}" for key in keys))
    else:
        print(outbox.render_dead_letters(outbox.dead_letters(sessions, args.limit)))
    return 0


def messages_text(settings: Settings, case_id: str) -> str:
    try:
        with _outbox_sessions(settings) as sessions:
            return outbox.render_messages(outbox.case_messages(sessions, case_id))
    except SQLAlchemyError as error:
        return f"messages: (the database cannot be read: {type(error).__name__})"


async def _command(args: argparse.Namespace, kesu: Kesu, settings: Settings) -> int:
    if args.command == "start":
        fields = _fields(kesu.spec(args.process).definition.fields, args.field, args.json)
        started = await kesu.start_case(
            args.process, fields, key=args.key, actor=args.actor, roles=args.role
        )
        print(f"{started.case_id} {'opened' if started.created else 'already open (same key)'}")
        if kesu.spec(args.process).definition.merging is not None:
            duplicates = await linking_cli.duplicates_text(kesu, started.case_id)
            if duplicates is not None:
                print(duplicates)
    elif args.command == "event":
        view = await kesu.get_case(args.case)
        own = kesu.definition_of(view.state) or kesu.spec(view.state.process)
        fields = _fields(own.definition.fields, args.field, args.json)
        result = await kesu.send_event(
            args.case, args.event, actor=args.actor, roles=args.role, data=fields, event_id=args.id
        )
        print(f"{args.case}: {result.from_stage} → {result.stage} (step {result.seq})")
    elif args.command == "show":
        view = await kesu.get_case(args.case)
        number = records_cli.case_number(settings.database_url, args.case)
        spec = kesu.definition_of(view.state)
        if args.show_pii:  # recorded before it is shown: no unmasked read goes unrecorded
            pii = spec.definition.pii_fields if spec is not None else list(view.state.fields)
            shown = [name for name in pii if name in view.state.fields]
            with privacy_cli.open_sessions(settings.database_url) as sessions:
                Privacy(sessions, {}).record_unmasked_read(
                    args.case, args.actor, ["cli"], shown, "cli"
                )
        print(render_case(view, spec, show_pii=args.show_pii, case_number=number))
        print(messages_text(settings, args.case))
    elif args.command == "repair":
        result = await kesu.repair_case(
            args.case, args.reason, actor=args.actor, role="operator", request_id=args.id
        )
        print(f"{args.case}: repaired; the case goes on in {result.stage} (step {result.seq})")
    elif args.command in linking_cli.COMMANDS:
        return await linking_cli.run(args, kesu)
    elif args.command == "list":
        where = CaseFilter(
            process=args.process,
            stage=args.stage,
            priority=args.priority,
            overdue=args.overdue,
            include_finished=args.all,
        )
        listings = await kesu.list_cases(where, limit=args.limit)
        groups = await linking_cli.groups_text(kesu, [item.case_id for item in listings])
        print(render_listing(listings, groups))
    return 0


def build_parser(prog: str = "starter.py") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="kesu (客诉) cases")
    commands = parser.add_subparsers(dest="command", required=True)

    start = commands.add_parser("start", help="open a case")
    start.add_argument("process", help="process name, e.g. complaint")
    start.add_argument("--key", help="your id for the case: the same key never opens two cases")
    start.add_argument("--actor", default="starter", help="who opens it")
    start.add_argument("--role", action="append", default=[], help="a role the actor acts in")

    event = commands.add_parser("event", help="send an event to a case")
    event.add_argument("case", help="case id")
    event.add_argument("event", help="event name, e.g. accept")
    event.add_argument("--actor", default="starter", help="who sends it")
    event.add_argument("--role", action="append", default=[], help="a role the actor acts in")
    event.add_argument("--id", help="event id: the same id is applied once however often sent")

    for command in (start, event):
        command.add_argument("--field", action="append", default=[], metavar="NAME=VALUE")
        command.add_argument("--json", help="field values as a JSON object")

    show = commands.add_parser("show", help="a case: fields, deadlines, timeline")
    show.add_argument("case")
    show.add_argument(
        "--unmasked", "--show-pii", dest="show_pii", action="store_true",
        help="show customer data unmasked (recorded: starter.py access-log CASE)",
    )  # fmt: skip
    show.add_argument("--actor", default=getpass.getuser(), help="who reads (recorded)")

    repair = commands.add_parser(
        "repair", help="retry the step a halted case stopped on, once its cause is fixed"
    )
    repair.add_argument("case", help="case id")
    repair.add_argument("--reason", required=True, help="what was fixed (kept in the timeline)")
    repair.add_argument("--actor", default=getpass.getuser(), help="who repairs (recorded)")
    repair.add_argument("--id", help="repair id: the same id is applied once however often sent")

    listing = commands.add_parser("list", help="list open cases")
    listing.add_argument("--process")
    listing.add_argument("--stage")
    listing.add_argument("--priority")
    listing.add_argument("--overdue", action="store_true", help="only cases past a deadline")
    listing.add_argument("--all", action="store_true", help="include finished cases")
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument(
        "--dead", action="store_true", help="list dead messages (failed for good) instead"
    )

    redeliver = commands.add_parser("redeliver", help="send dead messages again")
    redeliver.add_argument("case", nargs="?", help="every dead message of this case")
    redeliver.add_argument(
        "--key", action="append", default=[], help="a message's key (from show / list --dead)"
    )

    records_cli.add_commands(commands)  # verify, report, reassign, migrate
    linking_cli.add_commands(commands)  # merge, group
    designer_cli.add_commands(commands)  # schema, diagram, simulate, test
    versions_cli.add_commands(commands)  # publish, versions, upgrade
    calendars_cli.add_commands(commands)  # calendars [add-year | publish]
    privacy_cli.add_commands(commands)  # keys, retention, access-log
    warnings_cli.add_commands(commands)  # warnings (投诉预防)
    commands.add_parser("check", help="validate the process definitions and stop")
    demo = commands.add_parser("demo", help="run sample cases on embedded defaults and show them")
    demo.add_argument(
        "--wait", action=argparse.BooleanOptionalAction, default=None,
        help="keep the Temporal Web UI up until Ctrl-C (default: when run from a terminal)",
    )  # fmt: skip
    return parser


async def _offer_web_ui(settings: Settings, wait: bool | None) -> None:
    """Name the embedded server's Web UI; on a terminal keep it up until Ctrl-C."""
    server = EmbeddedServer.recorded(settings.data_dir) if not settings.temporal_address else None
    if server is None or server.ui_url is None:
        return
    print(f"\nTemporal Web UI (these cases, their timers and histories): {server.ui_url}")
    if wait if wait is not None else sys.stdin.isatty() and sys.stdout.isatty():
        print("Ctrl-C stops the server and the worker.", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()


async def _main(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if args.command == "check":
        specs = load_specs(settings.definitions_dir)
        for spec in specs.values():
            print(f"ok  {spec.label}: {len(spec.definition.stages)} stages")
        for note in versions_cli.registry_notes(settings.database_url, list(specs.values())):
            print(note)
        today = datetime.now(UTC).date()
        for warning in ending_soon(calendars_in_use(specs.values()).values(), today):
            print(f"WARNING  {warning}")
        for warning in load_catalog(settings.definitions_dir).warnings:
            print(f"WARNING  {warning}")  # a likely mistake; it does not stop the definitions
        definitions = {name: spec.definition for name, spec in specs.items()}
        catalog = load_checked_templates(settings.definitions_dir / TEMPLATES_FOLDER, definitions)
        rules = load_warnings(settings.definitions_dir, definitions)
        problems = warnings_cli.template_problems(rules, catalog)
        if problems:
            raise TemplateProblems(problems)
        print(f"ok  templates: {len(catalog.templates)} (every message in every language)")
        print(f"ok  early-warning rules: {len(rules.rules)}")
        return 0
    if args.command == warnings_cli.COMMAND:
        specs = load_specs(settings.definitions_dir)
        definitions = {name: spec.definition for name, spec in specs.items()}
        return warnings_cli.run(args, settings.definitions_dir, definitions, settings.database_url)
    if args.command in designer_cli.COMMANDS:
        needs_specs = args.command != "schema"
        specs = load_specs(settings.definitions_dir) if needs_specs else {}
        return designer_cli.run(args, settings.definitions_dir, specs, settings.database_url)
    if args.command == "redeliver" or (args.command == "list" and args.dead):
        return _outbox_command(args, settings)
    if args.command in versions_cli.COMMANDS:
        folder = settings.definitions_dir
        return await versions_cli.run(
            args, settings.database_url, lambda: publications(folder), lambda: open_kesu(settings)
        )
    if args.command == calendars_cli.COMMAND:
        calendars_dir = settings.definitions_dir / CALENDARS_FOLDER
        return await calendars_cli.run(args, calendars_dir, lambda: open_kesu(settings))
    if args.command in privacy_cli.COMMANDS:
        context = privacy_cli.PrivacyContext(
            settings.database_url,
            settings.keyring,
            load_specs(settings.definitions_dir),
            lambda: temporal_client(settings),
        )
        return await privacy_cli.run(args, context)
    if args.command in records_cli.COMMANDS:
        specs = load_specs(settings.definitions_dir) if args.command == "report" else {}
        reporting = {name: spec.definition.reporting for name, spec in specs.items()}
        return await records_cli.run(
            args, settings.database_url, reporting, lambda: open_kesu(settings)
        )
    if args.command == "demo":
        from service.demo import run_demo
        from worker import running_worker

        specs = load_specs(settings.definitions_dir)
        async with running_worker(settings) as client:
            ok = await run_demo(Kesu(client, specs, settings.task_queue))
            await _offer_web_ui(settings, wait=args.wait)
        return 0 if ok else 1
    async with open_kesu(settings) as kesu:
        return await _command(args, kesu, settings)


def main(argv: Sequence[str] | None = None, prog: str = "starter.py") -> int:
    args = build_parser(prog).parse_args(argv)
    try:
        return asyncio.run(_main(args))
    except (KesuError, DefinitionError, TemplateProblems) as error:
        print(f"kesu: {error}", file=sys.stderr)
        return 1
    except SetupError as error:
        print(f"kesu: {error}", file=sys.stderr)
        return 2
    except json.JSONDecodeError as error:
        print(f"kesu: --json is not valid JSON: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return reader_left()


if __name__ == "__main__":
    exit_after(main())
