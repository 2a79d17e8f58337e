"""Customer data protection end to end, on a real Temporal server and both databases: no pii in
clear in any table, outbox row or history; key rotation while cases run; retention, approved
destruction (crypto-shredding) with the audit chain verifying before and after."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, make_url, select, text
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from activities.keys import Keyring, UnknownKeyError, parse_keys, unseal
from activities.storage import (
    DESTROYED_EVENT,
    CaseKeyRow,
    CaseRow,
    CaseSealer,
    OutboxRow,
    is_sealed,
    is_shredded,
    list_events,
)
from process.compiler import CompiledSpec
from runtime import connect
from service.cases import KesuError
from service.privacy import Privacy
from service.privacy_cli import PrivacyContext, run
from service.records import Verdict, verify_cases
from starter import build_parser
from tests.temporal_support import running_harness

pytestmark = pytest.mark.temporal

NAME, PHONE, STORY = "张秀英", "13912345678", "信用卡被盗刷 stolen-card-7731"
SECRETS = [value.encode() for value in (NAME, PHONE, STORY)]
OFFICERS = (("刘洋", ["data_officer"]), ("周敏", ["data_officer"]))


def stored_bytes(sessions: sessionmaker[Session], database_url: str) -> bytes:
    """Every row of every table as text, and for SQLite the files themselves."""
    chunks: list[bytes] = []
    with sessions() as session:
        bind = session.get_bind()
        for table in inspect(bind).get_table_names():
            for row in session.execute(text(f'SELECT * FROM "{table}"')):
                chunks.append(repr(tuple(row)).encode("utf-8", "backslashreplace"))
                chunks.append(str(tuple(row)).encode())
    database = make_url(database_url).database
    if make_url(database_url).get_backend_name() == "sqlite" and database:
        for suffix in ("", "-wal"):
            path = Path(database + suffix)
            if path.exists():
                chunks.append(path.read_bytes())
    return b"\n".join(chunks)


async def history_bytes(client: Client, case_id: str) -> bytes:
    history = await client.get_workflow_handle(case_id).fetch_history()
    return b"".join(event.SerializeToString() for event in history.events)


def cli(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


async def test_pii_is_encrypted_at_rest_rotated_and_destroyed_with_approval(
    temporal_env: WorkflowEnvironment,
    database_url: str,
    specs: dict[str, CompiledSpec],
    tmp_path: Path,
) -> None:
    ring_file = tmp_path / "keyring"
    keyring = Keyring.from_file(ring_file)
    first_master = keyring.primary_id
    address = temporal_env.client.service_client.config.target_host
    client = await connect(address, "default", payload_key=keyring)
    plain_client = temporal_env.client  # no keys: sees what the server stores
    async with running_harness(client, database_url, specs, keyring=keyring) as h:
        fields = {"customer_id": "C-77", "customer_name": NAME, "phone": PHONE,
                  "description": STORY, "category": "card"}  # fmt: skip
        done = (await h.kesu.start_case("complaint", fields, roles=["agent"])).case_id
        running = (await h.kesu.start_case("complaint", fields, roles=["agent"])).case_id
        await h.kesu.send_event(done, "accept", actor="王敏", roles=["agent"])
        await h.kesu.send_event(done, "withdraw", actor="王敏", roles=["agent"])
        assert (await h.kesu.get_case(done)).state.fields["phone"] == PHONE

        # 1. Nothing in clear: tables, outbox rows, SQLite files, Temporal histories.
        dump = stored_bytes(h.sessions, database_url)
        for case in (done, running):
            dump += await history_bytes(plain_client, case)
        assert not [secret for secret in SECRETS if secret in dump]
        with h.sessions() as session:
            row = session.get(CaseRow, done)
            assert row is not None and is_sealed(row.fields["phone"])
            assert row.fields["category"] == "card"  # non-pii stays readable for reports
            params = session.scalars(select(OutboxRow.params)).all()
            assert params and all(is_sealed(p["fields"]["phone"]) for p in params)
            sealer = CaseSealer(keyring)  # what delivery does before handing a channel a message
            assert sealer.open_values(session, done, row.fields)["customer_name"] == NAME
            mine = session.scalars(select(OutboxRow.params).where(OutboxRow.case_id == done))
            assert sealer.open_values(session, done, mine.first() or {})["fields"]["phone"] == PHONE
        assert all(verdict.problem is None for verdict in _verify(h.sessions))

        # 2. Rotation while cases run: a new master key, case keys rewrapped, cases go on.
        ctx = PrivacyContext(database_url, keyring, specs, _no_client)
        out = io.StringIO()
        assert await run(cli("keys", "rotate"), ctx, out) == 0
        assert "rewrapped 2/2 case key(s)" in out.getvalue()
        rotated = Keyring.from_file(ring_file)
        assert rotated.primary_id != first_master
        with h.sessions() as session:
            masters = set(session.scalars(select(CaseKeyRow.master_key_id)))
            backup = session.get(CaseKeyRow, done)
            assert backup is not None and backup.wrapped is not None
            backup_wrapped = backup.wrapped
        assert masters == {rotated.primary_id}
        await h.kesu.send_event(running, "accept", actor="王敏", roles=["agent"])
        assert (await h.kesu.get_case(running)).state.stage == "triage"
        out = io.StringIO()
        assert await run(cli("keys", "rewrap"), ctx, out) == 0  # resumable: nothing left
        assert "ok  0 case key(s)" in out.getvalue()

        # 3. Retention and destruction by two different people.
        later = Privacy(h.sessions, specs, h.client, clock=lambda: _now() + timedelta(days=1100))
        assert [case.case_id for case in later.retention_due()] == [done]
        assert Privacy(h.sessions, specs).retention_due() == []
        privacy = Privacy(h.sessions, specs, h.client)
        with pytest.raises(KesuError, match="needs role data_officer"):
            privacy.request(done, "王敏", ["agent"])
        with pytest.raises(KesuError, match="still open"):
            privacy.request(running, *OFFICERS[0])
        privacy.request(done, *OFFICERS[0], reason="PIPL: purpose served")
        with pytest.raises(KesuError, match="cannot also approve it"):
            await privacy.approve(done, *OFFICERS[0])
        assert (await h.kesu.get_case(done)).state.fields["phone"] == PHONE  # nothing changed
        await h.client.get_workflow_handle(done).result()  # its last delivery is done
        record = await privacy.approve(done, *OFFICERS[1])
        assert record.approved_by == OFFICERS[1][0] and record.history_deleted_at is not None

        assert await _deleted(plain_client, done)  # Temporal deletes in the background
        assert all(verdict.problem is None for verdict in _verify(h.sessions))
        with h.sessions() as session:
            row = session.get(CaseRow, done)
            assert row is not None and is_shredded(row.fields["phone"])
            assert row.fields["category"] == "card" and row.closed_at is not None
            trail = list_events(session, done)
            assert trail[-1].event == DESTROYED_EVENT
            assert any("approved by 周敏" in note for note in trail[-1].notes)
            assert CaseSealer(rotated).open_values(session, done, row.fields)["phone"] is None
        dump = stored_bytes(h.sessions, database_url)
        assert not [secret for secret in SECRETS if secret in dump]
        assert backup_wrapped not in dump  # the destroyed key left the database files
        # A backup taken before the destruction still holds the wrapped key: it opens only
        # while the master key that wrapped it is in the ring. Retired, nothing opens it.
        retired = Keyring([key for key in _keys(ring_file) if key != rotated.primary])
        with pytest.raises(UnknownKeyError):
            unseal(retired.key(rotated.primary_id), backup_wrapped)


async def _deleted(client: Client, case_id: str) -> bool:
    for _ in range(1200):
        try:
            await client.get_workflow_handle(case_id).describe()
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return True
        await asyncio.sleep(0.1)
    return False


def _verify(sessions: sessionmaker[Session]) -> list[Verdict]:
    with sessions() as session:
        return list(verify_cases(session))


def _keys(path: Path) -> list[bytes]:
    return parse_keys(path.read_text(), str(path))


def _now() -> datetime:
    return datetime.now(UTC)


@contextlib.asynccontextmanager
async def _no_client() -> AsyncIterator[Client]:
    raise AssertionError("keys commands need no Temporal")
    yield
