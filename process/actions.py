"""Running a definition's actions (set, decide, notify) against a case's state.

Moves (``to``) are not run here: the engine turns them into machine transitions so that
``transitions`` stays the one authority on where a case can go.
"""

from __future__ import annotations

from typing import Any

from .expressions import Expression, parse
from .spec import Action, ProcessDefinition
from .state import CaseState, OutboxMessage


class ActionRunner:
    def __init__(self, definition: ProcessDefinition) -> None:
        self._definition = definition
        self._tables: dict[str, list[tuple[Expression, dict[str, Any]]]] = {
            table: [(parse(rule.when), rule.set) for rule in rules]
            for table, rules in definition.decisions.items()
        }

    def run(self, actions: list[Action], state: CaseState, notes: list[str]) -> list[OutboxMessage]:
        """Apply ``actions`` in order; return the messages they cause and note what they did."""
        messages: list[OutboxMessage] = []
        for action in actions:
            if action.set is not None:
                self._set(action.set, state, notes, why="set")
            elif action.decide is not None:
                self._decide(action.decide, state, notes)
            elif action.notify is not None and action.template is not None:
                messages.append(self._message(action.notify, action.template, state))
                notes.append(f"notify {action.notify}: {action.template}")
        return messages

    def _set(self, values: dict[str, Any], state: CaseState, notes: list[str], why: str) -> None:
        state.fields.update(values)
        shown = ", ".join(f"{name}={self._shown(name, value)}" for name, value in values.items())
        notes.append(f"{why}: {shown}")

    def _decide(self, table: str, state: CaseState, notes: list[str]) -> None:
        for index, (condition, values) in enumerate(self._tables[table], start=1):
            if condition.test(state.fields):
                self._set(values, state, notes, why=f"{table} rule {index}")
                return
        notes.append(f"{table}: no rule matched")

    def _shown(self, name: str, value: Any) -> str:
        field = self._definition.fields.get(name)
        return "***" if field is not None and field.pii else str(value)

    def _message(self, recipient: str, template: str, state: CaseState) -> OutboxMessage:
        return OutboxMessage(
            recipient=recipient,
            template=template,
            params={
                "case_id": state.case_id,
                "process": state.process,
                "stage": state.stage,
                "fields": dict(state.fields),
            },
        )
