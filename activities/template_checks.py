"""Templates against the definitions that send them: every message a process can send exists in
every language, and uses only fields that process declares.

Run when the worker starts and by ``starter.py check``, so a missing template or a misspelt
field is found before any case needs the message.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from process.spec import Action, ProcessDefinition

from .templates import LANGUAGES, SUFFIX, TemplateCatalog, TemplateProblems


def notify_actions(definition: ProcessDefinition) -> Iterator[tuple[str, Action]]:
    """Every ``notify`` action of ``definition``, with where it is written."""
    places: list[tuple[str, list[Action]]] = []
    for name, stage in definition.stages.items():
        places.append((f"stages.{name}.on_enter", stage.on_enter))
        for event, transition in stage.on.items():
            places.append((f"stages.{name}.on.{event}.actions", transition.actions))
        if stage.timeout is not None:
            places.append((f"stages.{name}.timeout.actions", stage.timeout.actions))
    for name, deadline in definition.deadlines.items():
        places.append((f"deadlines.{name}.on_warn", deadline.on_warn))
        places.append((f"deadlines.{name}.on_breach", deadline.on_breach))
        for index, rung in enumerate(deadline.escalate):
            places.append((f"deadlines.{name}.escalate[{index}].actions", rung.actions))
    for where, actions in places:
        for action in actions:
            if action.notify is not None and action.template is not None:
                yield where, action


def check_templates(
    catalog: TemplateCatalog, definitions: Mapping[str, ProcessDefinition]
) -> list[str]:
    """Problems between ``catalog`` and ``definitions``; empty when every message can render."""
    problems: list[str] = []
    seen: set[tuple[str, str, str]] = set()
    for process, definition in sorted(definitions.items()):
        for where, action in notify_actions(definition):
            name = str(action.template)
            for language in LANGUAGES:
                if (process, name, language) in seen:
                    continue
                seen.add((process, name, language))
                template = catalog.get(name, language)
                if template is None:
                    problems.append(
                        f"process {process}: {where}: notify {action.notify}: no template "
                        f"'{name}' in {language} (add templates/{name}.{language}{SUFFIX})"
                    )
                    continue
                for field in sorted(template.fields_used - set(definition.fields)):
                    problems.append(
                        f"{template.source}: uses fields.{field}, which process {process} "
                        f"does not declare (it sends '{name}' at {where})"
                    )
    return problems


def load_checked_templates(
    folder: Path, definitions: Mapping[str, ProcessDefinition]
) -> TemplateCatalog:
    """The templates of ``folder``, checked against ``definitions``; else ``TemplateProblems``."""
    catalog = TemplateCatalog.load(folder)
    problems = check_templates(catalog, definitions)
    if problems:
        raise TemplateProblems(problems)
    return catalog
