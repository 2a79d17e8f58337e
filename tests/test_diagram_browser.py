"""The diagram pages in a real headless Chromium (Debian's package, driven by Playwright).

Every request other than the page itself is refused and recorded: the page must show the
whole diagram offline. Screenshots are kept in ``test-artifacts/diagrams/`` (not committed)
for a person to look at.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, Route

from runtime import load_specs
from service.diagrams import case_diagram, process_diagram
from service.scenarios import load_scenario, run_scenario
from tests.browser_support import artifacts, browser
from tests.services import require_service

ROOT = Path(__file__).resolve().parent.parent
DEFINITIONS = ROOT / "definitions"
ARTIFACTS = artifacts("diagrams")
SPECS = load_specs(DEFINITIONS)

__all__ = ["browser"]  # the shared fixture


async def _open_offline(browser: Browser, html: str, name: str) -> tuple[Page, list[str]]:
    path = ARTIFACTS / f"{name}.html"
    path.write_text(html, encoding="utf-8")
    page = await browser.new_page(viewport={"width": 1600, "height": 1000})
    fetched: list[str] = []

    async def only_the_page(route: Route) -> None:
        if route.request.url == path.as_uri():
            await route.continue_()
        else:
            fetched.append(route.request.url)
            await route.abort()

    await page.route("**/*", only_the_page)
    await page.goto(path.as_uri())
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    # and the whole diagram, unscrolled, for a person to look at
    whole = await page.add_style_tag(content=".diagram { overflow: visible; width: max-content; }")
    await page.screenshot(path=str(ARTIFACTS / f"{name}-whole.png"), full_page=True)
    await whole.evaluate("element => element.remove()")
    return page, fetched


@pytest.mark.parametrize("process", sorted(SPECS))
async def test_the_process_page_renders_offline(browser: Browser, process: str) -> None:
    definition = SPECS[process].definition
    page, fetched = await _open_offline(browser, process_diagram(SPECS[process], "html"), process)
    assert fetched == []
    stages = page.locator("[data-stage]")
    assert await stages.count() == len(definition.stages)
    for name, stage in definition.stages.items():
        box = await page.locator(f'[data-stage="{name}"]').bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 30, name
        assert stage.title is not None
        assert await page.get_by_text(stage.title.split()[0], exact=False).count() >= 1
    svg = await page.locator("svg").bounding_box()
    assert svg is not None and svg["width"] > 800
    await page.close()


async def test_the_case_page_highlights_the_current_stage(browser: Browser) -> None:
    loaded = load_scenario(DEFINITIONS / "tests" / "complaint_dissatisfied.yaml", SPECS)
    state = run_scenario(loaded).engine.state
    html = case_diagram(SPECS["complaint"], state, "html")
    page, fetched = await _open_offline(browser, html, "complaint-case")
    assert fetched == []
    current = page.locator(".stage.current")
    assert await current.get_attribute("data-stage") == "escalation"
    fill = await current.locator("rect").first.get_attribute("fill")
    assert fill == "#fde68a"
    assert await page.get_by_text("current stage escalation").is_visible()
    await page.close()


MERMAID = ROOT / ".venv" / "node" / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
_RENDER = """async text => {
    const { svg } = await mermaid.render("diagram", text);
    document.body.innerHTML = svg;
    return document.querySelectorAll("g.node, g[id*='state-']").length;
}"""


@pytest.mark.parametrize("process", sorted(SPECS))
async def test_the_mermaid_text_renders_in_mermaid(browser: Browser, process: str) -> None:
    """What designers paste into a wiki must parse: Mermaid itself (npm) renders it."""
    if not MERMAID.exists():
        require_service("mermaid", f"the mermaid npm package is not installed ({MERMAID.name})")
    page = await browser.new_page(viewport={"width": 2400, "height": 1400})
    await page.set_content("<!DOCTYPE html><html><body></body></html>")
    await page.add_script_tag(path=str(MERMAID))
    await page.evaluate("mermaid.initialize({ startOnLoad: false })")
    if process == "complaint":  # the case view too: its highlight classes must parse
        loaded = load_scenario(DEFINITIONS / "tests" / "complaint_dissatisfied.yaml", SPECS)
        text = case_diagram(SPECS[process], run_scenario(loaded).engine.state, "mermaid")
    else:
        text = process_diagram(SPECS[process], "mermaid")
    drawn = await page.evaluate(_RENDER, text)
    assert drawn >= len(SPECS[process].definition.stages)
    await page.screenshot(path=str(ARTIFACTS / f"{process}-mermaid.png"), full_page=True)
    await page.close()
