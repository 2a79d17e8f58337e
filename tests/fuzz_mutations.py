"""Seeded mutations of a definition's text, as a careless or hostile designer would make them.

Structural edits work on the parsed mapping and write it back as YAML; textual edits then break
what a parser sees (junk and full-width characters, nesting, aliases, long values). Edits that
keep a definition valid (new events, deadlines, pauses, durations) make sure enough mutants are
accepted for the engine to be tried on them.
"""

from __future__ import annotations

import copy
import random
import re
from collections.abc import Callable
from typing import Any

import yaml

from process.yamlsource import parse_yaml

Data = dict[str, Any]

_JUNK = ["\x00", "\x1b", "\x7f", "\x85", "：", "\u3000", "\t", "\ufeff", "\u200b", "{", "}",
         "[", "]", ":", "- ", "&a ", "*a", "#", "'", '"', "\\", "!!", "!!python/object ", "%",
         "|", ">", "\n", "\r", "、", "，", "？"]  # fmt: skip
_VALUES: list[Any] = [None, True, False, 0, -1, 1.5, 10**40, "", "x", "客诉", [], {}, ["a"],
                      {"a": 1}, [[1]], "1e999", ".inf", "999999999999999999999d"]  # fmt: skip
_UNITS = ["s", "m", "h", "d", "w", "wd", "x", "", "%"]
_OPS = ["==", "!=", "<", ">=", "and", "or", "not", "in", "+", "-", "*", "/", "%", "(", ")",
        "[", "]", ",", "'a'", "3", "0", "null", "true", "&&", "=", "（", "5万", "1e5",
        "x.y", "now", "today", "actor", "roles", "15d", "24h", "event.data.x", "len(", "**",
        "startswith(", "99999999999999999999s", "3653d"]  # fmt: skip


def _paths(node: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = []
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node if isinstance(node, list) else [])
    )
    for key, value in items:
        found.append((*here, key))
        found.extend(_paths(value, (*here, key)))
    return found


def _parent(data: Data, path: tuple[Any, ...]) -> Any:
    node: Any = data
    for part in path[:-1]:
        node = node[part]
    return node


def random_duration(rng: random.Random) -> str:
    if rng.random() < 0.6:
        return f"{rng.choice([1, 2, 15, 30, 48, 90, 3650])}{rng.choice(['m', 'h', 'd'])}"
    number = rng.choice(["0", "1.5", "9" * rng.randint(6, 400), "1000000000", "3000000", "2e5"])
    return f"{number}{rng.choice(_UNITS)}"


def random_guard(rng: random.Random, fields: list[str]) -> str:
    names = fields or ["x"]
    if rng.random() < 0.4:
        operator = rng.choice(["==", ">", "<=", "!=", "in"])
        literal = rng.choice(["3", "'a'", "[1, 2]"])
        return f"{rng.choice(names)} {operator} {literal}"
    if rng.random() < 0.2:
        return " * ".join(rng.choice(names) for _ in range(rng.choice([5, 17, 30])))
    if rng.random() < 0.3:  # the step's context, time arithmetic and the fixed functions
        name = rng.choice(names)
        return rng.choice([
            f"{name} + 15d > now", f"now - {name} > 1h", f"today - {name} < 3653d",
            f"startswith({name}, 'a')", f"len({name}) > 3", f"actor != {name}",
            f"event.data.{name} == 3", f"contains(roles, {name})", f"upper({name}) == 'A'",
        ])  # fmt: skip
    return " ".join(rng.choice([*_OPS, *names]) for _ in range(rng.randint(1, 12)))


# -- structural edits ------------------------------------------------------------------------


def _delete(rng: random.Random, data: Data) -> None:
    path = rng.choice(_paths(data))
    del _parent(data, path)[path[-1]]


def _retype(rng: random.Random, data: Data) -> None:
    path = rng.choice(_paths(data))
    _parent(data, path)[path[-1]] = rng.choice(_VALUES)


def _rename(rng: random.Random, data: Data) -> None:
    maps = [p for p in _paths(data) if isinstance(_parent(data, p), dict)]
    path = rng.choice(maps)
    parent, key = _parent(data, path), path[-1]
    new = rng.choice([f"{key}_x", str(key)[:-1], "on_entry", "when ", "Stages", "要求"])
    parent[new] = parent.pop(key)


def _guard(rng: random.Random, data: Data) -> None:
    stage = rng.choice(list(data.get("stages") or {"x": {}}))
    events = (data.get("stages") or {}).get(stage, {}).get("on") or {}
    if events:
        event = rng.choice(list(events))
        if isinstance(events[event], dict):
            events[event]["when"] = random_guard(rng, list(data.get("fields") or {}))


def _duration(rng: random.Random, data: Data) -> None:
    for deadline in (data.get("deadlines") or {}).values():
        if rng.random() < 0.5 and isinstance(deadline, dict):
            deadline["within"] = random_duration(rng)
            deadline["warn"] = [rng.choice(["50%", "99.9%", random_duration(rng)])]
            deadline["escalate"] = [{"after": random_duration(rng), "actions": [{"set": {}}]}]
    for stage in (data.get("stages") or {}).values():
        if rng.random() < 0.3 and isinstance(stage, dict) and stage.get("timeout"):
            stage["timeout"]["after"] = random_duration(rng)


def _new_event(rng: random.Random, data: Data) -> None:
    """A valid edit: another event between two open stages, maybe with a guard."""
    stages = data.get("stages") or {}
    open_stages = [name for name, stage in stages.items() if not stage.get("final")]
    if not open_stages:
        return
    source = stages[rng.choice(open_stages)]
    # Every event names who may send it (a definition must): one of its roles, or anyone.
    transition: Data = {"to": rng.choice(list(stages)), "roles": ["any"]}
    if data.get("roles") and rng.random() < 0.5:
        transition["roles"] = [rng.choice(data["roles"])]
    if rng.random() < 0.3:
        transition["when"] = random_guard(rng, list(data.get("fields") or {}))
    source.setdefault("on", {})[f"e{rng.randint(0, 99)}"] = transition


def _new_deadline(rng: random.Random, data: Data) -> None:
    """A valid edit: a calendar-time deadline tied to random stages, maybe restarted."""
    stages = list(data.get("stages") or {})
    if not stages:
        return

    def trigger() -> Data:
        return {rng.choice(["enter", "leave"]): rng.choice(stages)}

    deadline: Data = {"start": trigger(), "stop": [trigger(), trigger()], "within": "2h"}
    deadline["within"] = rng.choice(["30m", "1d", "3650d", "1d 12h", random_duration(rng)])
    for part in ("pause", "resume", "restart"):
        if rng.random() < 0.3:
            deadline[part] = trigger()
    if rng.random() < 0.5:
        deadline["warn"] = [rng.choice(["75%", "1h", "3649d"])]
        deadline["escalate"] = [{"after": rng.choice(["1h", "3650d"]), "actions": [{"set": {}}]}]
    data.setdefault("deadlines", {})[f"d{rng.randint(0, 99)}"] = deadline


_STRUCTURAL: list[Callable[[random.Random, Data], None]] = [
    _delete, _retype, _rename, _guard, _duration, _new_event, _new_deadline,
]  # fmt: skip
_VALID: list[Callable[[random.Random, Data], None]] = [_new_event, _new_deadline, _duration]

# -- textual edits -----------------------------------------------------------------------------

_VALUE_LINE = re.compile(r"^(\s*[\w-]+: )(\S.*)$", re.M)


def _junk(rng: random.Random, text: str) -> str:
    at = rng.randrange(len(text) + 1)
    return text[:at] + rng.choice(_JUNK) + text[at:]


def _line_edit(rng: random.Random, text: str) -> str:
    lines = text.split("\n")
    at = rng.randrange(len(lines))
    line = lines[at]
    choice = rng.randrange(5)
    if choice == 0:
        lines.insert(at, line)  # a duplicated key
    elif choice == 1:
        del lines[at]
    elif choice == 2:
        lines[at] = "  " + line
    elif choice == 3:
        lines[at] = re.sub(r"^ +", lambda m: "\u3000" * (len(m.group()) // 2), line)
    else:
        lines[at] = line.replace(": ", "：", 1)
    return "\n".join(lines)


def _replace_value(rng: random.Random, text: str, value: str) -> str:
    matches = list(_VALUE_LINE.finditer(text))
    if not matches:
        return text
    match = rng.choice(matches)
    return text[: match.start(2)] + value + text[match.end(2) :]


def _nest(rng: random.Random, text: str) -> str:
    depth = rng.choice([10, 45, 100, 1000, 5000, 20000])
    if rng.random() < 0.5:
        return _replace_value(rng, text, "[" * depth + "x" + "]" * depth)
    return _replace_value(rng, text, "{a: " * depth + "x" + "}" * depth)


def _bomb(rng: random.Random, text: str) -> str:
    levels = rng.randint(2, 9)
    lines = ["anchors:", "  a0: &a0 [" + ", ".join(["lol"] * 9) + "]"]
    for level in range(1, levels + 1):
        lines.append(f"  a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    return text + "\n" + "\n".join(lines) + "\n"


def _long(rng: random.Random, text: str) -> str:
    size = rng.choice([1000, 20_000, 2_000_000, 10_000_000])
    return _replace_value(rng, text, "长" * size)


def _huge_duration(rng: random.Random, text: str) -> str:
    value = rng.choice(["9" * rng.randint(20, 5000) + "d", "1000000000w", "3000000d",
                        "1000000000000s", "2000000d", "10000000wd"])  # fmt: skip
    return re.sub(r"(within|after): \S+", rf"\1: {value}", text, count=rng.randint(1, 3))


_TEXTUAL: list[Callable[[random.Random, str], str]] = [
    _junk, _line_edit, _line_edit, _nest, _bomb, _long, _huge_duration,
]  # fmt: skip


_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_PARSED: dict[str, Data] = {}


def _dump(data: Data) -> str:
    return yaml.dump(data, Dumper=_DUMPER, allow_unicode=True, sort_keys=False, width=100)


def _parsed(text: str) -> Data:
    """A fresh copy of the parsed base (parsing each base once keeps the fuzz fast)."""
    if text not in _PARSED:
        _PARSED[text] = parse_yaml(text).data
    return copy.deepcopy(_PARSED[text])


def mutate(rng: random.Random, text: str, valid_leaning: bool = False) -> tuple[str, list[str]]:
    """A mutant of ``text`` and the names of the edits made."""
    data = _parsed(text)
    names: list[str] = []
    structural = _VALID if valid_leaning else _STRUCTURAL
    for _ in range(rng.randint(1, 3)):
        edit = rng.choice(structural)
        try:
            edit(rng, data)
        except (KeyError, IndexError, TypeError, AttributeError, ValueError):
            continue  # the edit did not fit what an earlier one left; try the next
        names.append(edit.__name__.strip("_"))
    text = _dump(data)
    if not valid_leaning:
        for _ in range(rng.choice([0, 0, 1, 1, 2])):
            edit_text = rng.choice(_TEXTUAL)
            text = edit_text(rng, text)
            names.append(edit_text.__name__.strip("_"))
    return text, names
