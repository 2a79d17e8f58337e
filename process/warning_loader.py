"""Reading ``definitions/warnings/*.yaml``: every problem at once, each as ``file:line: path``.

A rule must name processes that exist, a field each of them has, that is not customer data
(what a warning counts by goes into a message and a table in the clear), and values that field
can take.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .loader import DefinitionError, read_validated
from .problems import unknown_name
from .spec import FieldType, ProcessDefinition
from .warnings import WARNINGS_FOLDER, WarningFile, WarningRule, WarningRules
from .yamlsource import format_path

Found = list[tuple[tuple[str | int, ...], str]]
_COUNTABLE = (FieldType.STRING, FieldType.ENUM, FieldType.INTEGER, FieldType.BOOLEAN)


def check_rule(name: str, rule: WarningRule, definitions: Mapping[str, ProcessDefinition]) -> Found:
    found: Found = []
    here: tuple[str | int, ...] = ("warnings", name)
    for index, process in enumerate(rule.processes):
        definition = definitions.get(process)
        if definition is None:
            message = unknown_name("process", process, definitions)
            found.append(((*here, "processes", index), message))
            continue
        field = definition.fields.get(rule.count_by)
        if field is None:
            message = (
                f"process {process!r}: {unknown_name('field', rule.count_by, definition.fields)}"
            )
            found.append(((*here, "count_by"), message))
            continue
        if field.pii:
            found.append(((*here, "count_by"), f"{rule.count_by!r} is customer data (pii)"))
        elif field.type not in _COUNTABLE:
            kind = field.type.value
            found.append(((*here, "count_by"), f"a {kind} field cannot be counted by value"))
        elif field.values is not None and rule.values is not None:
            for position, value in enumerate(rule.values):
                if value not in field.values:
                    message = f"process {process!r}: {unknown_name('value', value, field.values)}"
                    found.append(((*here, "values", position), message))
    return found


def load_warning_file(path: Path, definitions: Mapping[str, ProcessDefinition]) -> WarningFile:
    loaded, document = read_validated(path, WarningFile, "warning rules", "warnings:")
    problems = [
        f"{path.name}:{document.line_of(where)}: {format_path(where)}: {message}"
        for name, rule in loaded.warnings.items()
        for where, message in check_rule(name, rule, definitions)
    ]
    if problems:
        raise DefinitionError(problems)
    return loaded


def load_warnings(folder: Path, definitions: Mapping[str, ProcessDefinition]) -> WarningRules:
    """The rules of ``folder/warnings/*.yaml`` (none: no early warning); a rule name used by
    two files is an error, since it keys what was raised."""
    rules: dict[str, WarningRule] = {}
    origin: dict[str, str] = {}
    problems: list[str] = []
    directory = folder / WARNINGS_FOLDER
    for path in sorted(directory.glob("*.yaml")) if directory.is_dir() else []:
        try:
            loaded = load_warning_file(path, definitions)
        except DefinitionError as error:
            problems.extend(error.problems)
            continue
        for name, rule in loaded.warnings.items():
            if name in rules:
                problems.append(f"{path.name}:1: warnings.{name}: also in {origin[name]}")
                continue
            rules[name], origin[name] = rule, path.name
    if problems:
        raise DefinitionError(problems)
    return WarningRules(rules)
