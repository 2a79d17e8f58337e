"""Keyrings for the payload codec: rotation without losing running cases, configuration from
the environment, and unencrypted payloads refused by a process that holds keys."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.keys import Keyring, append_key, key_id, new_key_text
from activities.storage import make_engine
from activities.storage.migrations import migrate
from process.compiler import CompiledSpec
from process.retention import Retention
from process.state import EventInput
from runtime import Settings, SetupError, connect
from service.cases import KesuError
from service.crypto import EncryptionCodec, KesuPayloadConverter, PlaintextPayloadError
from service.privacy_cli import PrivacyContext, run
from starter import build_parser
from tests.temporal_support import running_harness, sqlite_url
from tests.test_payload_encryption import payloads_in
from workflows.case import EVENT_UPDATE

OLD, NEW = os.urandom(32), os.urandom(32)
PLAIN = Payload(metadata={"encoding": b"json/plain"}, data="张女士".encode())


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


async def test_new_payloads_use_the_newest_key_and_old_keys_still_decode() -> None:
    [old] = await EncryptionCodec(OLD).encode([PLAIN])
    rotated = EncryptionCodec(Keyring([OLD, NEW]))
    [new] = await rotated.encode([PLAIN])
    assert new.metadata["encryption-key-id"] == key_id(NEW).encode()
    assert await rotated.decode([old, new]) == [PLAIN, PLAIN]
    with pytest.raises(ValueError, match=f"another key \\({key_id(NEW)}\\)"):
        await EncryptionCodec(OLD).decode([new])
    pinned = EncryptionCodec(Keyring([OLD, NEW], primary_id=key_id(OLD)))
    [sealed] = await pinned.encode([PLAIN])
    assert sealed.metadata["encryption-key-id"] == key_id(OLD).encode()


async def test_an_unencrypted_payload_is_refused_unless_migrating() -> None:
    with pytest.raises(PlaintextPayloadError, match="refused an unencrypted payload"):
        EncryptionCodec(OLD).decode_one(PLAIN)
    # Inside a worker: the content is dropped, and converting it raises the refusal.
    [refused] = await EncryptionCodec(OLD).decode([PLAIN])
    assert refused.data == b""
    with pytest.raises(ApplicationError, match="refused an unencrypted payload"):
        KesuPayloadConverter().from_payloads([refused])
    assert await EncryptionCodec(OLD, allow_plaintext=True).decode([PLAIN]) == [PLAIN]


async def test_a_file_keyring_reads_keys_added_after_it_was_loaded(tmp_path: Path) -> None:
    path = tmp_path / "payload.key"
    running = EncryptionCodec(Keyring.from_file(path))
    rotated_id = append_key(path)
    newer = EncryptionCodec(Keyring.from_file(path))
    assert newer.keyring.primary_id == rotated_id
    [sealed] = await newer.encode([PLAIN])
    assert await running.decode([sealed]) == [PLAIN]


def test_keyrings_come_from_the_environment(tmp_path: Path) -> None:
    ring = Settings.from_env({"KESU_PAYLOAD_KEYS": f"{b64(OLD)}, {b64(NEW)}"}).keyring
    assert ring is not None and ring.ids == [key_id(OLD), key_id(NEW)]
    assert ring.primary_id == key_id(NEW)
    pinned = Settings.from_env(
        {"KESU_PAYLOAD_KEYS": f"{b64(OLD)} {b64(NEW)}", "KESU_PRIMARY_KEY_ID": key_id(OLD)}
    )
    assert pinned.payload_key == OLD
    single = Settings.from_env({"KESU_PAYLOAD_KEY": b64(OLD), "TEMPORAL_ADDRESS": "t:7233"})
    assert single.payload_key == OLD
    ring_file = tmp_path / "ring"
    ring_file.write_text(f"# kesu keyring\n{b64(OLD)}\n{b64(NEW)}  # since 2026-12\n")
    from_file = Settings.from_env({"KESU_KEYRING": str(ring_file)}).keyring
    assert from_file is not None and from_file.ids == [key_id(OLD), key_id(NEW)]
    assert not Settings.from_env({"KESU_PAYLOAD_KEY": b64(OLD)}).allow_plaintext
    assert Settings.from_env({"KESU_ALLOW_PLAINTEXT_PAYLOADS": "1"}).allow_plaintext
    with pytest.raises(SetupError, match="KESU_PAYLOAD_KEYS: key 2 must decode to 32 bytes"):
        Settings.from_env({"KESU_PAYLOAD_KEYS": f"{b64(OLD)},{b64(b'short')}"})
    with pytest.raises(SetupError, match="primary key id 0000 is not in the keyring"):
        Settings.from_env({"KESU_PAYLOAD_KEYS": new_key_text(), "KESU_PRIMARY_KEY_ID": "0000"})


@pytest.mark.temporal
async def test_running_cases_survive_a_key_rotation_and_plain_events_are_refused(
    temporal_env: WorkflowEnvironment, tmp_path: Path, specs: dict[str, CompiledSpec]
) -> None:
    address = temporal_env.client.service_client.config.target_host
    before = await connect(address, "default", payload_key=Keyring([OLD]))
    after = await connect(address, "default", payload_key=Keyring([OLD, NEW]))
    url = sqlite_url(tmp_path)
    async with running_harness(before, url, specs) as h:
        fields = {"customer_id": "C-1", "customer_name": "张女士"}
        case = (await h.kesu.start_case("complaint", fields, roles=["agent"])).case_id
        queue = h.task_queue
    async with running_harness(after, url, specs, task_queue=queue) as h:
        await h.kesu.send_event(case, "accept", actor="王敏", roles=["agent"])
        assert (await h.kesu.get_case(case)).state.stage == "triage"
        # The stock CLI's way: an update with a readable payload. Refused, not applied.
        plain = temporal_env.client.get_workflow_handle(case)
        request = EventInput(
            event="assign", actor="x", roles=["supervisor"], data={"assignee": "13800000009"}
        )
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await asyncio.wait_for(plain.execute_update(EVENT_UPDATE, request), timeout=60)
        # The message is encoded with the failure (a keyless client sees only its type).
        cause = refused.value.cause
        assert isinstance(cause, ApplicationError) and cause.type == "UnencryptedPayload"
        assert (await h.kesu.get_case(case)).state.stage == "triage"
        history = await plain.fetch_history()
        stored = [p for event in history.events for p in payloads_in(event)]
        assert not [p for p in stored if b"13800000009" in p.data]
        ids = {p.metadata.get("encryption-key-id") for p in stored}  # None: search attributes
        assert ids == {None, key_id(OLD).encode(), key_id(NEW).encode()}


def test_retention_periods_count_calendar_years_and_bad_ones_are_refused() -> None:
    leap = datetime(2024, 2, 29, 12, tzinfo=UTC)
    assert Retention(keep="3y").due(leap) == datetime(2027, 2, 28, 12, tzinfo=UTC)
    assert Retention(keep="90d").due(leap) == leap + timedelta(days=90)
    assert Retention(keep="2w").roles == ["data_officer"]
    with pytest.raises(ValidationError, match="bad retention '3 years'"):
        Retention(keep="3 years")


async def test_keys_rotate_refuses_a_keyring_from_the_environment(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kesu.db'}"
    migrate(make_engine(url))
    context = PrivacyContext(url, Keyring([OLD]), {}, _no_temporal)
    with pytest.raises(KesuError, match="comes from the environment"):
        await run(build_parser().parse_args(["keys", "rotate"]), context, io.StringIO())


def _no_temporal() -> contextlib.AbstractAsyncContextManager[Client]:
    raise AssertionError("keys need no Temporal")
