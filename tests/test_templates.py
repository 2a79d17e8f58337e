"""Message templates: loaded and checked with the shipped definitions, rendered in two languages."""

from __future__ import annotations

from pathlib import Path

import pytest

from activities.channels.setup import TEMPLATES_FOLDER
from activities.template_checks import check_templates, load_checked_templates, notify_actions
from activities.templates import (
    LANGUAGES,
    Renderer,
    RenderError,
    TemplateCatalog,
    TemplateProblems,
    parse_template,
)
from process.loader import load_catalog
from process.spec import ProcessDefinition

DEFINITIONS = Path(__file__).parent.parent / "definitions"


@pytest.fixture(scope="module")
def definitions() -> dict[str, ProcessDefinition]:
    return load_catalog(DEFINITIONS).definitions


@pytest.fixture(scope="module")
def renderer(definitions: dict[str, ProcessDefinition]) -> Renderer:
    return Renderer(TemplateCatalog.load(DEFINITIONS / TEMPLATES_FOLDER), definitions)


def test_every_shipped_message_has_a_template_in_every_language(
    definitions: dict[str, ProcessDefinition],
) -> None:
    catalog = load_checked_templates(DEFINITIONS / TEMPLATES_FOLDER, definitions)

    sent = {
        str(action.template)
        for definition in definitions.values()
        for _, action in notify_actions(definition)
    }
    assert {"acknowledged", "result", "deadline_breached", "extension_notice"} <= sent
    assert {(name, lang) for name in sent for lang in LANGUAGES} <= set(catalog.templates)
    # Every shipped process lets the case choose its language.
    for definition in definitions.values():
        assert definition.fields["language"].values == list(LANGUAGES)


def test_a_missing_language_or_undeclared_field_is_named(
    definitions: dict[str, ProcessDefinition], tmp_path: Path
) -> None:
    for path in (DEFINITIONS / TEMPLATES_FOLDER).glob("*.j2"):
        if path.name != "acknowledged.en.j2":
            (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    # customer_name exists in the complaints, not in service requests, which also send this.
    (tmp_path / "acknowledged.zh-CN.j2").write_text(
        "您好 {{ fields.customer_name }}\n\n案件 {{ case_id }}\n", encoding="utf-8"
    )

    problems = check_templates(TemplateCatalog.load(tmp_path), definitions)

    assert (
        "process complaint: stages.intake.on_enter: notify customer: no template "
        "'acknowledged' in en (add templates/acknowledged.en.j2)"
    ) in problems
    assert (
        "acknowledged.zh-CN.j2: uses fields.customer_name, which process service_request "
        "does not declare (it sends 'acknowledged' at stages.intake.on_enter)"
    ) in problems
    assert len(problems) == 4  # en missing for each of three processes, and the field
    with pytest.raises(TemplateProblems) as raised:
        load_checked_templates(tmp_path, definitions)
    assert str(raised.value).startswith(f"{len(problems)} problems in message templates\n")


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        (
            "ack.zh-CN.j2",
            "主题 {{ case_id }}\n\n第一行\n您好 {{ custmer_name }}\n",
            "ack.zh-CN.j2:4: unknown variable 'custmer_name' (kesu provides case_id, process, "
            "process_title, stage, stage_title, fields, deadline, halt, warning)",
        ),
        ("ack.zh-CN.j2", "主题\n\n{% if %}\n", "ack.zh-CN.j2:3: Expected an expression"),
        ("ack.fr.j2", "Sujet\n\nCorps\n", "ack.fr.j2: name the file <name>.zh-CN.j2 or"),
        ("ack.en.j2", "Subject\nno empty line\n", "ack.en.j2:1: write the subject on line 1"),
        ("ack.en.j2", "Subject\n\n{{ deadline.due }}\n", "ack.en.j2:3: deadline.due does not"),
        ("ack.en.j2", "Subject\n\n{{ fields }}\n", "ack.en.j2: 'fields' is used as a whole"),
        (
            "ack.en.j2",
            "{{ ''.__class__ }}\n\nbody\n",
            None,  # loads; the sandbox refuses it when rendering (below)
        ),
    ],
)
def test_template_mistakes_are_load_errors(name: str, text: str, problem: str | None) -> None:
    template, problems = parse_template(text, name)
    if problem is None:
        assert template is not None and problems == []
    else:
        assert template is None and len(problems) == 1
        assert problems[0].startswith(problem)


def test_loops_and_local_names_are_allowed() -> None:
    text = "{{ case_id }}\n\n{% for p in [fields.plan, fields.resolution] %}{{ p }}{% endfor %}"
    template, problems = parse_template(text, "ok.en.j2")
    assert problems == [] and template is not None
    assert template.fields_used == {"plan", "resolution"}


def params(**fields: object) -> dict[str, object]:
    return {
        "case_id": "complaint-crm-42",
        "process": "complaint",
        "stage": "feedback",
        "fields": {"customer_id": "C-1", "customer_name": "张女士", **fields},
    }


def test_rendering_follows_the_case_language(renderer: Renderer) -> None:
    chinese = renderer.render("result", params(resolution="已退还年费 200 元"))
    english = renderer.render("result", params(language="en", resolution="Fee refunded"))

    assert chinese.language == "zh-CN" and english.language == "en"
    assert chinese.subject == "【处理结果】案件 complaint-crm-42"
    assert "已退还年费 200 元" in chinese.body
    assert english.subject == "[Result] Case complaint-crm-42"
    assert "Fee refunded" in english.body


def test_unset_fields_render_empty_and_defaults_apply(renderer: Renderer) -> None:
    rendered = renderer.render("closed", params(customer_name=None))
    assert "尊敬的客户：" in rendered.body  # `fields.customer_name or "客户"`
    assert "None" not in rendered.body


def test_deadline_messages_name_their_deadline(renderer: Renderer) -> None:
    rendered = renderer.render(
        "deadline_breached", params(assignee="陈静"), trigger="deadline.escalated:plan:1"
    )
    plan = "48小时内给出处理方案 Handling plan within 48 hours"  # the deadline's title
    assert rendered.subject == f"【已超时】案件 complaint-crm-42：{plan}"
    assert "反馈 Feedback and satisfaction survey" in rendered.body  # the stage title
    assert "陈静" in rendered.body


def test_render_errors_name_the_template_not_the_values(
    renderer: Renderer, definitions: dict[str, ProcessDefinition]
) -> None:
    with pytest.raises(RenderError) as missing:
        renderer.render("no_such_template", params(language="en"))
    assert str(missing.value) == "no template no_such_template.en.j2"

    sneaky, _ = parse_template("{{ ''.__class__.__mro__ }}\n\n13800138000\n", "x.en.j2")
    assert sneaky is not None
    sandboxed = Renderer(TemplateCatalog({("x", "en"): sneaky}), definitions)
    with pytest.raises(RenderError) as refused:
        sandboxed.render("x", params(language="en"))
    assert str(refused.value).startswith("x.en.j2: ")
    assert "13800138000" not in str(refused.value)


def test_a_provisional_due_time_is_said_in_the_message(renderer: Renderer) -> None:
    why = "calendar 'cn-workdays' covers 2004-01-01 to 2026-12-31"
    given = {**params(assignee="陈静"), "deadline": {"due_at": None, "provisional": why}}
    rendered = renderer.render("deadline_breached", given, trigger="deadline.breached:plan")
    assert f"注意：该时限为暂定（日历尚未覆盖）：{why}" in rendered.body
    plain = renderer.render("deadline_breached", params(), trigger="deadline.breached:plan")
    assert "暂定" not in plain.body
