"""Who is calling: bearer tokens mapped to an actor and the roles it acts in.

The token file holds SHA-256 digests, never tokens, so it can be read by operators and kept
in configuration management. ``python api_server.py hash-token`` prints the digest of a new
token. The file is read by the entry point; this module only parses what it is given.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

_HEX_DIGEST = r"^[0-9a-f]{64}$"

READ_ONLY_ROLES = frozenset({"viewer"})
"""Roles that read cases and never change one, whatever a definition lets ``any`` role do."""


class TokenConfigError(Exception):
    """The token file is wrong; the message says where (never repeating a digest)."""


@dataclass(frozen=True)
class Principal:
    actor: str
    roles: tuple[str, ...]

    @property
    def acting_roles(self) -> list[str]:
        """The roles this caller may change cases in: its read-only roles left out."""
        return [role for role in self.roles if role not in READ_ONLY_ROLES]


class _TokenEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    actor: str = Field(min_length=1, max_length=100)
    roles: list[str] = Field(default_factory=list)
    sha256: str = Field(pattern=_HEX_DIGEST)
    """Hex SHA-256 of the token (lower case)."""


class _TokenFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tokens: list[_TokenEntry]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenTable:
    """Looks a presented token up by its digest."""

    def __init__(self, principals: Mapping[str, Principal]) -> None:
        self._by_digest = dict(principals)

    @classmethod
    def from_config(cls, data: Any, source: str = "token file") -> TokenTable:
        try:
            parsed = _TokenFile.model_validate(data)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(map(str, item['loc']))}: {item['msg']}" for item in error.errors()
            )
            raise TokenConfigError(f"{source}: {problems}") from None
        table: dict[str, Principal] = {}
        for index, entry in enumerate(parsed.tokens):
            if entry.sha256 in table:
                raise TokenConfigError(f"{source}: tokens.{index}: the same token twice")
            table[entry.sha256] = Principal(entry.actor, tuple(entry.roles))
        return cls(table)

    @classmethod
    def of_tokens(cls, tokens: Mapping[str, Principal]) -> TokenTable:
        """From plain tokens (tests, embedding)."""
        return cls({hash_token(token): who for token, who in tokens.items()})

    def principal(self, token: str) -> Principal | None:
        # Looked up by digest: how long a lookup takes says nothing about the token itself.
        return self._by_digest.get(hash_token(token))

    def __len__(self) -> int:
        return len(self._by_digest)
