"""How long a case's customer data is kept: ``retention: {keep: 3y, after: closed}``.

PIPL asks for deletion once the purpose is served; a definition states when that is. Once a
case is past it, ``starter.py retention due`` lists it, and its data may be destroyed after a
request and an approval by two different people in ``roles``. Pure: no clock is read here.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_KEEP = re.compile(r"^\s*(\d+)\s*(y|w|d)\s*$")


class Retention(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    keep: str
    """A number and a unit: ``y`` (calendar years), ``w`` or ``d``, e.g. ``3y``, ``180d``."""
    after: Literal["closed"] = "closed"
    """The moment the period starts from: the case's closing."""
    roles: list[str] = Field(default_factory=lambda: ["data_officer"])
    """Who may request and approve destruction (two different people)."""

    @field_validator("keep")
    @classmethod
    def _known_unit(cls, value: str) -> str:
        if not _KEEP.match(value):
            raise ValueError(f"bad retention {value!r}: write a number and y, w or d, e.g. 3y")
        return value

    def due(self, closed_at: datetime) -> datetime:
        """When a case closed at ``closed_at`` is past its retention."""
        match = _KEEP.match(self.keep)
        assert match is not None  # checked at load
        number, unit = int(match[1]), match[2]
        if unit == "y":
            year = closed_at.year + number
            try:
                return closed_at.replace(year=year)
            except ValueError:  # 29 February into a common year
                return closed_at.replace(year=year, day=28)
        return closed_at + timedelta(days=number * (7 if unit == "w" else 1))
