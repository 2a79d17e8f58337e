"""Encrypting what kesu sends through Temporal: case fields travel in workflow inputs, update
arguments, query answers and activity inputs, and customer data must not sit readable in the
Temporal server's history.

A payload codec (AES-256-GCM) runs at the edge of every client and worker, outside workflow
code. Search attributes are not payloads: they stay readable, which is why they never hold
customer data. Payloads written before encryption was switched on still decode.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
_NONCE_BYTES = 12


class PayloadKeyError(ValueError):
    """A payload key that cannot be used; the message says what is wrong with it."""


def parse_key(text: str) -> bytes:
    """A base64 text of 32 random bytes (``starter.py`` and the README show how to make one)."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise PayloadKeyError("KESU_PAYLOAD_KEY is not base64 text") from None
    if len(key) != 32:
        raise PayloadKeyError(f"KESU_PAYLOAD_KEY must decode to 32 bytes, not {len(key)}")
    return key


def new_key_text() -> str:
    return base64.b64encode(os.urandom(32)).decode("ascii")


def key_from_file(path: Path) -> bytes:
    """The embedded installation's key, created on first use, readable by its owner only."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR
        )
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(new_key_text() + "\n")
    return parse_key(path.read_text(encoding="ascii"))


class EncryptionCodec(PayloadCodec):
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)
        self.key_id = hashlib.sha256(key).hexdigest()[:16].encode("ascii")

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [
            Payload(
                metadata={"encoding": ENCODING, KEY_ID: self.key_id},
                data=self._seal(payload.SerializeToString()),
            )
            for payload in payloads
        ]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        decoded = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                decoded.append(payload)  # written before encryption was switched on
                continue
            if payload.metadata.get(KEY_ID) != self.key_id:
                raise ValueError("a payload was encrypted with another key than this process's")
            decoded.append(Payload.FromString(self._open(payload.data)))
        return decoded

    def _seal(self, plain: bytes) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plain, None)

    def _open(self, sealed: bytes) -> bytes:
        try:
            return self._aead.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], None)
        except InvalidTag:
            raise ValueError("an encrypted payload failed its integrity check") from None
