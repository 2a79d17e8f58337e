"""Start cases, send events, show and list cases: ``python starter.py --help``.

Also the Python API for other systems::

    from starter import open_kesu
    async with open_kesu() as kesu:
        started = await kesu.start_case("complaint", {"customer_id": "C-1"}, key="crm-42")
        await kesu.send_event(started.case_id, "accept", actor="li", roles=["agent"])
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator, Sequence
from typing import Any

from runtime import Settings, SetupError, load_specs, temporal_client
from service.cases import CaseListing, Kesu, KesuError, Started
from service.render import render_case, render_listing
from workflows.loader import DefinitionError
from workflows.spec import FieldSpec, FieldType

__all__ = ["CaseListing", "Kesu", "KesuError", "Started", "open_kesu"]


@contextlib.asynccontextmanager
async def open_kesu(settings: Settings | None = None) -> AsyncIterator[Kesu]:
    """Kesu on the configured Temporal cluster (or the embedded server) and definitions."""
    settings = settings or Settings.from_env()
    specs = load_specs(settings.definitions_dir)
    async with temporal_client(settings) as client:
        yield Kesu(client, specs, settings.task_queue)


def _field_value(spec: FieldSpec | None, text: str) -> Any:
    """``--field amount=50000`` -> 50000: command-line text becomes the field's type."""
    if spec is None:
        return text  # an unknown field: the case will refuse it by name
    try:
        if spec.type is FieldType.NUMBER:
            return float(text) if any(ch in text for ch in ".eE") else int(text)
        if spec.type is FieldType.INTEGER:
            return int(text)
    except ValueError:
        return text  # refused with the field's expected type
    if spec.type is FieldType.BOOLEAN and text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def _fields(kesu: Kesu, process: str, pairs: Sequence[str], raw: str | None) -> dict[str, Any]:
    values: dict[str, Any] = json.loads(raw) if raw else {}
    declared = kesu.spec(process).definition.fields
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep:
            raise KesuError(f"--field takes name=value, got {pair!r}")
        values[name] = _field_value(declared.get(name), text)
    return values


async def _command(args: argparse.Namespace, kesu: Kesu) -> int:
    if args.command == "start":
        fields = _fields(kesu, args.process, args.field, args.json)
        started = await kesu.start_case(args.process, fields, key=args.key, actor=args.actor)
        print(f"{started.case_id} {'opened' if started.created else 'already open (same key)'}")
    elif args.command == "event":
        view = await kesu.get_case(args.case)
        fields = _fields(kesu, view.state.process, args.field, args.json)
        result = await kesu.send_event(
            args.case, args.event, actor=args.actor, roles=args.role, data=fields, event_id=args.id
        )
        print(f"{args.case}: {result.from_stage} → {result.stage} (step {result.seq})")
    elif args.command == "show":
        view = await kesu.get_case(args.case)
        print(render_case(view, kesu.spec(view.state.process), show_pii=args.show_pii))
    elif args.command == "list":
        listings = await kesu.list_cases(
            process=args.process,
            stage=args.stage,
            overdue=args.overdue,
            include_finished=args.all,
            limit=args.limit,
        )
        print(render_listing(listings))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="starter.py", description="kesu (客诉) cases")
    commands = parser.add_subparsers(dest="command", required=True)

    start = commands.add_parser("start", help="open a case")
    start.add_argument("process", help="process name, e.g. complaint")
    start.add_argument("--key", help="your id for the case: the same key never opens two cases")
    start.add_argument("--actor", default="starter", help="who opens it")

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
    show.add_argument("--show-pii", action="store_true", help="show customer data unmasked")

    listing = commands.add_parser("list", help="list open cases")
    listing.add_argument("--process")
    listing.add_argument("--stage")
    listing.add_argument("--overdue", action="store_true", help="only cases past a deadline")
    listing.add_argument("--all", action="store_true", help="include finished cases")
    listing.add_argument("--limit", type=int, default=100)

    commands.add_parser("check", help="validate the process definitions and stop")
    commands.add_parser("demo", help="run sample cases on embedded defaults and show them")
    return parser


async def _main(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if args.command == "check":
        specs = load_specs(settings.definitions_dir)
        for spec in specs.values():
            print(f"ok  {spec.label}: {len(spec.definition.stages)} stages")
        return 0
    if args.command == "demo":
        from service.demo import run_demo
        from worker import running_worker

        specs = load_specs(settings.definitions_dir)
        async with running_worker(settings) as client:
            ok = await run_demo(Kesu(client, specs, settings.task_queue))
        return 0 if ok else 1
    async with open_kesu(settings) as kesu:
        return await _command(args, kesu)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return asyncio.run(_main(args))
    except (KesuError, DefinitionError) as error:
        print(f"kesu: {error}", file=sys.stderr)
        return 1
    except SetupError as error:
        print(f"kesu: {error}", file=sys.stderr)
        return 2
    except json.JSONDecodeError as error:
        print(f"kesu: --json is not valid JSON: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # see worker.py: the SDK may crash at exit after a clean shutdown
