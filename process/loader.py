"""YAML process definitions -> validated ``ProcessDefinition`` models, or every error at once.

Errors read ``complaint.yaml:42: stages.triage.on.escalate.to: unknown stage 'escalte'``.
This is the only module that reads definition files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from .calendars import CalendarSpec
from .checks import check_definition
from .lints import definition_warnings
from .problems import Problems
from .shapes import describe_shape_error
from .sourcetext import decode, suspicions, text_problems, too_big
from .spec import ProcessDefinition
from .yamlsource import Document, Problem, YamlSyntaxError, format_path, parse_yaml

CALENDARS_FOLDER = "calendars"
M = TypeVar("M", bound=BaseModel)


class DefinitionError(Problems):
    """A definition (or several) that cannot be used, with every problem found."""

    subject = "process definitions"


def _read(path: Path) -> str:
    try:
        size = path.stat().st_size
        if (message := too_big(size)) is not None:
            raise DefinitionError([f"{path.name}:1: {message}"])
        text, problem = decode(path.read_bytes())
    except OSError as error:
        raise DefinitionError([f"{path}: cannot read: {error.strerror}"]) from None
    if problem is not None:
        raise DefinitionError([problem.render(path.name)])
    assert text is not None
    return text


def load_definition(
    path: Path,
    calendars: Mapping[str, CalendarSpec] | None = None,
    warnings: list[str] | None = None,
) -> ProcessDefinition:
    return load_definition_text(_read(path), path.name, calendars, warnings)


def validate_yaml(
    text: str, source: str, model: type[M], what: str, example: str
) -> tuple[M, Document]:
    """Parse and shape-check one YAML file; every problem raised at once as DefinitionError."""
    if found := text_problems(text):
        raise DefinitionError([problem.render(source) for problem in found])
    try:
        document = parse_yaml(text)
    except YamlSyntaxError as error:
        # A full-width colon or indentation is the cause; the YAML error comes lines later.
        causes = [s for s in suspicions(text) if s.line <= error.problem.line]
        raise DefinitionError([p.render(source) for p in causes or [error.problem]]) from None
    problems = document.duplicate_keys()
    if not isinstance(document.data, dict):
        problems.append(Problem(1, "", f"a {what} is a mapping ({example}...)"))
    else:
        try:
            validated = model.model_validate(document.data)
        except ValidationError as error:
            problems.extend(_shape_problems(document, error, model))
            causes = suspicions(text, skip=document.block_lines.__contains__)
            explained = {cause.line for cause in causes}
            problems = causes + [p for p in problems if p.line not in explained]
    if problems:
        # With duplicate keys the model would hold only the last of each: checking it further
        # would report the echoes of the duplicate, not the designer's mistakes.
        problems.sort(key=lambda problem: problem.line)
        raise DefinitionError([problem.render(source) for problem in problems])
    return validated, document


def load_definition_text(
    text: str,
    source: str,
    calendars: Mapping[str, CalendarSpec] | None = None,
    warnings: list[str] | None = None,
) -> ProcessDefinition:
    """The validated definition; ``warnings``, when given, receives likely mistakes that do not
    stop it (``file:line: path: message``)."""
    definition, document = validate_yaml(
        text, source, ProcessDefinition, "process definition", "process:, stages:"
    )
    problems = [
        Problem(document.line_of(path), format_path(path), message)
        for path, message in check_definition(definition, calendars or {})
    ]
    if problems:
        problems.sort(key=lambda problem: problem.line)
        raise DefinitionError([problem.render(source) for problem in problems])
    if warnings is not None:
        warnings.extend(
            Problem(document.line_of(path), format_path(path), message).render(source)
            for path, message in definition_warnings(definition)
        )
    return definition


def load_calendar(path: Path) -> CalendarSpec:
    calendar, _ = validate_yaml(
        _read(path), path.name, CalendarSpec, "calendar", "calendar:, timezone:, hours:"
    )
    if calendar.calendar != path.stem:
        message = f"calendar: {calendar.calendar!r} must match the file name {path.stem!r}"
        raise DefinitionError([f"{path.name}:1: {message}"])
    return calendar


def load_calendars(folder: Path) -> dict[str, CalendarSpec]:
    """``calendars/*.yaml`` by name (none is fine: only business clocks need one)."""
    calendars: dict[str, CalendarSpec] = {}
    problems: list[str] = []
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        try:
            calendars[path.stem] = load_calendar(path)
        except DefinitionError as error:
            problems.extend(error.problems)
    if problems:
        raise DefinitionError(problems)
    return calendars


@dataclass(frozen=True)
class Catalog:
    definitions: dict[str, ProcessDefinition]
    calendars: dict[str, CalendarSpec]
    sources: dict[str, SourceFile] = field(default_factory=dict)
    """Each process's file, as read: what publishing stores beside the compiled definition."""
    warnings: list[str] = field(default_factory=list)
    """Likely mistakes that do not stop a definition (printed by ``starter.py check``)."""


@dataclass(frozen=True)
class SourceFile:
    name: str
    text: str

    @property
    def version_line(self) -> int:
        """The line of the top-level ``version:`` key (1 when there is none)."""
        for number, line in enumerate(self.text.splitlines(), start=1):
            if line.startswith("version:") or line.startswith("version :"):
                return number
        return 1


def load_catalog(folder: Path) -> Catalog:
    """Every definition in ``folder`` and every calendar in ``folder/calendars``, checked
    together; the errors of all files at once."""
    problems: list[str] = []
    try:
        calendars = load_calendars(folder / CALENDARS_FOLDER)
    except DefinitionError as error:
        calendars, problems = {}, list(error.problems)
    definitions: dict[str, ProcessDefinition] = {}
    sources: dict[str, SourceFile] = {}
    warnings: list[str] = []
    origin: dict[str, str] = {}
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise DefinitionError([f"{folder}: no process definitions (*.yaml) found"])
    for path in files:
        try:
            text = _read(path)
            definition = load_definition_text(text, path.name, calendars, warnings)
        except DefinitionError as error:
            problems.extend(error.problems)
            continue
        if definition.process in definitions:
            problems.append(
                f"{path.name}:1: process: {definition.process!r} is also defined in "
                f"{origin[definition.process]}"
            )
            continue
        definitions[definition.process] = definition
        sources[definition.process] = SourceFile(path.name, text)
        origin[definition.process] = path.name
    if problems:
        raise DefinitionError(problems)
    return Catalog(definitions=definitions, calendars=calendars, sources=sources, warnings=warnings)


def load_directory(folder: Path) -> dict[str, ProcessDefinition]:
    """Every ``*.yaml`` in ``folder`` by process name; the errors of all files at once."""
    return load_catalog(folder).definitions


def _shape_problems(
    document: Document, error: ValidationError, model: type[BaseModel]
) -> list[Problem]:
    """Pydantic's errors in the designer's terms, one per place (unions report several)."""
    chosen: dict[tuple[str | int, ...], ErrorDetails] = {}
    for detail in error.errors():
        path = _document_path(document.data, detail["loc"])
        known = chosen.get(path)
        # A union (say, a duration or a mapping) fails once per member; the member that
        # explains itself with a value_error is the one the designer meant.
        if known is None or (detail["type"] == "value_error" and known["type"] != "value_error"):
            chosen[path] = detail
    problems = []
    for path, detail in chosen.items():
        where, message = _describe(path, detail, model)
        problems.append(Problem(document.line_of(where), format_path(where), message))
    return problems


def _document_path(data: Any, loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """Drop the parts of pydantic's location that name validators rather than keys."""
    path: list[str | int] = []
    node = data
    for index, part in enumerate(loc):
        is_last = index == len(loc) - 1
        in_mapping = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if in_mapping or in_list:
            path.append(part)
            node = node[part]
        elif is_last and isinstance(node, dict) and isinstance(part, str):
            path.append(part)  # a required key that is missing
    return tuple(path)


def _describe(
    path: tuple[str | int, ...], detail: ErrorDetails, model: type[BaseModel]
) -> tuple[tuple[str | int, ...], str]:
    if detail["type"] == "missing":
        return path[:-1], f"required key {path[-1]!r} is missing"
    return path, describe_shape_error(model, path, detail)


def read_validated(path: Path, model: type[M], what: str, example: str) -> tuple[M, Document]:
    """Another kesu YAML file (a scenario) read and shape-checked like a definition: every
    problem at once, each with its file and line."""
    return validate_yaml(_read(path), path.name, model, what, example)
