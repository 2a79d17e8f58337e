"""Diagrams of the shipped processes: what they show, in Mermaid, SVG and the offline page."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

import starter
from process.diagram import Highlight, build_diagram, to_mermaid
from process.diagram_page import render_page
from process.diagram_svg import render_svg
from runtime import load_specs
from service.diagrams import case_diagram, pick_version, process_diagram
from service.refusals import KesuError
from service.scenarios import load_scenario, run_scenario

DEFINITIONS = Path(__file__).resolve().parent.parent / "definitions"
SPECS = load_specs(DEFINITIONS)
SVG = "{http://www.w3.org/2000/svg}"


def test_mermaid_shows_stages_events_roles_guards_timeouts_and_clocks() -> None:
    text = to_mermaid(build_diagram(SPECS["complaint"].definition))
    assert text.splitlines()[3] == "stateDiagram-v2"
    assert 'state "intake<br>受理 Intake" as intake' in text
    assert "    [*] --> intake" in text and "    archived --> [*]" in text
    assert (
        "    intake --> triage: accept 受理 Accept · agent, supervisor"
        "<br>start response (24h), plan (48h), resolution (15d)"
    ) in text
    assert "[severity == 'urgent' or amount #gt; 50000]" in text  # guards, escaped for Mermaid
    assert "    waiting_customer --> closure: timeout 7d" in text
    # a breach that moves the case, on the one line Mermaid draws between two stages
    escalate = next(line for line in text.splitlines() if "triage --> escalation" in line)
    assert escalate.startswith("    triage --> escalation: escalate 升级 Escalate")
    assert escalate.endswith("<br>plan breached")
    assert "restart plan (48h), resolution (15d)" in text  # the reopen fix, visible
    assert "        pauses resolution while here" in text
    assert "        routing: category == 'wealth' → team=财富管理 wealth" in text  # decision table
    assert "        deadline response: 24h of calendar time, warn 75% before" in text


def test_business_clocks_and_escalation_rungs_are_named() -> None:
    text = to_mermaid(build_diagram(SPECS["bank_complaint"].definition))
    assert "deadline acknowledge: 1wd of business on cn-workdays time" in text
    assert "escalate after 4h, 1d" in text
    assert "        enter: pause decision" in text and "        leave: resume decision" in text
    assert "new_facts 客户补充新事实 New facts · customer, agent<br>restart decision" in text


@pytest.mark.parametrize("process", sorted(SPECS))
def test_the_svg_is_well_formed_and_has_every_stage(process: str) -> None:
    definition = SPECS[process].definition
    root = ElementTree.fromstring(render_svg(build_diagram(definition)))
    stages = [group.get("data-stage") for group in root.iter(f"{SVG}g") if group.get("data-stage")]
    assert stages == list(definition.stages)
    texts = "".join(text.text or "" for text in root.iter(f"{SVG}text"))
    for stage in definition.stages.values():
        assert stage.title is not None and stage.title.split()[0] in texts


def test_the_page_is_self_contained() -> None:
    page = render_page(build_diagram(SPECS["complaint"].definition))
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page
    assert "<script" not in page and "<link" not in page and "@import" not in page
    # the only URL is the SVG namespace, which is a name, not something fetched
    assert set(re.findall(r"https?://[^\s\"']+", page)) == {"http://www.w3.org/2000/svg"}


def test_a_case_shows_where_it_is_and_the_path_it_took() -> None:
    loaded = load_scenario(DEFINITIONS / "tests" / "complaint_dissatisfied.yaml", SPECS)
    state = run_scenario(loaded).engine.state
    highlight = Highlight.of_case(state)
    assert highlight.current == "escalation"
    assert {("feedback", "handling"), ("handling", "escalation")} <= highlight.taken
    svg = case_diagram(SPECS["complaint"], state, "svg")
    assert '<g class="stage current" data-stage="escalation">' in svg
    assert svg.count('stroke="#1d4ed8" stroke-width="3"') >= len(highlight.taken) - 1
    mermaid = case_diagram(SPECS["complaint"], state, "mermaid")
    assert "    class escalation current" in mermaid
    assert "class feedback,handling,intake,triage visited" in mermaid


def test_a_version_is_picked_from_the_published_ones() -> None:
    complaint = SPECS["complaint"]
    assert pick_version("complaint", 4, [complaint]) is complaint
    with pytest.raises(KesuError, match=r"has no published version 1 \(published: v4\)"):
        pick_version("complaint", 1, [complaint])
    with pytest.raises(KesuError, match="unknown diagram format 'png'"):
        process_diagram(complaint, "png")


def test_the_diagram_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert starter.main(["diagram", "service_request"]) == 0
    assert "intake --> handling: answer 应答 Answer" in capsys.readouterr().out
    target = tmp_path / "complaint.html"
    assert starter.main(["diagram", "complaint", "--format", "html", "--output", str(target)]) == 0
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert starter.main(["diagram", "complaint", "--version", "4"]) == 0  # the folder's own
    capsys.readouterr()


def test_an_older_published_version_is_drawn_from_the_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "definitions"
    shutil.copytree(DEFINITIONS, folder)
    monkeypatch.setenv("KESU_DEFINITIONS", str(folder))
    monkeypatch.setenv("KESU_DATABASE_URL", f"sqlite:///{tmp_path / 'kesu.db'}")
    monkeypatch.setenv("KESU_DATA_DIR", str(tmp_path))
    assert starter.main(["diagram", "complaint", "--version", "1"]) == 1
    assert "cannot read the published definitions" in capsys.readouterr().err  # no tables yet
    assert starter.main(["publish"]) == 0
    path = folder / "complaint.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("version: 4 ", "version: 5 ").replace("title: 受理 Intake", "title: 受理"),
        encoding="utf-8",
    )
    assert starter.main(["publish"]) == 0
    capsys.readouterr()
    assert starter.main(["diagram", "complaint", "--version", "4"]) == 0
    older = capsys.readouterr().out
    assert "title: complaint v4" in older and 'state "intake<br>受理 Intake"' in older
    assert starter.main(["diagram", "complaint"]) == 0
    assert 'state "intake<br>受理" as intake' in capsys.readouterr().out
    assert starter.main(["diagram", "complaint", "--version", "9"]) == 1
    assert "no published version 9 (published: v4, v5)" in capsys.readouterr().err
