"""Published definition versions, from the service's side: read the registry, publish, list.

``PublishedDefinitions`` fills a ``SpecCatalog`` from the database: the worker's cache (which
case workflows look hashes up in) and the one ``Kesu`` reads cases with. Publishing is
``starter.py publish`` (and every worker start, for files that changed).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from activities.storage import (
    Publication,
    Published,
    VersionInfo,
    load_specs,
    publish,
    published_hashes,
    versions,
)
from process.catalog import SpecCatalog
from process.refusals import RefusalKind

from .refusals import KesuError

log = logging.getLogger("kesu.versions")

REFRESH_SECONDS = 5.0
"""How often a worker looks for newly published versions unprompted."""
MISSING_POLL_SECONDS = 0.2
"""How soon a worker fetches a hash a case asked for and did not find..."""
MISSING_RETRY_SECONDS = 1.0
"""...and how often it asks the database again while the hash stays missing."""


class PublishedDefinitions:
    """The registry's versions, loaded into catalogs on demand (each hash once)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def fill(self, catalog: SpecCatalog) -> int:
        """Load every published version ``catalog`` lacks; returns how many were added."""
        try:
            with self.sessions() as session:
                new = published_hashes(session) - catalog.hashes()
                specs = load_specs(session, new)
        except SQLAlchemyError as error:
            raise KesuError(
                f"cannot read the published definitions ({type(error).__name__}): is the "
                "database up, and has a worker (or `starter.py migrate`) created kesu's tables?",
                RefusalKind.UNAVAILABLE,
            ) from None
        catalog.add(specs)
        return len(specs)

    def publish(self, publications: Sequence[Publication], by: str) -> list[Published]:
        """Publish what is not yet published, all or nothing; raises ``PublishRefused``."""
        with self.sessions.begin() as session:
            return publish(session, publications, by)

    def versions(self, process: str) -> list[VersionInfo]:
        with self.sessions() as session:
            return versions(session, process)


async def keep_fresh(
    registry: PublishedDefinitions, catalog: SpecCatalog, interval: float = REFRESH_SECONDS
) -> None:
    """Run beside a worker: new versions arrive without a restart, missing hashes at once."""
    last, reported = time.monotonic(), set[str]()
    while True:
        await asyncio.sleep(MISSING_POLL_SECONDS)
        since = time.monotonic() - last
        wanted = catalog.missing()
        if since < interval and not (wanted and since >= MISSING_RETRY_SECONDS):
            continue
        last = time.monotonic()
        try:
            added = await asyncio.to_thread(registry.fill, catalog)
        except Exception:  # a database hiccup must not end the worker's refreshes
            log.exception("cannot read published definitions; trying again")
            continue
        if added:
            log.info("%d newly published definition version(s) loaded", added)
        for content_hash in sorted(catalog.missing() - reported):
            reported.add(content_hash)
            log.error(
                "definition %s is not in the registry: its cases wait until it is published",
                content_hash[:12],
            )


def render_published(results: Sequence[Published]) -> str:
    lines = []
    for result in results:
        word = "published" if result.created else "unchanged"
        lines.append(f"{word:<10} {result.spec.label}")
    return "\n".join(lines)


def render_versions(process: str, found: Sequence[VersionInfo]) -> str:
    if not found:
        return f"{process}: no published versions (publish with `starter.py publish`)"
    lines = [f"{process}: {len(found)} published version(s)"]
    for info in found:
        lines.append(
            f"  v{info.version:<4} {info.content_hash[:12]}  {info.open_cases:>5} open  "
            f"{info.published_at:%Y-%m-%d %H:%M} UTC by {info.published_by}  ({info.source_name})"
        )
    return "\n".join(lines)
