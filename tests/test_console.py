"""The web console in a real headless Chromium, over a real API server, Temporal and database.

An agent signs in, finds a case in the list, opens it (customer data masked), accepts it
through its form and sees a refusal with its reason; a supervisor sees the data unmasked; the
reports and process pages render. Each page leaves a screenshot under test-artifacts/console.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from tests.api_support import AGENT, api_app, serving
from tests.browser_support import browser, screenshot_path
from tests.temporal_support import Harness

__all__ = ["browser"]

pytestmark = pytest.mark.temporal

# Pages wait on a real worker and Temporal: on a loaded machine a step can take seconds.
expect.set_options(timeout=30_000)


@pytest_asyncio.fixture
async def console(harness: Harness) -> AsyncIterator[str]:
    async with serving(api_app(harness.kesu, records=harness.sessions)) as base_url:
        yield base_url


async def signed_in(browser: Browser, base_url: str, token: str) -> Page:
    page = await browser.new_page(locale="en-US")
    page.set_default_timeout(30_000)
    await page.goto(f"{base_url}/console/cases")
    await expect(page).to_have_url(f"{base_url}/console/login")
    await page.get_by_label("Access token").fill(token)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(f"{base_url}/console/cases")
    return page


async def http_json(base_url: str, path: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        response = await http.get(path, headers=AGENT)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


async def unlabelled_controls(page: Page) -> list[str]:
    """Form controls a screen reader could not name (no label, no aria-label)."""
    found: list[str] = await page.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
              .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
              .map(e => e.name || e.id)"""
    )
    return found


async def test_an_agent_works_a_case_and_a_supervisor_sees_the_customer(
    browser: Browser, console: str, harness: Harness, unique_key: str
) -> None:
    fields = {"customer_id": "C-9", "customer_name": "张女士", "category": "card"}
    started = await harness.kesu.start_case(
        "complaint", fields, key=f"console-{unique_key}", roles=["agent"]
    )
    case_id = started.case_id

    agent = await signed_in(browser, console, "agent-token")
    await expect(agent.get_by_test_id("actor")).to_have_text("王敏")
    await expect(agent.get_by_role("link", name=case_id)).to_be_visible()
    assert await unlabelled_controls(agent) == []
    await agent.screenshot(path=screenshot_path("cases"), full_page=True)

    await agent.get_by_role("link", name=case_id).click()
    await expect(agent.locator('[data-field="customer_name"]')).to_have_text("***")
    await expect(agent.locator(".diagram svg")).to_be_visible()
    await agent.screenshot(path=screenshot_path("case-masked"), full_page=True)

    assert await unlabelled_controls(agent) == []
    # By keyboard alone: open the event's form, then send it.
    await agent.get_by_text("受理 Accept", exact=True).focus()
    await agent.keyboard.press("Enter")
    await agent.get_by_role("button", name="Send: 受理 Accept").focus()
    await agent.keyboard.press("Enter")
    await expect(agent.get_by_role("status")).to_contain_text("accept")
    await expect(agent.locator("h1")).to_contain_text("Triage")

    await agent.get_by_text("升级 Escalate", exact=True).click()
    await agent.get_by_role("button", name="Send: 升级 Escalate").click()
    refusal = agent.get_by_test_id("refusal")
    await expect(refusal).to_contain_text("condition not met")
    await expect(refusal).to_contain_text("event 'escalate' in stage 'triage'")
    await agent.screenshot(path=screenshot_path("case-refused"), full_page=True)
    view = await harness.kesu.get_case(case_id)
    assert view.state.stage == "triage"

    supervisor = await signed_in(browser, console, "supervisor-token")
    number = (await http_json(console, f"/cases/{case_id}"))["case_number"]
    await supervisor.goto(f"{console}/console/cases/{number}")  # case numbers work in the URL
    await expect(supervisor.get_by_test_id("case-number")).to_have_text(number)
    await expect(supervisor.locator('[data-field="customer_name"]')).to_have_text("张女士")
    await supervisor.screenshot(path=screenshot_path("case-supervisor"), full_page=True)

    await supervisor.get_by_role("link", name="Reports").click()
    await expect(supervisor.get_by_role("heading", name="Deadline compliance")).to_be_visible()
    await supervisor.screenshot(path=screenshot_path("reports"), full_page=True)
    await supervisor.get_by_role("link", name="Processes").click()
    await expect(supervisor.locator("#p-complaint")).to_contain_text("Customer complaint")
    await expect(supervisor.locator("#process-complaint details.version svg").first).to_be_visible()
    await supervisor.screenshot(path=screenshot_path("definitions"), full_page=True)
    for page in (agent, supervisor):
        await page.close()


async def test_pages_need_a_session_and_forms_need_its_token(
    console: str, harness: Harness, unique_key: str
) -> None:
    started = await harness.kesu.start_case(
        "complaint", {"customer_id": "C-1"}, key=f"csrf-{unique_key}", roles=["agent"]
    )
    async with httpx.AsyncClient(base_url=console, timeout=30) as http:
        response = await http.get("/console/cases")
        assert response.status_code == 303 and response.headers["location"] == "/console/login"
        refused = await http.post("/console/login", data={"token": "not-a-token"})
        assert refused.status_code == 401 and "令牌无效" in refused.text  # unknown token
        signed = await http.post("/console/login", data={"token": "agent-token"})
        assert signed.status_code == 303
        cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        # A forged form (no CSRF token) changes nothing.
        forged = await http.post(f"/console/cases/{started.case_id}/events/accept", data={})
        assert forged.status_code == 303 and forged.headers["location"] == "/console/login"
        view = await harness.kesu.get_case(started.case_id)
        assert view.state.stage == "intake"
        opened = (await harness.kesu.get_case(started.case_id)).state.opened_at
        listed = await http.get(f"/console/cases?opened_from={opened:%Y-%m-%d}")
        assert started.case_id in listed.text
        before = await http.get(f"/console/cases?opened_until={opened.year - 1}-12-31")
        assert started.case_id not in before.text
        api = await http.get("/cases?opened_until=2000-01-01T00:00:00Z", headers=AGENT)
        assert api.status_code == 200 and api.json()["cases"] == []
        await harness.kesu.send_event(started.case_id, "accept", roles=["agent"])
        await harness.kesu.send_event(
            started.case_id, "assign", roles=["agent"], data={"assignee": "赵磊"}
        )
        mine = await http.get("/console/cases", params={"assignee": "赵磊"})
        assert started.case_id in mine.text
        others = await http.get("/console/cases", params={"assignee": "nobody"})
        assert started.case_id not in others.text
        chinese = await http.get(f"/console/cases/{started.case_id}")
        assert (
            "案件信息" in chinese.text
        )  # Chinese unless the browser or the cookie asks for English
        report = await http.get("/console/reports.csv")
        assert report.status_code == 200 and report.headers["content-type"].startswith("text/csv")
        assert "complaint" in report.text
        this_year = await http.get("/console/reports?since=2026-01-01&until=2099-12-31")
        assert this_year.status_code == 200 and 'value="2026-01-01"' in this_year.text
        long_ago = await http.get("/console/reports.csv?until=2000-01-01")
        assert "complaint" not in long_ago.text  # no case opened before 2000
