"""Who may do what to a case, and what an event may bring.

A definition says, for every event, which roles may send it (``roles: [any]`` opens one to
everybody on purpose) and which fields it may carry (``requires`` plus ``inputs``); it says who
may open a case (``opened_by``). Nothing is open by omission: ``check_access`` refuses a
definition that leaves one of these unsaid, and ``undeclared_inputs`` lets an event change only
the fields it declares, so an ``accept`` cannot rename the customer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .problems import unknown_name, unknown_role
from .spec import ProcessDefinition, Transition

ANY_ROLE = "any"
"""``roles: [any]``: everybody may do this, said on purpose."""

Found = list[tuple[tuple[str | int, ...], str]]


def roles_allow(allowed: Iterable[str], held: Iterable[str]) -> bool:
    """Whether one of ``held`` is allowed. An empty list (a definition compiled before kesu
    required roles) allows everybody, as it did when that case started."""
    allowed = list(allowed)
    return not allowed or ANY_ROLE in allowed or bool(set(allowed) & set(held))


def needs_role(allowed: Iterable[str], actor: str, held: Iterable[str]) -> str:
    """Why a role refusal refuses: the roles that would do (in the order given) and those
    ``actor`` acts in; every "needs role" message ends with this."""
    acts = ", ".join(held) or "no role"
    return f"needs role {' or '.join(allowed)}; {actor!r} acts as {acts}"


def acting_role(allowed: Iterable[str], held: list[str]) -> str | None:
    """The role an actor acts in for an event: the first they hold that it allows."""
    allowed = set(allowed)
    return next((role for role in held if role in allowed), held[0] if held else None)


def accepted_inputs(transition: Transition) -> list[str]:
    """``requires``, then ``requires_when``'s fields, then ``inputs``: each once."""
    conditional = [name for needed in transition.requires_when for name in needed.fields]
    return list(dict.fromkeys([*transition.requires, *conditional, *transition.inputs]))


def undeclared_inputs(transition: Transition, data: Mapping[str, Any]) -> list[str]:
    """The keys of ``data`` the event does not declare, in the order they were sent."""
    accepted = set(accepted_inputs(transition))
    return [name for name in data if name not in accepted]


def opening_problem(definition: ProcessDefinition, roles: Iterable[str], actor: str) -> str | None:
    """Why ``actor`` acting as ``roles`` may not open a case of this process, or None."""
    held = list(roles)
    if roles_allow(definition.opened_by, held):
        return None
    return f"opening a {definition.process} case {needs_role(definition.opened_by, actor, held)}"


def check_access(definition: ProcessDefinition) -> Found:
    """Every event names its roles and its inputs exist; the definition says who opens a case."""
    found: Found = []
    if ANY_ROLE in definition.roles:
        found.append((("roles",), f"{ANY_ROLE!r} means everybody; it cannot be a role's name"))
    if not definition.opened_by:
        found.append(((), f"say who may open a case: opened_by: [agent, ...] or [{ANY_ROLE}]"))
    _check_roles(definition.opened_by, ("opened_by",), found, known=definition.roles)
    for stage_name, stage in definition.stages.items():
        for event, transition in stage.on.items():
            here: tuple[str | int, ...] = ("stages", stage_name, "on", event)
            if not transition.roles:
                found.append(
                    (here, f"event {event!r} names no roles: add roles: [...] or [{ANY_ROLE}]")
                )
            _check_roles(transition.roles, (*here, "roles"), found)  # names: checks.py
            for index, name in enumerate(transition.inputs):
                if name not in definition.fields:
                    message = unknown_name("field", name, definition.fields)
                    found.append(((*here, "inputs", index), message))
    return found


def _check_roles(
    roles: list[str], path: tuple[str | int, ...], found: Found, known: list[str] | None = None
) -> None:
    if ANY_ROLE in roles and len(roles) > 1:
        found.append((path, f"{ANY_ROLE!r} already lets everybody in; list it alone"))
    if known:  # a definition without a roles: list names any role it likes
        for role in roles:
            if role not in known and role != ANY_ROLE:
                found.append((path, unknown_role(role, list(known))))
