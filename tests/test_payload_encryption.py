"""Case data is encrypted in Temporal's history: a client without the key reads no PII."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from process.compiler import CompiledSpec
from runtime import Settings, SetupError, connect
from service.crypto import EncryptionCodec, PayloadKeyError, key_from_file, parse_key
from tests.temporal_support import Harness, running_harness, sqlite_url

KEY = os.urandom(32)


async def test_a_payload_round_trips_and_hides_its_content() -> None:
    codec = EncryptionCodec(KEY)
    plain = Payload(metadata={"encoding": b"json/plain"}, data="张女士 13800000001".encode())
    [sealed] = await codec.encode([plain])
    assert "张女士".encode() not in sealed.data and b"13800000001" not in sealed.data
    assert sealed.metadata["encoding"] == b"binary/encrypted"
    assert await codec.decode([sealed]) == [plain]
    [again] = await codec.encode([plain])
    assert again.data != sealed.data  # a fresh nonce every time


async def test_old_readable_payloads_decode_when_migrating_and_foreign_ones_are_refused() -> None:
    codec = EncryptionCodec(KEY)
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b"{}")
    assert await EncryptionCodec(KEY, allow_plaintext=True).decode([plain]) == [plain]
    [sealed] = await EncryptionCodec(os.urandom(32)).encode([plain])
    with pytest.raises(ValueError, match="another key"):
        await codec.decode([sealed])
    [sealed] = await codec.encode([plain])
    sealed.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(ValueError, match="integrity check"):
        await codec.decode([sealed])


def test_keys_are_checked_and_the_embedded_key_is_private(tmp_path: Path) -> None:
    with pytest.raises(PayloadKeyError, match="not base64"):
        parse_key("not a key!")
    with pytest.raises(PayloadKeyError, match="32 bytes, not 3"):
        parse_key(base64.b64encode(b"abc").decode())
    path = tmp_path / "data" / "payload.key"
    key = key_from_file(path)
    assert key_from_file(path) == key and len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    embedded = Settings.from_env({"KESU_DATA_DIR": str(tmp_path / "data")})
    assert embedded.payload_key == key
    cluster = Settings.from_env({"TEMPORAL_ADDRESS": "temporal:7233"})
    assert cluster.payload_key is None
    with pytest.raises(SetupError, match="KESU_PAYLOAD_KEY must decode to 32 bytes"):
        Settings.from_env({"KESU_PAYLOAD_KEY": base64.b64encode(b"short").decode()})


@pytest_asyncio.fixture
async def encrypted(
    temporal_env: WorkflowEnvironment, tmp_path: Path, specs: dict[str, CompiledSpec]
) -> AsyncIterator[Harness]:
    address = temporal_env.client.service_client.config.target_host
    client = await connect(address, "default", payload_key=KEY)
    async with running_harness(client, sqlite_url(tmp_path), specs) as harness:
        yield harness


@pytest.mark.temporal
async def test_no_customer_data_is_readable_in_the_history(
    encrypted: Harness, temporal_env: WorkflowEnvironment
) -> None:
    h = encrypted
    fields = {"customer_id": "C-1", "customer_name": "张女士", "phone": "13800000001"}
    case = (await h.kesu.start_case("complaint", fields, roles=["agent"])).case_id
    await h.kesu.send_event(case, "accept", actor="王敏", roles=["agent"])
    view = await h.kesu.get_case(case)
    assert view.state.fields["customer_name"] == "张女士"  # the key holder reads it
    plain_client: Client = temporal_env.client  # no key: what the server stores
    history = await plain_client.get_workflow_handle(case).fetch_history()
    stored = [payload for event in history.events for payload in payloads_in(event)]
    assert stored, "the history holds payloads"
    for payload in stored:
        assert "张女士".encode() not in payload.data and b"13800000001" not in payload.data
    started = history.events[0].workflow_execution_started_event_attributes
    assert [p.metadata["encoding"] for p in started.input.payloads] == [b"binary/encrypted"]


def payloads_in(message: Message) -> list[Payload]:
    """Every Payload anywhere inside a protobuf message (inputs, results, memos...)."""
    if isinstance(message, Payload):
        return [message]
    found: list[Payload] = []
    for field, value in message.ListFields():
        if field.message_type is None:
            continue  # a scalar
        if field.message_type.GetOptions().map_entry:
            values = list(value.values())
        elif field.is_repeated:
            values = list(value)
        else:
            values = [value]
        for item in values:
            if isinstance(item, Message):
                found.extend(payloads_in(item))
    return found
