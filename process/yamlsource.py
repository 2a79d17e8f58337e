"""Reading YAML so that every value can be traced back to its line.

PyYAML's ``safe_load`` loses positions, keeps the last of two duplicate keys without a word and,
being YAML 1.1, reads the key ``on`` as the boolean True. Process definitions need the opposite
on all three counts, so this module composes the node tree itself (with the safe loader's
constructors), reports duplicate keys, and only treats true/false as booleans.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml


class _DefinitionLoader(yaml.SafeLoader):
    """The safe loader with YAML 1.2 booleans: ``on``, ``off``, ``yes``, ``no`` stay text."""


_DefinitionLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_DefinitionLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


@dataclass(frozen=True)
class Problem:
    """Something wrong with a definition, where it is, and what is wrong."""

    line: int
    path: str
    message: str

    def render(self, source: str) -> str:
        where = f"{source}:{self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class YamlSyntaxError(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


@dataclass(frozen=True)
class Document:
    """Parsed YAML: the plain data and the node tree that knows where each value was written."""

    data: Any
    root: yaml.Node

    def line_of(self, path: Sequence[str | int]) -> int:
        """1-based line of the deepest entry along ``path`` that exists (a key's own line)."""
        node, line = self.root, self.root.start_mark.line + 1
        for part in path:
            found = _child(node, part)
            if found is None:
                break
            node, line = found
        return line

    def duplicate_keys(self) -> list[Problem]:
        problems: list[Problem] = []
        _find_duplicates(self.root, (), problems)
        return problems


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node, int] | None:
    """The child at ``part`` and the line where it is written (for a mapping, its key's line)."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                return value, key.start_mark.line + 1
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        item = node.value[part]
        return item, item.start_mark.line + 1
    return None


def _find_duplicates(node: yaml.Node, path: tuple[str, ...], problems: list[Problem]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            name = str(key.value)
            line = key.start_mark.line + 1
            if name in seen:
                problems.append(
                    Problem(
                        line,
                        format_path((*path, name)),
                        f"duplicate key {name!r} (first written on line {seen[name]})",
                    )
                )
            else:
                seen[name] = line
            _find_duplicates(value, (*path, name), problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _find_duplicates(item, (*path, str(index)), problems)


def _syntax_problem(error: yaml.MarkedYAMLError) -> Problem:
    """Point at where the broken construct starts (an unclosed '{'), not where PyYAML noticed."""
    noticed = error.problem_mark.line + 1 if error.problem_mark else None
    if error.context and error.context_mark is not None:
        started = error.context_mark.line + 1
        message = f"not valid YAML: {error.context} that starts here, {error.problem}"
        if noticed is not None and noticed != started:
            message += f" on line {noticed}"
        return Problem(started, "", message)
    return Problem(noticed or 1, "", f"not valid YAML: {error.problem}")


def format_path(path: Sequence[str | int]) -> str:
    return ".".join(str(part) for part in path)


def parse_yaml(text: str) -> Document:
    """Parse one YAML document; a syntax error becomes a Problem with its line."""
    loader = _DefinitionLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise YamlSyntaxError(Problem(1, "", "the file is empty"))
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as error:
        raise YamlSyntaxError(_syntax_problem(error)) from None
    except yaml.YAMLError as error:
        raise YamlSyntaxError(Problem(1, "", f"not valid YAML: {error}")) from None
    finally:
        loader.dispose()
    return Document(data=data, root=root)
