"""``starter.py merge`` and ``starter.py group``: duplicates and group complaints from the CLI,
and the lines ``starter.py start`` adds about a new case's possible duplicates."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import TextIO

from sqlalchemy.exc import SQLAlchemyError

from .cases import Kesu, KesuError
from .linking import Duplicates, Group, Linking

COMMANDS = frozenset({"merge", "group"})


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    merge = commands.add_parser(
        "merge", help="merge a duplicate into its primary case (the duplicate closes)"
    )
    merge.add_argument("duplicate", help="the duplicate case (id)")
    merge.add_argument("--into", required=True, help="the primary case it is merged into")
    merge.add_argument("--reason", required=True, help="why (kept in both timelines)")
    _acting(merge)
    merge.add_argument("--id", help="merge id: the same id is applied once however often sent")

    group = commands.add_parser("group", help="group complaints: many customers, one cause")
    actions = group.add_subparsers(dest="group_command", required=True)
    create = actions.add_parser("create", help="a new group with its handling plan")
    create.add_argument("--process", required=True, help="the process of its cases")
    create.add_argument("--plan", required=True, help="the handling plan for every case of it")
    create.add_argument("--title", help="a name for people")
    _acting(create)
    add = actions.add_parser("add", help="link cases to a group (a step in each case)")
    add.add_argument("group", help="the group id (G-...)")
    add.add_argument("case", nargs="+", help="case ids")
    _acting(add)
    show = actions.add_parser("show", help="a group: its plan and its cases")
    show.add_argument("group", help="the group id (G-...)")


def _acting(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--actor", default=getpass.getuser(), help="who acts (recorded)")
    parser.add_argument("--role", action="append", default=[], help="a role the actor acts in")


async def run(args: argparse.Namespace, kesu: Kesu, out: TextIO | None = None) -> int:
    out = out or sys.stdout  # read now: a caller may have replaced it
    linking = Linking(kesu)
    if args.command == "merge":
        merged = await linking.merge(
            args.duplicate, args.into, actor=args.actor, roles=args.role, reason=args.reason,
            request_id=args.id,
        )  # fmt: skip
        print(
            f"{args.duplicate}: merged into {args.into}, closed in {merged.duplicate.stage} "
            f"(step {merged.duplicate.seq}); {args.into} records it (step {merged.primary.seq})",
            file=out,
        )
        return 0
    if args.group_command == "create":
        group = linking.create_group(
            args.process, args.plan, actor=args.actor, roles=args.role, title=args.title
        )
        print(f"{group.group_id} created", file=out)
    elif args.group_command == "add":
        for case_id in args.case:
            result = await linking.add_to_group(
                args.group, case_id, actor=args.actor, roles=args.role
            )
            print(f"{case_id}: in group {args.group} (step {result.seq})", file=out)
    else:
        print(render_group(linking.group(args.group)), file=out)
    return 0


def render_group(group: Group) -> str:
    lines = [
        f"group {group.group_id} — {group.title or group.process}",
        f"  process: {group.process}",
        f"  plan:    {group.plan}",
        f"  created: {group.created_at:%Y-%m-%d %H:%M} UTC by {group.created_by}",
        f"  cases ({len(group.members)}):",
    ]
    lines += [
        f"    {member.case_number:<16} {member.case_id:<36} {member.stage}"
        + ("  [closed]" if member.closed else "")
        for member in group.members
    ]
    return "\n".join(lines)


def render_duplicates(found: Duplicates) -> str:
    if not found.checked:
        return f"possible duplicates: not checked ({found.reason})"
    if not found.cases:
        return "possible duplicates: none"
    lines = [f"possible duplicates ({len(found.cases)} open, same customer and category):"]
    lines += [
        f"  {case.case_number:<16} {case.case_id:<36} {case.stage:<16} "
        f"opened {case.opened_at:%Y-%m-%d %H:%M} UTC"
        for case in found.cases
    ]
    return "\n".join(lines)


async def duplicates_text(kesu: Kesu, case_id: str) -> str | None:
    """What ``start`` says about duplicates; None when the process declares no merging."""
    if kesu.records is None:
        return None
    try:
        found = await Linking(kesu).duplicates(case_id)
    except KesuError as error:
        return f"possible duplicates: not checked ({error})"
    return (
        None if found.reason and "declares no merging" in found.reason else render_duplicates(found)
    )


async def groups_text(kesu: Kesu, case_ids: list[str]) -> dict[str, str]:
    """The group of each listed case; none when the database cannot say."""
    if kesu.records is None:
        return {}
    try:
        return await asyncio.to_thread(Linking(kesu).groups_of, case_ids)
    except SQLAlchemyError:
        return {}  # the listing itself comes from Temporal: still shown
