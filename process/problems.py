"""``Problems``: a file (or several) that cannot be used, with every problem found at once."""

from __future__ import annotations

from collections.abc import Sequence


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
