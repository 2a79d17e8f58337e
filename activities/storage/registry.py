"""The registry of published definitions: every version a case can run on, by content hash.

Publishing stores a compiled definition with its YAML source, who published it and when, and
the content hashes of the calendars and templates it uses. One version number of a process
holds one content for good: changed content under a published number is refused, so "v1"
means the same thing on every screen, in every report and in every worker. Cases name their
definition by hash (``kesu_case.content_hash``); ``case_definition`` is the one way to find
the definition a stored case runs on. Template texts are stored by content hash too
(``kesu_template``), so that a worker renders the messages of a version it has no files for.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, Text, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from process.compiler import CompiledSpec

from .database import Base, JSONType, UTCDateTime
from .steps import CaseRow

__all__ = [
    "DefinitionRow",
    "OpenCase",
    "Publication",
    "PublishRefused",
    "Published",
    "TemplateRow",
    "VersionInfo",
    "case_definition",
    "load_specs",
    "open_cases_by_stage",
    "open_cases_on",
    "publish",
    "published_hashes",
    "stored_case_ids",
    "version_spec",
    "version_templates",
    "versions",
]


class DefinitionRow(Base):
    """One published definition version: immutable once written."""

    __tablename__ = "kesu_definition"
    __table_args__ = (UniqueConstraint("process", "version"),)

    content_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    process: Mapped[str] = mapped_column(String(100))
    version: Mapped[int]
    source_name: Mapped[str] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(Text)
    """The YAML as the designer wrote it."""
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType)
    """The compiled definition (what workers run), with the calendars it counts in."""
    calendars: Mapped[dict[str, str]] = mapped_column(JSONType)
    """Calendar name -> sha256 of its content at publication."""
    templates: Mapped[dict[str, str]] = mapped_column(JSONType)
    """Template file -> sha256 of its text at publication."""
    published_by: Mapped[str] = mapped_column(String(200))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TemplateRow(Base):
    """One template text, by the sha256 of its UTF-8 bytes: immutable, shared by versions."""

    __tablename__ = "kesu_template"

    content_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    """The file name it was published from (``acknowledged.zh-CN.j2``)."""
    text: Mapped[str] = mapped_column(Text)


@dataclass(frozen=True)
class Publication:
    """A definition to publish, with where it was written."""

    spec: CompiledSpec
    source_name: str
    source: str
    version_line: int = 1
    """The line of ``version:`` in the source, for the refusal of a reused number."""
    calendars: dict[str, str] = field(default_factory=dict)
    templates: dict[str, str] = field(default_factory=dict)
    """Template file -> sha256 of its text."""
    template_texts: dict[str, str] = field(default_factory=dict)
    """sha256 -> the template's text, stored so that workers need no files."""


@dataclass(frozen=True)
class Published:
    spec: CompiledSpec
    created: bool
    """False when this content was already published: nothing was written."""


class PublishRefused(Exception):
    """Definitions that cannot be published; every problem, each with file:line."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def _difference(stored: DefinitionRow, spec: CompiledSpec) -> str:
    if stored.spec.get("definition") != spec.definition.model_dump(mode="json"):
        return "the definition differs"
    before: dict[str, Any] = stored.spec.get("calendars", {})
    after = {name: calendar.model_dump(mode="json") for name, calendar in spec.calendars.items()}
    changed = sorted(name for name in {*before, *after} if before.get(name) != after.get(name))
    if not changed:
        return "its content differs"
    return "calendar " + ", ".join(repr(name) for name in changed) + " differs"


def publish(
    session: Session, publications: Sequence[Publication], by: str, at: datetime | None = None
) -> list[Published]:
    """Publish each definition not yet published, in the caller's transaction.

    Raises ``PublishRefused`` (and writes nothing) when a version number is already taken by
    other content; already published content is left as it is.
    """
    at = at or datetime.now(UTC)
    results: list[Published] = []
    problems: list[str] = []
    rows: list[DefinitionRow] = []
    texts: dict[str, str] = {}
    for item in publications:
        spec = item.spec
        texts.update(item.template_texts)
        if session.get(DefinitionRow, spec.content_hash) is not None:
            results.append(Published(spec, created=False))
            continue
        taken = session.scalars(
            select(DefinitionRow).where(
                DefinitionRow.process == spec.process, DefinitionRow.version == spec.version
            )
        ).one_or_none()
        if taken is not None:
            problems.append(
                f"{item.source_name}:{item.version_line}: version {spec.version} of "
                f"{spec.process} is already published with other content "
                f"({_difference(taken, spec)}; published by {taken.published_by} at "
                f"{taken.published_at:%Y-%m-%d %H:%M} UTC); bump version:"
            )
            continue
        rows.append(
            DefinitionRow(
                content_hash=spec.content_hash,
                process=spec.process,
                version=spec.version,
                source_name=item.source_name,
                source=item.source,
                spec=spec.model_dump(mode="json"),
                calendars=dict(item.calendars),
                templates=dict(item.templates),
                published_by=by,
                published_at=at,
            )
        )
        results.append(Published(spec, created=True))
    if problems:
        raise PublishRefused(problems)
    session.add_all(rows)
    _store_templates(session, publications, texts)
    session.flush()
    return results


def _store_templates(
    session: Session, publications: Sequence[Publication], texts: Mapping[str, str]
) -> None:
    """Store the template texts not stored yet; also those of versions published before the
    registry kept texts, whose files are unchanged (their hashes match)."""
    names = {digest: name for item in publications for name, digest in item.templates.items()}
    stored = set(session.scalars(select(TemplateRow.content_hash).where(
        TemplateRow.content_hash.in_(sorted(texts))
    )))  # fmt: skip
    session.add_all(
        TemplateRow(content_hash=digest, name=names.get(digest, ""), text=text)
        for digest, text in sorted(texts.items())
        if digest not in stored
    )


def version_templates(
    session: Session, content_hash: str
) -> tuple[CompiledSpec, dict[str, str]] | None:
    """A published version and the texts of its templates by file name (None: unpublished).

    A template whose text the registry lacks (published before it kept texts, and its file
    changed since) is missing from the texts: callers fall back to their files for it.
    """
    row = session.get(DefinitionRow, content_hash)
    if row is None:
        return None
    wanted = dict(row.templates)
    query = select(TemplateRow.content_hash, TemplateRow.text).where(
        TemplateRow.content_hash.in_(sorted(set(wanted.values())))
    )
    found = {digest: text for digest, text in session.execute(query)}
    texts = {name: found[digest] for name, digest in wanted.items() if digest in found}
    return CompiledSpec.model_validate(row.spec), texts


def published_hashes(session: Session) -> set[str]:
    return set(session.scalars(select(DefinitionRow.content_hash)))


def load_specs(session: Session, hashes: Collection[str] | None = None) -> list[CompiledSpec]:
    """The published specs with ``hashes`` (all of them with None)."""
    query = select(DefinitionRow.spec)
    if hashes is not None:
        if not hashes:
            return []
        query = query.where(DefinitionRow.content_hash.in_(sorted(hashes)))
    return [CompiledSpec.model_validate(row) for row in session.scalars(query)]


def case_definition(session: Session, case_id: str) -> CompiledSpec | None:
    """The published definition a stored case runs on (None: no such case, or unpublished).

    Whoever needs a case's own rules (which fields are PII, its stages) asks here, never the
    current file: the case may be on an older version.
    """
    spec = session.scalars(
        select(DefinitionRow.spec)
        .join(CaseRow, CaseRow.content_hash == DefinitionRow.content_hash)
        .where(CaseRow.case_id == case_id)
    ).one_or_none()
    return None if spec is None else CompiledSpec.model_validate(spec)


@dataclass(frozen=True)
class VersionInfo:
    process: str
    version: int
    content_hash: str
    source_name: str
    published_by: str
    published_at: datetime
    open_cases: int
    calendars: dict[str, str]
    templates: dict[str, str]


def versions(session: Session, process: str) -> list[VersionInfo]:
    """Every published version of ``process``, oldest first, with its open cases counted."""
    open_counts = dict(
        session.execute(
            select(CaseRow.content_hash, func.count())
            .where(CaseRow.process == process, CaseRow.closed_at.is_(None))
            .group_by(CaseRow.content_hash)
        ).all()
    )
    rows = session.scalars(
        select(DefinitionRow)
        .where(DefinitionRow.process == process)
        .order_by(DefinitionRow.version)
    )
    return [
        VersionInfo(
            process=row.process,
            version=row.version,
            content_hash=row.content_hash,
            source_name=row.source_name,
            published_by=row.published_by,
            published_at=row.published_at,
            open_cases=int(open_counts.get(row.content_hash, 0)),
            calendars=row.calendars,
            templates=row.templates,
        )
        for row in rows
    ]


def version_spec(session: Session, process: str, version: int) -> CompiledSpec | None:
    spec = session.scalars(
        select(DefinitionRow.spec).where(
            DefinitionRow.process == process, DefinitionRow.version == version
        )
    ).one_or_none()
    return None if spec is None else CompiledSpec.model_validate(spec)


@dataclass(frozen=True)
class OpenCase:
    case_id: str
    case_number: str
    stage: str
    fields: dict[str, Any]


def open_cases_on(session: Session, content_hash: str) -> list[OpenCase]:
    """The open cases whose stored state is on this definition, in case-number order."""
    rows = session.scalars(
        select(CaseRow)
        .where(CaseRow.content_hash == content_hash, CaseRow.closed_at.is_(None))
        .order_by(CaseRow.case_number)
    )
    return [OpenCase(row.case_id, row.case_number, row.stage, dict(row.fields)) for row in rows]


def stored_case_ids(session: Session, process: str) -> set[str]:
    """Every case of ``process`` the database has, open or closed, on any version."""
    return set(session.scalars(select(CaseRow.case_id).where(CaseRow.process == process)))


def open_cases_by_stage(session: Session, process: str) -> dict[str, int]:
    """Open cases of ``process`` per stage, whatever their version."""
    rows = session.execute(
        select(CaseRow.stage, func.count())
        .where(CaseRow.process == process, CaseRow.closed_at.is_(None))
        .group_by(CaseRow.stage)
    ).all()
    return {stage: int(count) for stage, count in rows}
