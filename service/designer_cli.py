"""The designer's commands of ``starter.py``: schema, diagram, simulate, test.

None of them needs Temporal or a database: they work on the definitions folder alone.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from activities.storage import make_engine, make_session_factory
from process.catalog import SpecCatalog
from process.compiler import CompiledSpec
from process.diagram_page import FORMATS
from process.schema import SCHEMA_FOLDER, SCHEMAS, schema_file, schema_text

from .cases import KesuError
from .diagrams import pick_version, process_diagram
from .scenarios import load_scenario, render_simulation, run_scenario, run_suite
from .versions import PublishedDefinitions

COMMANDS = ("schema", "diagram", "simulate", "test")


def add_commands(commands: Any) -> None:
    schema = commands.add_parser(
        "schema", help="JSON Schemas of definitions, calendars and scenarios (for editors)"
    )
    schema.add_argument("name", nargs="?", choices=sorted(SCHEMAS), help="print only this one")
    schema.add_argument(
        "--write",
        action="store_true",
        help=f"write every schema into the definitions folder's {SCHEMA_FOLDER}/",
    )

    diagram = commands.add_parser(
        "diagram", help="draw a process: stages, events, timeouts, deadlines, decision tables"
    )
    diagram.add_argument("process", help="process name, e.g. complaint")
    diagram.add_argument("--format", choices=FORMATS, default="mermaid")
    diagram.add_argument(
        "--version", type=int, help="a published version (default: the definitions folder's)"
    )
    diagram.add_argument("--output", type=Path, help="write to this file instead of printing")

    simulate = commands.add_parser(
        "simulate", help="run a scenario of a process on virtual time (no Temporal, no database)"
    )
    simulate.add_argument("process", help="process name, e.g. complaint")
    simulate.add_argument("--scenario", required=True, type=Path, help="scenario YAML file")

    test = commands.add_parser("test", help="run every scenario in a folder (or one file)")
    test.add_argument("path", type=Path, nargs="?", help="default: the definitions' tests/")


def write_schemas(folder: Path) -> list[Path]:
    target = folder / SCHEMA_FOLDER
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name in SCHEMAS:
        path = target / schema_file(name)
        path.write_text(schema_text(name), encoding="utf-8")
        written.append(path)
    return written


def _published(database_url: str, process: str) -> list[CompiledSpec]:
    """Every published version of ``process`` in the registry (the database)."""
    engine = make_engine(database_url)
    try:
        catalog = SpecCatalog()
        PublishedDefinitions(make_session_factory(engine)).fill(catalog)
        return catalog.versions(process)
    finally:
        engine.dispose()


def run(
    args: argparse.Namespace,
    definitions_dir: Path,
    specs: dict[str, CompiledSpec],
    database_url: str,
) -> int:
    if args.command == "schema":
        if args.write:
            for path in write_schemas(definitions_dir):
                print(f"wrote {path}")
        else:
            print(schema_text(args.name or "process"), end="")
        return 0
    if args.command == "diagram":
        if args.process not in specs:
            raise KesuError(f"unknown process {args.process!r} (known: {', '.join(specs)})")
        spec = specs[args.process]
        if args.version is not None and args.version != spec.version:
            published = _published(database_url, args.process)
            spec = pick_version(args.process, args.version, published)
        text = process_diagram(spec, args.format)
        if args.output is None:
            print(text, end="" if text.endswith("\n") else "\n")
        else:
            args.output.write_text(text, encoding="utf-8")
            print(f"wrote {args.output}")
        return 0
    if args.command == "simulate":
        if args.process not in specs:
            raise KesuError(f"unknown process {args.process!r} (known: {', '.join(specs)})")
        loaded = load_scenario(args.scenario, specs, args.process)
        result = run_scenario(loaded)
        print(render_simulation(loaded, result))
        return 0 if result.ok else 1
    text, ok = run_suite(args.path or definitions_dir / "tests", specs)
    print(text)
    return 0 if ok else 1
