"""Published definitions by content hash: what every reader of a case consults.

A case names its definition by content hash; the hash fixes the content, so an entry never
changes once added and any process (a worker, the API) may keep one without invalidation.
Pure: the registry (``activities.storage``) fills it from the database.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from .compiler import CompiledSpec

__all__ = ["SpecCatalog"]


class SpecCatalog:
    """Compiled specs by content hash; the newest version of each process is its current one."""

    def __init__(self, specs: Iterable[CompiledSpec] = ()) -> None:
        self._by_hash: dict[str, CompiledSpec] = {}
        self._lock = threading.Lock()
        self._missing: set[str] = set()
        self.add(specs)

    def add(self, specs: Iterable[CompiledSpec]) -> None:
        with self._lock:
            for spec in specs:
                self._by_hash.setdefault(spec.content_hash, spec)
                self._missing.discard(spec.content_hash)

    def get(self, content_hash: str) -> CompiledSpec | None:
        return self._by_hash.get(content_hash)

    def __contains__(self, content_hash: object) -> bool:
        return content_hash in self._by_hash

    def hashes(self) -> set[str]:
        return set(self._by_hash)

    def note_missing(self, content_hash: str) -> None:
        """Remember a hash someone needed and did not find: the next refresh looks for it."""
        with self._lock:
            self._missing.add(content_hash)

    def missing(self) -> set[str]:
        with self._lock:
            return set(self._missing)

    def versions(self, process: str) -> list[CompiledSpec]:
        """Every known version of ``process``, oldest first."""
        found = [spec for spec in list(self._by_hash.values()) if spec.process == process]
        return sorted(found, key=lambda spec: spec.version)

    def current(self) -> dict[str, CompiledSpec]:
        """The newest version of every process: the one new cases open on."""
        newest: dict[str, CompiledSpec] = {}
        for spec in list(self._by_hash.values()):
            known = newest.get(spec.process)
            if known is None or spec.version > known.version:
                newest[spec.process] = spec
        return dict(sorted(newest.items()))
