"""``starter.py`` commands on definition versions: ``publish``, ``versions`` (and ``upgrade``).

The entry point hands in the database URL and the publications read from the definitions
folder; nothing here reads settings or files.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TextIO

from sqlalchemy import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from activities.storage import (
    Publication,
    PublishRefused,
    make_engine,
    make_session_factory,
    open_cases_by_stage,
    version_spec,
)
from activities.storage.migrations import SchemaError, migrate
from process.compiler import CompiledSpec

from .cases import Kesu
from .refusals import KesuError
from .upgrades import Move, UpgradePlan, parse_field_map, parse_stage_map
from .versions import PublishedDefinitions, render_published, render_versions

COMMANDS = frozenset({"publish", "versions", "upgrade"})


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    publish = commands.add_parser(
        "publish", help="publish the definitions that changed as new versions"
    )
    publish.add_argument("--by", default="starter", help="who publishes (recorded)")
    versions = commands.add_parser(
        "versions", help="a process's published versions and their open cases"
    )
    versions.add_argument("process")
    upgrade = commands.add_parser(
        "upgrade", help="move a process's open cases to a newer published version"
    )
    upgrade.add_argument("process")
    upgrade.add_argument("--from", dest="from_version", type=int, required=True, metavar="N")
    upgrade.add_argument("--to", dest="to_version", type=int, required=True, metavar="N")
    upgrade.add_argument(
        "--map", action="append", default=[], metavar="OLD=NEW", help="a renamed stage"
    )
    upgrade.add_argument(
        "--map-field", action="append", default=[], metavar="OLD=NEW", help="a renamed field"
    )
    upgrade.add_argument("--dry-run", action="store_true", help="print the plan, move nothing")
    upgrade.add_argument("--actor", default="starter", help="who orders the move (audited)")


async def run(
    args: argparse.Namespace,
    database_url: str,
    publications: Callable[[], Sequence[Publication]],
    open_kesu: Callable[[], AbstractAsyncContextManager[Kesu]],
    out: TextIO | None = None,
) -> int:
    out = out or sys.stdout  # read now: a test may have replaced it
    engine = make_engine(database_url)
    where = make_url(database_url).render_as_string(hide_password=True)
    try:
        if args.command == "publish":
            migrate(engine)  # publishing may come before any worker ever ran
        registry = PublishedDefinitions(make_session_factory(engine))
        if args.command == "upgrade":
            return await _upgrade(args, open_kesu, out)
        if args.command == "publish":
            results = registry.publish(publications(), by=args.by)
            print(render_published(results), file=out)
        else:
            print(render_versions(args.process, registry.versions(args.process)), file=out)
        return 0
    except PublishRefused as error:
        raise KesuError(f"nothing published:\n{error}") from None
    except (SchemaError, SQLAlchemyError) as error:
        raise KesuError(f"database {where}: {error}") from None
    finally:
        engine.dispose()


def _case(move: Move) -> str:
    return f"{move.case.case_number} {move.case.case_id}"


def render_plan(plan: UpgradePlan) -> str:
    source, target = plan.source, plan.target
    lines = [
        f"upgrade {source.process} v{source.version} → v{target.version} "
        f"({source.content_hash[:12]} → {target.content_hash[:12]}): "
        f"{len(plan.moves)} open case(s)"
    ]
    lines += _field_lines(plan)
    for move in plan.moves:
        if move.problem is None:
            lines.append(f"  will move  {_case(move)}  {move.case.stage} → {move.to_stage}")
        else:
            lines.append(f"  REFUSED    {_case(move)}: {move.problem}")
    return "\n".join(lines)


def _field_lines(plan: UpgradePlan) -> list[str]:
    """What becomes of each field of the source: renamed, kept, or dropped (with pii)."""
    old_fields, new_fields = plan.source.definition.fields, plan.target.definition.fields
    lines = []
    for old, spec in old_fields.items():
        new = plan.field_map.get(old, old)
        pii = " (pii)" if spec.pii else ""
        if new not in new_fields:
            lines.append(f"  field  {old}{pii}: not in v{plan.target.version}, dropped")
        elif new != old:
            became = " (pii)" if new_fields[new].pii else ""
            lines.append(f"  field  {old}{pii} → {new}{became}")
    return lines


def _progress(out: TextIO) -> Callable[[Move], None]:
    def show(move: Move) -> None:
        if move.problem is None:
            print(f"  moved   {_case(move)} (step {move.seq})", file=out)
        else:
            print(f"  FAILED  {_case(move)}: {move.problem}", file=out)

    return show


async def _upgrade(
    args: argparse.Namespace,
    open_kesu: Callable[[], AbstractAsyncContextManager[Kesu]],
    out: TextIO,
) -> int:
    stage_map, field_map = parse_stage_map(args.map), parse_field_map(args.map_field)
    # The plan's cases come from the database and from Temporal (those not stored yet).
    async with open_kesu() as kesu:
        plan = await kesu.upgrade(
            args.process, args.from_version, args.to_version, stage_map,
            field_map=field_map, dry_run=True,
        )  # fmt: skip
        print(render_plan(plan), file=out)
        if plan.refused:
            print(f"{len(plan.refused)} case(s) refused: nothing moved", file=out)
            return 1
        if args.dry_run:
            print(f"dry run: {len(plan.moves)} case(s) would move; nothing moved", file=out)
            return 0
        done = await kesu.upgrade(
            args.process, args.from_version, args.to_version, stage_map,
            field_map=field_map, actor=args.actor, progress=_progress(out),
        )  # fmt: skip
    failed = sum(move.problem is not None for move in done.moves)
    print(f"{len(done.moves) - failed} moved, {failed} failed", file=out)
    return 1 if failed or done.refused else 0


def registry_notes(database_url: str, specs: Sequence[CompiledSpec]) -> list[str]:
    """What ``check`` adds about the files against what is published: a changed file under a
    published version, stages gone that open cases sit in. Empty without a registry."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        return []  # no database yet: nothing published (and check must not create one)
    engine = make_engine(database_url)
    notes: list[str] = []
    try:
        with make_session_factory(engine)() as session:
            for spec in specs:
                notes += _notes(session, spec)
    except SQLAlchemyError:
        return []  # no database or no tables yet: nothing published to compare with
    finally:
        engine.dispose()
    return notes


def _notes(session: Session, spec: CompiledSpec) -> list[str]:
    published = version_spec(session, spec.process, spec.version)
    label = f"{spec.process} v{spec.version}"
    if published is None:
        notes = [f"new  {label}: not published yet (starter.py publish)"]
    elif published.content_hash != spec.content_hash:
        notes = [
            f"CHANGED  {label}: version {spec.version} is already published with other "
            "content; bump version: before publishing"
        ]
    else:
        notes = []
    open_stages = open_cases_by_stage(session, spec.process)
    for stage, count in sorted(open_stages.items()):
        if stage not in spec.definition.stages:
            notes.append(
                f"NOTE  {label}: stage {stage!r} is gone; {count} open case(s) are in it "
                f"(upgrade them with --map {stage}=<stage>)"
            )
    return notes
