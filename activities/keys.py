"""Keyrings: the master keys that encrypt Temporal payloads and wrap each case's data key.

A keyring holds AES-256 keys, oldest first; each key is known by its id (the first 16 hex
digits of its SHA-256, the id payloads already carried before keyrings existed). New data is
encrypted with the primary key (the newest unless pinned to another, which a cluster needs
while a new key is being handed to every process); every key of the ring still decrypts.

A keyring read from a file (the embedded default ``data/payload.key``, or ``KESU_KEYRING``)
re-reads it when asked for a key it does not know, so that a worker started before
``starter.py keys rotate`` still reads what a newer process wrote.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


class PayloadKeyError(ValueError):
    """A key or keyring that cannot be used; the message says what is wrong with it."""


class UnknownKeyError(ValueError):
    """Data was encrypted with a key this process's keyring does not hold."""


def parse_key(text: str, source: str = "KESU_PAYLOAD_KEY") -> bytes:
    """A base64 text of 32 random bytes (the README shows how to make one)."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise PayloadKeyError(f"{source} is not base64 text") from None
    if len(key) != 32:
        raise PayloadKeyError(f"{source} must decode to 32 bytes, not {len(key)}")
    return key


def new_key_text() -> str:
    return base64.b64encode(os.urandom(32)).decode("ascii")


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]


def parse_keys(text: str, source: str) -> list[bytes]:
    """Keys separated by commas, spaces or lines, oldest first; ``#`` starts a comment."""
    words = [
        word
        for line in text.splitlines()
        for word in line.partition("#")[0].replace(",", " ").split()
    ]
    if not words:
        raise PayloadKeyError(f"{source} holds no key")
    return [parse_key(word, f"{source}: key {index}") for index, word in enumerate(words, 1)]


def create_key_file(path: Path) -> None:
    """A keyring file with one new key, readable by its owner only (no-op if it exists)."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(new_key_text() + "\n")


def key_from_file(path: Path) -> bytes:
    """The newest key of the keyring file at ``path``, created on first use."""
    return Keyring.from_file(path).primary


def append_key(path: Path) -> str:
    """Add a new key to the keyring file at ``path`` (it becomes the newest); its id."""
    text = new_key_text()
    with path.open("a", encoding="ascii") as handle:
        handle.write(text + "\n")
    return key_id(base64.b64decode(text))


class Keyring:
    """Master keys by id; thread-safe (activities run in threads)."""

    def __init__(
        self,
        keys: Sequence[bytes],
        primary_id: str | None = None,
        reload: Callable[[], list[bytes]] | None = None,
        path: Path | None = None,
    ) -> None:
        if not keys:
            raise PayloadKeyError("a keyring needs at least one key")
        self._lock = threading.Lock()
        self._pinned = primary_id
        self._reload = reload
        self.path = path
        """The file the keyring was read from (``keys rotate`` appends to it), or None."""
        self._set(list(keys))
        if primary_id is not None and primary_id not in self._keys:
            known = ", ".join(self._keys)
            raise PayloadKeyError(f"primary key id {primary_id} is not in the keyring ({known})")

    @classmethod
    def from_file(cls, path: Path, primary_id: str | None = None) -> Keyring:
        create_key_file(path)

        def read() -> list[bytes]:
            return parse_keys(path.read_text(encoding="ascii"), str(path))

        return cls(read(), primary_id, reload=read, path=path)

    def _set(self, keys: list[bytes]) -> None:
        self._keys = {key_id(key): key for key in keys}
        self._primary_id = self._pinned or key_id(keys[-1])

    @property
    def primary_id(self) -> str:
        return self._primary_id

    @property
    def primary(self) -> bytes:
        return self._keys[self._primary_id]

    @property
    def ids(self) -> list[str]:
        """Every key id, oldest first."""
        return list(self._keys)

    def key(self, wanted: str) -> bytes:
        """The key with id ``wanted``; a file keyring is read again before giving up."""
        found = self._keys.get(wanted)
        if found is None and self._reload is not None:
            with self._lock:
                self._set(self._reload())
            found = self._keys.get(wanted)
        if found is None:
            raise UnknownKeyError(
                f"data was encrypted with key {wanted}, which this process's keyring "
                f"({', '.join(self._keys)}) does not hold"
            )
        return found


def seal(key: bytes, plain: bytes, context: bytes = b"") -> bytes:
    """AES-256-GCM with a fresh nonce; ``context`` is authenticated, not stored."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plain, context or None)


def unseal(key: bytes, sealed: bytes, context: bytes = b"") -> bytes:
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], context or None)
    except InvalidTag:
        raise ValueError("encrypted data failed its integrity check") from None
