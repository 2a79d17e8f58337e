"""YAML events -> nodes, within limits that keep loading a definition fast and safe.

PyYAML's composer recurses once per level of nesting (a RecursionError at a few hundred
levels) and shares aliased nodes, so a few hundred bytes of anchors and aliases (an "alias
bomb") expand into millions of values for whatever walks the tree next. This composer keeps an
explicit stack, counts every value as it will be seen after expansion, and stops at the first
limit passed with the line where it happened. It also finds duplicate keys on the way, so the
tree is walked only once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from .durations import shown
from .problems import Problem, YamlSyntaxError, format_path

MAX_DEPTH = 40
"""Levels of nesting (a definition needs about ten: stages.triage.on.accept.actions.0.set)."""
MAX_VALUES = 100_000
"""Values in the whole file once aliases are expanded (the 100-stage benchmark has ~10,000)."""
MAX_STRING = 10_000
"""Characters in one value or key (a guard is at most 2,000; a title a line or two)."""
MAX_NUMBER_DIGITS = 30

NESTED_MESSAGE = f"values are nested more than {MAX_DEPTH} levels deep; a definition needs ~10"
_STANDARD = "tag:yaml.org,2002:"
_INT = "tag:yaml.org,2002:int"
_CHECKED_TAGS = {
    "tag:yaml.org,2002:int": "whole number",
    "tag:yaml.org,2002:float": "number",
    "tag:yaml.org,2002:bool": "true or false",
    "tag:yaml.org,2002:timestamp": "date or time",
    "tag:yaml.org,2002:null": "null",
}
_SCALAR_TAGS = {"tag:yaml.org,2002:str", *_CHECKED_TAGS}


@dataclass
class Composed:
    root: yaml.Node
    duplicates: list[Problem] = field(default_factory=list)
    block_lines: set[int] = field(default_factory=set)


@dataclass
class _Frame:
    node: yaml.SequenceNode | yaml.MappingNode
    anchor: str | None
    path: tuple[str, ...]
    size: int = 1
    height: int = 1
    key: yaml.Node | None = None
    seen: dict[str, int] = field(default_factory=dict)


def _tag_message(tag: str) -> str:
    written = "!!" + tag.removeprefix(_STANDARD) if tag.startswith(_STANDARD) else tag
    return f"the tag {shown(written)} is not used in definitions: remove it"


def _refuse(mark: Any, message: str) -> YamlSyntaxError:
    return YamlSyntaxError(Problem(mark.line + 1, "", message))


class _Composer:
    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[yaml.Node, int, int]] = {}
        self.total = 0
        self.composed: Composed | None = None
        self.duplicates: list[Problem] = []
        self.block_lines: set[int] = set()

    def scalar(self, event: Any) -> yaml.ScalarNode:
        value = event.value
        if len(value) > MAX_STRING:
            raise _refuse(
                event.start_mark,
                f"a value of {len(value):,} characters; the limit is {MAX_STRING:,}",
            )
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(yaml.ScalarNode, value, event.implicit)
        elif tag not in _SCALAR_TAGS:
            raise _refuse(event.start_mark, _tag_message(tag))
        node = yaml.ScalarNode(tag, value, event.start_mark, event.end_mark, event.style)
        if tag in _CHECKED_TAGS:
            self._check_value(node)
        if event.style in ("|", ">"):
            self.block_lines.update(range(event.start_mark.line + 1, event.end_mark.line + 2))
        return node

    def _check_value(self, node: yaml.ScalarNode) -> None:
        digits = sum(char.isdigit() for char in node.value)
        if node.tag == _INT and digits > MAX_NUMBER_DIGITS:
            message = f"a number of {digits} digits; the limit is {MAX_NUMBER_DIGITS}"
            raise _refuse(node.start_mark, message)
        try:
            self.loader.construct_object(node)
        except (ValueError, TypeError, OverflowError, yaml.YAMLError):
            what = _CHECKED_TAGS[node.tag]
            raise _refuse(node.start_mark, f"{shown(node.value)} is not a valid {what}") from None

    def alias(self, event: Any) -> tuple[yaml.Node, int, int]:
        found = self.anchors.get(str(event.anchor))
        if found is None:
            message = f"alias '*{event.anchor}' has no anchor '&{event.anchor}' before it"
            if any(frame.anchor == event.anchor for frame in self.stack):
                message = f"alias '*{event.anchor}' is inside the value it refers to"
            raise _refuse(event.start_mark, message)
        _, size, height = found
        self.total += size
        if self.total > MAX_VALUES:
            message = (
                f"aliases expand this file past {MAX_VALUES:,} values (an alias bomb?): "
                "write the values out, or alias less"
            )
            raise _refuse(event.start_mark, message)
        if len(self.stack) + height > MAX_DEPTH:
            raise _refuse(event.start_mark, NESTED_MESSAGE)
        return found

    def start(self, event: Any) -> None:
        if len(self.stack) >= MAX_DEPTH:
            raise _refuse(event.start_mark, NESTED_MESSAGE)
        self.total += 1
        tag, mark = event.tag, event.start_mark
        node: yaml.SequenceNode | yaml.MappingNode
        if isinstance(event, yaml.SequenceStartEvent):
            if tag is None or tag == "!":
                tag = self.loader.resolve(yaml.SequenceNode, None, event.implicit)
            node = yaml.SequenceNode(tag, [], mark, None, event.flow_style)
        else:
            if tag is None or tag == "!":
                tag = self.loader.resolve(yaml.MappingNode, None, event.implicit)
            node = yaml.MappingNode(tag, [], mark, None, event.flow_style)
        if tag not in ("tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"):
            raise _refuse(event.start_mark, _tag_message(tag))
        self.stack.append(_Frame(node, event.anchor, self._child_path()))

    def _child_path(self) -> tuple[str, ...]:
        if not self.stack:
            return ()
        parent = self.stack[-1]
        if isinstance(parent.node, yaml.SequenceNode):
            return (*parent.path, str(len(parent.node.value)))
        key = parent.key
        return (*parent.path, str(key.value) if isinstance(key, yaml.ScalarNode) else "?")

    def attach(self, node: yaml.Node, size: int, height: int) -> None:
        if not self.stack:
            self.composed = Composed(node, self.duplicates, self.block_lines)
            return
        frame = self.stack[-1]
        frame.size += size
        frame.height = max(frame.height, height + 1)
        if isinstance(frame.node, yaml.SequenceNode):
            frame.node.value.append(node)
        elif frame.key is None:
            frame.key = node
            if isinstance(node, yaml.ScalarNode):
                self._note_key(frame, node)
        else:
            frame.node.value.append((frame.key, node))
            frame.key = None

    def _note_key(self, frame: _Frame, key: yaml.ScalarNode) -> None:
        name, line = str(key.value), key.start_mark.line + 1
        first = frame.seen.get(name)
        if first is None:
            frame.seen[name] = line
            return
        message = f"duplicate key {name!r} (first written on line {first})"
        self.duplicates.append(Problem(line, format_path((*frame.path, name)), message))

    def run(self) -> Composed:
        loader = self.loader
        loader.get_event()  # stream start
        if loader.check_event(yaml.StreamEndEvent):
            raise YamlSyntaxError(Problem(1, "", "the file is empty"))
        loader.get_event()  # document start
        while not loader.check_event(yaml.DocumentEndEvent):
            event = loader.get_event()
            if isinstance(event, yaml.ScalarEvent):
                node: yaml.Node = self.scalar(event)
                size, height, anchor = 1, 0, event.anchor
                self.total += 1
            elif isinstance(event, yaml.AliasEvent):
                node, size, height = self.alias(event)
                anchor = None
            elif isinstance(event, yaml.CollectionStartEvent):
                self.start(event)
                continue
            else:  # the end of a sequence or mapping
                frame = self.stack.pop()
                node, size, height, anchor = frame.node, frame.size, frame.height, frame.anchor
                node.end_mark = event.end_mark
            if anchor is not None:
                self.anchors[anchor] = (node, size, height)
            self.attach(node, size, height)
        loader.get_event()  # document end
        if not loader.check_event(yaml.StreamEndEvent):
            line = loader.peek_event().start_mark.line + 1
            message = "a definition is one YAML document; another one starts here"
            raise YamlSyntaxError(Problem(line, "", message))
        assert self.composed is not None
        return self.composed


def compose(loader: Any) -> Composed:
    """The one document of ``loader``'s stream as nodes, within kesu's limits."""
    return _Composer(loader).run()
