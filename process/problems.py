"""``Problems``: a file (or several) that cannot be used, with every problem found at once;
``Problem``: one of them, located by line and path."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


class Problems(Exception):
    """Every problem found, each a line naming its place; the heading counts them.

    Subclasses name what was read (``subject``), so the heading says where to look.
    """

    subject = "the input"

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        heading = f"{count} problem{'s' if count != 1 else ''} in {self.subject}"
        super().__init__("\n".join([heading, *self.problems]))


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


def format_path(path: Sequence[str | int]) -> str:
    return ".".join(str(part) for part in path)


def unknown_name(kind: str, name: str, known: Iterable[str]) -> str:
    """``unknown stage 'escalte'; did you mean 'escalation'?``"""
    message = f"unknown {kind} {name!r}"
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"{message}; did you mean {close[0]!r}?" if close else message


def unknown_role(name: str, roles: Sequence[str]) -> str:
    """Roles are few and named by the business: listing them all is the quickest help."""
    return f"{unknown_name('role', name, roles)} (the roles are {', '.join(roles)})"
