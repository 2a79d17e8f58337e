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

from .compose import NESTED_MESSAGE, compose
from .problems import Problem, YamlSyntaxError, format_path

__all__ = ["Document", "Problem", "YamlSyntaxError", "format_path", "parse_yaml"]


def _yaml12_booleans(loader: type[yaml.SafeLoader] | type[yaml.CSafeLoader]) -> None:
    """YAML 1.2 booleans: ``on``, ``off``, ``yes``, ``no`` stay text."""
    loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    loader.add_implicit_resolver(
        "tag:yaml.org,2002:bool",
        re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
        list("tTfF"),
    )


class _PythonLoader(yaml.SafeLoader):
    pass


_yaml12_booleans(_PythonLoader)
# libyaml reads the events several times faster than the pure-Python scanner; kesu composes
# the nodes itself either way (compose.py), so positions and limits are the same.
_DefinitionLoader: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = _PythonLoader
if getattr(yaml, "__with_libyaml__", False):

    class _CLoader(yaml.CSafeLoader):
        pass

    _yaml12_booleans(_CLoader)
    _DefinitionLoader = _CLoader


@dataclass(frozen=True)
class Document:
    """Parsed YAML: the plain data and the node tree that knows where each value was written."""

    data: Any
    root: yaml.Node
    duplicates: tuple[Problem, ...] = ()
    block_lines: frozenset[int] = frozenset()
    """Lines inside block text (``|`` or ``>``), where any character is content."""

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
        return list(self.duplicates)


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


def parse_yaml(text: str) -> Document:
    """Parse one YAML document within kesu's limits; a syntax error (or a limit passed)
    becomes a Problem with its line."""
    loader = _DefinitionLoader(text)
    try:
        composed = compose(loader)
        data = loader.construct_document(composed.root)
    except yaml.MarkedYAMLError as error:
        if "nesting depth" in str(error.problem):  # libyaml's own limit (1,000 levels)
            line = error.problem_mark.line + 1 if error.problem_mark else 1
            raise YamlSyntaxError(Problem(line, "", NESTED_MESSAGE)) from None
        raise YamlSyntaxError(_syntax_problem(_python_error(text) or error)) from None
    except yaml.YAMLError as error:
        raise YamlSyntaxError(Problem(1, "", f"not valid YAML: {error}")) from None
    except RecursionError:  # a limit in compose() should make this unreachable; kept as a net
        raise YamlSyntaxError(Problem(1, "", NESTED_MESSAGE)) from None
    finally:
        loader.dispose()
    return Document(
        data=data,
        root=composed.root,
        duplicates=tuple(composed.duplicates),
        block_lines=frozenset(composed.block_lines),
    )


def _python_error(text: str) -> yaml.MarkedYAMLError | None:
    """PyYAML's own parser on text libyaml refused: its messages name what it expected."""
    if _DefinitionLoader is _PythonLoader:
        return None
    loader: Any = _PythonLoader(text)  # PyYAML's parser methods are untyped
    try:
        while loader.get_event() is not None:
            pass
    except yaml.MarkedYAMLError as error:
        return error
    finally:
        loader.dispose()
    return None
