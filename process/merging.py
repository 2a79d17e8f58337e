"""Duplicates and group complaints, as a definition declares them: ``merging:``.

A designer says which fields identify the customer and which one the category, how far back
an open case counts as a possible duplicate, the final stage a merged duplicate moves to and
who may merge and group. Pure: the section's model and checks are here, the rules of merging
(what may be merged into what) in ``links``; storage keeps the links, workflows the steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .durations import parse_duration

DEFAULT_WINDOW = "30d"


class Merging(BaseModel):
    """How a process finds duplicates and merges them, and who may merge and group cases."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    customer: list[str] = Field(min_length=1)
    """Fields that together identify the customer, e.g. ``[customer_id]``. Customer data
    (``pii``) is compared by a keyed hash, never stored or searched in clear."""
    category: str | None = None
    """The field whose value must match too (``category``); none: any category."""
    window: str = DEFAULT_WINDOW
    """How far back an open case of the same customer and category is reported: ``30d``."""
    stage: str
    """The final stage a merged duplicate moves to; kesu runs none of its ``on_enter``
    actions, so a merged duplicate sends the customer nothing."""
    roles: list[str] = Field(min_length=1)
    """Roles that may merge cases and link them to groups."""

    @field_validator("window")
    @classmethod
    def _window_parses(cls, value: str) -> str:
        parse_duration(value)
        return value

    @property
    def window_span(self) -> timedelta:
        return parse_duration(self.window)


Path = tuple[str | int, ...]
Found = list[tuple[Path, str]]


def check_merging(
    merging: Merging | None,
    fields: Mapping[str, object],
    stages: Mapping[str, object],
    final: set[str],
    roles: list[str],
    on_enter: Mapping[str, int],
) -> Found:
    """Every name in ``merging:`` exists; its stage is final and does nothing on entering."""
    if merging is None:
        return []
    here: Path = ("merging",)
    found: Found = []
    for index, name in enumerate(merging.customer):
        if name not in fields:
            found.append(((*here, "customer", index), f"unknown field {name!r}"))
    if merging.category is not None and merging.category not in fields:
        found.append(((*here, "category"), f"unknown field {merging.category!r}"))
    if merging.stage not in stages:
        found.append(((*here, "stage"), f"unknown stage {merging.stage!r}"))
    elif merging.stage not in final:
        found.append(((*here, "stage"), f"stage {merging.stage!r} must be final: true"))
    elif on_enter.get(merging.stage):
        found.append(
            (
                (*here, "stage"),
                f"stage {merging.stage!r}: a merge enters it without its on_enter actions "
                "(the customer hears from the primary case): leave them out",
            )
        )
    for index, role in enumerate(merging.roles):
        if role not in roles:
            found.append(((*here, "roles", index), f"unknown role {role!r} (not in roles:)"))
    return found
