"""``starter.py`` commands for customer data protection: ``keys``, ``retention``, ``access-log``.

The entry point hands in the database URL, the keyring, the compiled definitions and a way to
reach Temporal; nothing here reads settings.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TextIO

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from activities.keys import Keyring, append_key, key_id, new_key_text, parse_key
from activities.storage import keys_by_master, make_engine, make_session_factory
from activities.storage.migrations import SchemaError, require_current
from process.compiler import CompiledSpec

from .privacy import Privacy, rotate_and_rewrap
from .refusals import KesuError

COMMANDS = frozenset({"keys", "retention", "access-log"})


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = commands.add_parser("keys", help="the keyring: list, rotate, rewrap, new")
    keys_do = keys.add_subparsers(dest="keys_command", required=True)
    keys_do.add_parser("list", help="key ids, the primary one, case keys each wraps")
    keys_do.add_parser("rotate", help="add a key to the keyring file and rewrap case keys")
    keys_do.add_parser("rewrap", help="rewrap case keys with the primary key (resumable)")
    keys_do.add_parser("new", help="print a new key and its id (for a cluster's keyring)")

    retention = commands.add_parser("retention", help="retention and approved destruction")
    do = retention.add_subparsers(dest="retention_command", required=True)
    due = do.add_parser("due", help="closed cases past their retention")
    due.add_argument("--process")
    for name, text in (("request", "ask to destroy"), ("approve", "approve and destroy")):
        command = do.add_parser(name, help=f"{text} a closed case's customer data")
        command.add_argument("case")
        command.add_argument("--actor", required=True, help="who you are")
        command.add_argument("--role", action="append", default=[], help="e.g. data_officer")
        if name == "request":
            command.add_argument("--reason", help="recorded with the destruction")

    access = commands.add_parser("access-log", help="who read a case's customer data unmasked")
    access.add_argument(
        "case", help="a case id; '-' lists codec decodes whose payloads named no case"
    )


@dataclass(frozen=True)
class PrivacyContext:
    database_url: str
    keyring: Keyring | None
    specs: Mapping[str, CompiledSpec]
    open_client: Callable[[], AbstractAsyncContextManager[Client]]


@contextlib.contextmanager
def open_sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    try:
        require_current(engine)
        yield make_session_factory(engine)
    except (SchemaError, SQLAlchemyError) as error:
        raise KesuError(f"cannot use the database: {error}") from None
    finally:
        engine.dispose()


async def run(args: argparse.Namespace, ctx: PrivacyContext, out: TextIO = sys.stdout) -> int:
    if args.command == "keys" and args.keys_command == "new":  # no database needed
        text = new_key_text()
        print(f"{text}  # id {key_id(parse_key(text))}", file=out)
        return 0
    with open_sessions(ctx.database_url) as sessions:
        if args.command == "keys":
            return _keys(args.keys_command, ctx.keyring, sessions, out)
        privacy = Privacy(sessions, ctx.specs)
        if args.command == "access-log":
            reads = privacy.access_log(args.case)
            for row in reads:
                when = row.at.isoformat(timespec="seconds")
                print(
                    f"{when}  {row.actor} ({', '.join(row.roles) or '-'}) via {row.channel}: "
                    f"{', '.join(row.fields)}",
                    file=out,
                )
            print(f"{len(reads)} unmasked read(s) of {args.case}", file=out)
            return 0
        if args.retention_command == "due":
            due = privacy.retention_due(args.process)
            for case in due:
                print(
                    f"{case.case_number} {case.case_id} closed {case.closed_at:%Y-%m-%d}, "
                    f"due {case.due_at:%Y-%m-%d}",
                    file=out,
                )
            print(f"{len(due)} case(s) past retention", file=out)
            return 0
        if args.retention_command == "request":
            privacy.request(args.case, args.actor, args.role, args.reason)
            print(f"{args.case}: destruction requested; another person approves it", file=out)
            return 0
        async with ctx.open_client() as client:
            privacy = Privacy(sessions, ctx.specs, client)
            done = await privacy.approve(args.case, args.actor, args.role)
        print(
            f"{args.case}: customer data destroyed (requested by {done.requested_by}, approved "
            f"by {done.approved_by}); Temporal history deleted",
            file=out,
        )
        return 0


def _keys(
    command: str, keyring: Keyring | None, sessions: sessionmaker[Session], out: TextIO
) -> int:
    if keyring is None:
        raise KesuError(
            "no keyring is configured (KESU_PAYLOAD_KEYS, KESU_KEYRING or KESU_PAYLOAD_KEY)"
        )
    if command == "rotate":
        if keyring.path is None:
            raise KesuError(
                "the keyring comes from the environment: add a key made by `keys new` to "
                "KESU_PAYLOAD_KEYS on every process (README: key rotation), then `keys rewrap`"
            )
        added = append_key(keyring.path)
        print(f"added key {added} to {keyring.path}; it encrypts new data from now on", file=out)
        keyring = Keyring.from_file(keyring.path)
    if command in ("rotate", "rewrap"):

        def progress(done: int, total: int) -> None:
            print(f"  rewrapped {done}/{total} case key(s)", file=out, flush=True)

        moved = rotate_and_rewrap(sessions, keyring, progress)
        print(f"ok  {moved} case key(s) rewrapped with {keyring.primary_id}", file=out)
        return 0
    with sessions() as session:
        counts = keys_by_master(session)
    for ident in keyring.ids:
        mark = "primary" if ident == keyring.primary_id else "       "
        print(f"{ident}  {mark}  wraps {counts.pop(ident, 0)} case key(s)", file=out)
    for missing, count in counts.items():
        print(f"{missing}  MISSING  wraps {count} case key(s): put it back in the ring", file=out)
    return 0
