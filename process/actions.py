"""Running a definition's actions (set, decide, notify) against a case's state.

Moves (``to``) are not run here: the engine turns them into machine transitions so that
``transitions`` stays the one authority on where a case can go.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress
from typing import Any

from .computed import expression_source, stored_value
from .expressions import Context, Expression, ExpressionError, parse
from .spec import Action, ProcessDefinition
from .state import CaseState, OutboxMessage

_NO_CONTEXT = Context()


class ActionRunner:
    def __init__(self, definition: ProcessDefinition) -> None:
        self._definition = definition
        self._tables: dict[str, list[tuple[Expression, dict[str, Any]]]] = {
            table: [(parse(rule.when), rule.set) for rule in rules]
            for table, rules in definition.decisions.items()
        }
        self._computed: dict[str, Expression] = {}
        for values in _set_values(definition):
            for name, value in values.items():
                source = expression_source(definition.fields.get(name), value)
                if source is not None and source not in self._computed:
                    # A source that does not parse was refused when the definition loaded.
                    with suppress(ExpressionError):
                        self._computed[source] = parse(source)

    def run(
        self,
        actions: list[Action],
        state: CaseState,
        notes: list[str],
        context: Context = _NO_CONTEXT,
    ) -> list[OutboxMessage]:
        """Apply ``actions`` in order; return the messages they cause and note what they did.

        ``context`` is what computed values read besides the fields (``now``, ``actor``...)."""
        messages: list[OutboxMessage] = []
        for action in actions:
            if action.set is not None:
                self._set(action.set, state, notes, "set", context)
            elif action.decide is not None:
                self._decide(action.decide, state, notes, context)
            elif action.notify is not None and action.template is not None:
                messages.append(self._message(action.notify, action.template, state))
                notes.append(f"notify {action.notify}: {action.template}")
        return messages

    def _set(
        self, values: dict[str, Any], state: CaseState, notes: list[str], why: str, context: Context
    ) -> None:
        # Every value is computed from the fields as they were: 'a: b, b: a' swaps them.
        computed: dict[str, Any] = {}
        for name, value in values.items():
            spec = self._definition.fields.get(name)
            source = expression_source(spec, value)
            if source is None:
                computed[name] = value
                continue
            expression = self._computed.get(source)
            result = None if expression is None else expression.evaluate(state.fields, context)
            stored, problem = stored_value(spec, result)
            if problem is None:
                computed[name] = stored
            else:
                reason = "not a valid value" if spec is not None and spec.pii else problem
                notes.append(f"{why}: {name} not set: {reason}")
        state.fields.update(computed)
        if computed:
            shown = ", ".join(
                f"{name}={self._shown(name, value)}" for name, value in computed.items()
            )
            notes.append(f"{why}: {shown}")

    def _decide(self, table: str, state: CaseState, notes: list[str], context: Context) -> None:
        for index, (condition, values) in enumerate(self._tables[table], start=1):
            if condition.test(state.fields, context):
                self._set(values, state, notes, f"{table} rule {index}", context)
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


def _set_values(definition: ProcessDefinition) -> Iterator[dict[str, Any]]:
    """Every ``set`` of the definition, wherever an action list may hold one."""
    lists: list[list[Action]] = []
    for stage in definition.stages.values():
        lists.append(stage.on_enter)
        lists.extend(transition.actions for transition in stage.on.values())
        if stage.timeout is not None:
            lists.append(stage.timeout.actions)
    for deadline in definition.deadlines.values():
        lists.extend([deadline.on_warn, deadline.on_breach])
        lists.extend(rung.actions for rung in deadline.escalate)
    for actions in lists:
        yield from (action.set for action in actions if action.set is not None)
    for rules in definition.decisions.values():
        yield from (rule.set for rule in rules)
