"""Encrypting what kesu sends through Temporal: case fields travel in workflow inputs, update
arguments, query answers and activity inputs, and customer data must not sit readable in the
Temporal server's history.

A payload codec (AES-256-GCM) runs at the edge of every client and worker, outside workflow
code. Each payload names the key that sealed it; a keyring (``activities.keys``) seals with its
primary key and opens with any key it holds, so keys can be rotated while cases run. Search
attributes are not payloads: they stay readable, which is why they never hold customer data.

A payload that arrives unencrypted (sent by a client without the key, such as the stock
``temporal`` CLI) is refused, so that its customer data is not applied and kept; only an
explicit ``allow_plaintext`` (for migrating an installation that ran without encryption)
accepts it. The codec cannot refuse it itself: a codec error fails the whole workflow task
(the caller only hears "Workflow Task in failed state"). It swaps the payload for an empty
``binary/kesu-unencrypted`` one instead, which ``KesuPayloadConverter`` refuses with an
``ApplicationError``: an update is then rejected with the reason, before it reaches history.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import PydanticPayloadConverter
from temporalio.converter import CompositePayloadConverter, EncodingPayloadConverter, PayloadCodec
from temporalio.exceptions import ApplicationError

from activities.keys import (
    Keyring,
    PayloadKeyError,
    UnknownKeyError,
    key_from_file,
    new_key_text,
    parse_key,
    seal,
    unseal,
)

__all__ = [
    "ENCODING",
    "KEY_ID",
    "EncryptionCodec",
    "KesuPayloadConverter",
    "PayloadKeyError",
    "PlaintextPayloadError",
    "key_from_file",
    "new_key_text",
    "parse_key",
]

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
REFUSED_ENCODING = "binary/kesu-unencrypted"
REFUSAL = (
    "refused an unencrypted payload: kesu encrypts case data, so send it with a client that "
    "holds the installation's payload key (or through the codec endpoint: temporal "
    "--codec-endpoint ...); KESU_ALLOW_PLAINTEXT_PAYLOADS=1 accepts such payloads while migrating"
)


class PlaintextPayloadError(ValueError):
    """An unencrypted payload reached a process that holds keys."""


class _RefusedPayloadConverter(EncodingPayloadConverter):
    @property
    def encoding(self) -> str:
        return REFUSED_ENCODING

    def to_payload(self, value: Any) -> Payload | None:
        return None  # never chosen for encoding

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        raise ApplicationError(REFUSAL, type="UnencryptedPayload", non_retryable=True)


class KesuPayloadConverter(PydanticPayloadConverter):
    """Pydantic JSON, and a clear refusal of payloads the codec found unencrypted."""

    def __init__(self) -> None:
        super().__init__()
        CompositePayloadConverter.__init__(
            self, *self.converters.values(), _RefusedPayloadConverter()
        )


class EncryptionCodec(PayloadCodec):
    def __init__(self, keys: bytes | Keyring, *, allow_plaintext: bool = False) -> None:
        self.keyring = keys if isinstance(keys, Keyring) else Keyring([keys])
        self.allow_plaintext = allow_plaintext

    @property
    def key_id(self) -> bytes:
        """The id of the key new payloads are sealed with."""
        return self.keyring.primary_id.encode("ascii")

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        key_id = self.keyring.primary_id
        key = self.keyring.key(key_id)
        return [
            Payload(
                metadata={"encoding": ENCODING, KEY_ID: key_id.encode("ascii")},
                data=seal(key, payload.SerializeToString()),
            )
            for payload in payloads
        ]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decode_or_refuse(payload) for payload in payloads]

    def _decode_or_refuse(self, payload: Payload) -> Payload:
        try:
            return self.decode_one(payload)
        except PlaintextPayloadError:
            return Payload(metadata={"encoding": REFUSED_ENCODING.encode()})  # content dropped

    def decode_one(self, payload: Payload) -> Payload:
        """The payload decrypted; raises ``PlaintextPayloadError`` for an unencrypted one."""
        if payload.metadata.get("encoding") != ENCODING:
            if self.allow_plaintext:
                return payload  # written before encryption was switched on
            raise PlaintextPayloadError(REFUSAL)
        wanted = payload.metadata.get(KEY_ID, b"").decode("ascii", "replace")
        try:
            key = self.keyring.key(wanted)
        except UnknownKeyError:
            raise ValueError(
                f"a payload was encrypted with another key ({wanted}) than this process's "
                f"keyring holds ({', '.join(self.keyring.ids)})"
            ) from None
        try:
            return Payload.FromString(unseal(key, payload.data))
        except ValueError:
            raise ValueError("an encrypted payload failed its integrity check") from None
