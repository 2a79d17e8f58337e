"""Message templates: loaded and checked once, rendered per message in the case's language.

Designers edit ``definitions/templates/<name>.<language>.j2``, one file per message type and
language (``acknowledged.zh-CN.j2``, ``acknowledged.en.j2``). The first line is the subject,
then an empty line, then the body. Templates are Jinja2 in a sandbox (a template cannot reach
Python internals) and may only use the variables kesu provides (``VARIABLES``); a variable
kesu does not provide is an error when the templates load, never a blank in a sent message.
Which fields a template may use depends on the processes that send it: see
``template_checks``.

A message renders with the templates its case's version was published with (``VersionTemplates``,
from the registry, by content hash), so a worker needs no files for a process published after
it started; the worker's files serve only versions whose texts the registry lacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, nodes
from jinja2 import Template as JinjaTemplate
from jinja2.sandbox import SandboxedEnvironment

from process.problems import Problems
from process.spec import ProcessDefinition

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
LANGUAGE_FIELD = "language"
"""The case field that chooses a message's language; absent or unknown means the default."""
SUFFIX = ".j2"

VARIABLES = {
    "case_id": "the case id, e.g. complaint-crm-42",
    "process": "the process name, e.g. complaint",
    "process_title": "the process title from its definition",
    "stage": "the stage the case is in",
    "stage_title": "that stage's title (its name if it has none)",
    "fields": "the case fields, as fields.<name>; unset fields are empty",
    "deadline": "deadline.name, deadline.title, deadline.due_at and deadline.provisional (why "
    "the due time is provisional, empty when it is not), for messages a deadline sends",
    "halt": "halt.seq, halt.trigger and halt.failure: the step a halted case stopped on, its "
    "event and the database error's class, for the operator's case_halted alert",
    "warning": "warning.rule, .title, .count_by, .key, .count, .at_least, .window, "
    ".window_start and .window_end, for an early warning (definitions/warnings)",
}
DEADLINE_ATTRIBUTES = frozenset({"name", "title", "due_at", "provisional"})


class TemplateProblems(Problems):
    """Templates that cannot be used, with every problem found."""

    subject = "message templates"


class RenderError(Exception):
    """A message that cannot be rendered; the text names the template, never a value."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    language: str


def _empty_for_none(value: Any) -> Any:
    # An unset field renders as nothing rather than "None"; designers write defaults with `or`.
    return "" if value is None else value


def _environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,  # plain-text mail and JSON bodies, not HTML
        keep_trailing_newline=True,
        finalize=_empty_for_none,
    )


@dataclass(frozen=True)
class Template:
    name: str
    language: str
    source: str
    """The file name, for messages."""
    subject: str
    body: str
    fields_used: frozenset[str] = field(default_factory=frozenset)


def _attribute(node: nodes.Node) -> str | None:
    """``fields.email`` / ``fields['email']`` -> ``email``; None for any other access."""
    if isinstance(node, nodes.Getattr):
        return node.attr
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        return str(node.arg.value)
    return None


def _variable_problems(tree: nodes.Template) -> tuple[list[str], set[str]]:
    """What a template uses that kesu does not provide; and the fields it uses."""
    problems: list[str] = []
    fields: set[str] = set()
    assigned = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    direct: dict[str, int] = {}
    for name in tree.find_all(nodes.Name):
        if name.ctx == "load" and name.name not in assigned:
            direct[name.name] = direct.get(name.name, 0) + 1
            if name.name not in VARIABLES:
                problems.append(
                    f"line {name.lineno}: unknown variable '{name.name}' "
                    f"(kesu provides {', '.join(VARIABLES)})"
                )
    accessed = {"fields": 0, "deadline": 0}
    for access in tree.find_all((nodes.Getattr, nodes.Getitem)):
        target = access.node  # type: ignore[attr-defined]  # both node types have it
        if not isinstance(target, nodes.Name) or target.name not in accessed:
            continue
        attribute = _attribute(access)
        if attribute is None:
            continue
        accessed[target.name] += 1
        if target.name == "fields":
            fields.add(attribute)
        elif attribute not in DEADLINE_ATTRIBUTES:
            problems.append(
                f"line {access.lineno}: deadline.{attribute} does not exist "
                f"(use {', '.join(f'deadline.{a}' for a in sorted(DEADLINE_ATTRIBUTES))})"
            )
    for whole, count in accessed.items():
        if direct.get(whole, 0) > count:
            problems.append(f"'{whole}' is used as a whole; name what you need: {whole}.<name>")
    return problems, fields


def parse_template(text: str, file_name: str) -> tuple[Template | None, list[str]]:
    """One template file's text -> the template, or the problems with it (file:line: ...)."""
    stem = file_name.removesuffix(SUFFIX)
    name, _, language = stem.rpartition(".")
    if not name or language not in LANGUAGES:
        expected = " or ".join(f"<name>.{lang}{SUFFIX}" for lang in LANGUAGES)
        return None, [f"{file_name}: name the file {expected}"]
    subject, blank, body = text.partition("\n")
    if not subject.strip() or (blank and body and not body.startswith("\n")):
        return None, [f"{file_name}:1: write the subject on line 1, then an empty line, the body"]
    body = body.removeprefix("\n")
    environment = _environment()
    problems: list[str] = []
    fields: set[str] = set()
    for part, offset in ((subject, 0), (body, 2)):
        try:
            tree = environment.parse(part)
        except TemplateSyntaxError as error:
            problems.append(f"{file_name}:{(error.lineno or 1) + offset}: {error.message}")
            continue
        found, used = _variable_problems(tree)
        fields |= used
        for problem in found:
            # "line N: ..." is relative to the part; point at the file's line.
            if problem.startswith("line "):
                number, _, rest = problem.removeprefix("line ").partition(": ")
                problems.append(f"{file_name}:{int(number) + offset}: {rest}")
            else:
                problems.append(f"{file_name}: {problem}")
    if problems:
        return None, problems
    return Template(name, language, file_name, subject, body, frozenset(fields)), []


@dataclass(frozen=True)
class TemplateCatalog:
    templates: Mapping[tuple[str, str], Template]

    @classmethod
    def load(cls, folder: Path) -> TemplateCatalog:
        """Every ``*.j2`` file of ``folder``; all problems at once as ``TemplateProblems``."""
        if not folder.is_dir():
            raise TemplateProblems([f"{folder}: no templates folder"])
        templates: dict[tuple[str, str], Template] = {}
        problems: list[str] = []
        for path in sorted(folder.glob(f"*{SUFFIX}")):
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                problems.append(f"{path.name}: cannot read as UTF-8 text: {error}")
                continue
            template, found = parse_template(text, path.name)
            problems.extend(found)
            if template is not None:
                templates[(template.name, template.language)] = template
        if problems:
            raise TemplateProblems(problems)
        return cls(templates)

    def get(self, name: str, language: str) -> Template | None:
        return self.templates.get((name, language))


def language_of(fields: Mapping[str, Any]) -> str:
    language = fields.get(LANGUAGE_FIELD)
    return language if isinstance(language, str) and language in LANGUAGES else DEFAULT_LANGUAGE


@dataclass(frozen=True)
class VersionTemplates:
    """A published version's definition and the texts of its templates (file name -> text)."""

    content_hash: str
    definition: ProcessDefinition
    texts: Mapping[str, str]


_Compiled = tuple[JinjaTemplate, JinjaTemplate]


class Renderer:
    """Renders a message's template in its case's language, with its definition's titles."""

    def __init__(
        self, catalog: TemplateCatalog, definitions: Mapping[str, ProcessDefinition]
    ) -> None:
        self._catalog = catalog
        self._definitions = dict(definitions)
        self._environment = _environment()
        self._compiled = {
            key: self._compile(template) for key, template in catalog.templates.items()
        }
        self._published: dict[tuple[str, str], _Compiled] = {}
        """(version hash, file name) -> compiled: a hash names one content for good."""

    def _compile(self, template: Template) -> _Compiled:
        return (
            self._environment.from_string(template.subject),
            self._environment.from_string(template.body),
        )

    def _from_version(self, version: VersionTemplates, file_name: str) -> _Compiled | None:
        key = (version.content_hash, file_name)
        if key not in self._published:
            text = version.texts.get(file_name)
            if text is None:
                return None
            template, problems = parse_template(text, file_name)
            if template is None:
                raise RenderError("; ".join(problems))
            self._published[key] = self._compile(template)
        return self._published[key]

    def render(
        self,
        template: str,
        params: Mapping[str, Any],
        trigger: str = "",
        version: VersionTemplates | None = None,
    ) -> Rendered:
        """``version``: the case's published version; its templates and titles come first."""
        fields: Mapping[str, Any] = params.get("fields") or {}
        language = language_of(fields)
        file_name = f"{template}.{language}{SUFFIX}"
        compiled = self._from_version(version, file_name) if version is not None else None
        compiled = compiled or self._compiled.get((template, language))
        if compiled is None:
            raise RenderError(f"no template {file_name}")
        try:
            context = self._context(params, fields, trigger, version)
            subject, body = (part.render(context) for part in compiled)
        except TemplateError as error:
            # Jinja's messages name variables and types, not the values they hold.
            raise RenderError(f"{template}.{language}{SUFFIX}: {error.message}") from None
        return Rendered(subject=" ".join(subject.split()), body=body, language=language)

    def _context(
        self,
        params: Mapping[str, Any],
        fields: Mapping[str, Any],
        trigger: str,
        version: VersionTemplates | None,
    ) -> dict[str, Any]:
        process = str(params.get("process", ""))
        stage = str(params.get("stage", ""))
        definition = version.definition if version else self._definitions.get(process)
        declared = dict.fromkeys(definition.fields) if definition is not None else {}
        stage_spec = definition.stages.get(stage) if definition is not None else None
        deadline_name = _deadline_of(trigger)
        deadline_spec = definition.deadlines.get(deadline_name) if definition else None
        return {
            "case_id": params.get("case_id", ""),
            "process": process,
            "process_title": (definition.title if definition else None) or process,
            "stage": stage,
            "stage_title": (stage_spec.title if stage_spec else None) or stage,
            "fields": {**declared, **fields},
            # A halted case's alert (``activities.halts``): which step, and the failure's kind.
            "halt": {name: params.get(name) for name in ("seq", "trigger", "failure")},
            # An early warning (``activities.storage.warnings``): the rule, value and window.
            "warning": dict(params.get("warning") or {}),
            "deadline": {
                "name": deadline_name,
                "title": (deadline_spec.title if deadline_spec else None) or deadline_name,
                **_due_params(params.get("deadline")),
            },
        }


def _due_params(given: Any) -> dict[str, Any]:
    known = given if isinstance(given, Mapping) else {}
    return {"due_at": known.get("due_at"), "provisional": known.get("provisional")}


def _deadline_of(trigger: str) -> str:
    """``deadline.breached:plan`` or ``deadline.escalated:plan:2`` -> ``plan``; else ''."""
    if not trigger.startswith("deadline."):
        return ""
    return trigger.partition(":")[2].partition(":")[0]
