"""Diagrams over HTTP: a process's, and a case's with where it is and the path it took."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from tests.api_support import AGENT, DASHBOARD, api_client
from tests.temporal_support import Harness

pytestmark = pytest.mark.temporal


@pytest_asyncio.fixture
async def http(harness: Harness) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(harness.kesu) as client:
        yield client


async def test_a_process_diagram_in_each_format(http: httpx.AsyncClient) -> None:
    page = await http.get("/processes/complaint/diagram", headers=DASHBOARD)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.text.startswith("<!DOCTYPE html>") and "<script" not in page.text
    svg = await http.get("/processes/complaint/diagram?format=svg", headers=DASHBOARD)
    assert svg.headers["content-type"] == "image/svg+xml; charset=utf-8"
    assert svg.text.startswith("<svg") and 'data-stage="handling"' in svg.text
    current = await http.get("/processes/complaint/diagram?format=svg&version=4", headers=AGENT)
    assert current.status_code == 200 and current.text == svg.text
    mermaid = await http.get("/processes/service_request/diagram?format=mermaid", headers=AGENT)
    assert mermaid.headers["content-type"] == "text/plain; charset=utf-8"
    assert "intake --> handling: answer 应答 Answer" in mermaid.text


async def test_mistakes_are_4xx(http: httpx.AsyncClient) -> None:
    assert (await http.get("/processes/complaint/diagram")).status_code == 401
    unknown = await http.get("/processes/complain/diagram", headers=AGENT)
    assert unknown.status_code == 422 and "unknown process 'complain'" in unknown.json()["detail"]
    bad = await http.get("/processes/complaint/diagram?format=png", headers=AGENT)
    assert bad.status_code == 422
    older = await http.get("/processes/complaint/diagram?version=99", headers=AGENT)
    assert older.status_code == 404 and "no published version 99" in older.json()["detail"]
    missing = await http.get("/cases/complaint-nobody/diagram", headers=AGENT)
    assert missing.status_code == 404


async def test_a_case_diagram_highlights_its_stage_and_path(
    http: httpx.AsyncClient, unique_key: str
) -> None:
    body = {"process": "complaint", "fields": {"customer_id": "C-1", "customer_name": "张女士"}}
    opened = await http.post(
        "/cases", json={**body, "external_id": f"dia-{unique_key}"}, headers=AGENT
    )
    case_id = opened.json()["case_id"]
    await http.post(f"/cases/{case_id}/events/accept", headers=AGENT)
    assigned = await http.post(
        f"/cases/{case_id}/events/assign", json={"data": {"assignee": "陈静"}}, headers=AGENT
    )
    assert assigned.json()["stage"] == "handling", assigned.text

    svg = await http.get(f"/cases/{case_id}/diagram?format=svg", headers=DASHBOARD)
    assert svg.status_code == 200, svg.text
    assert '<g class="stage current" data-stage="handling">' in svg.text
    assert "张女士" not in svg.text  # a picture of the process, never the customer's data
    page = await http.get(f"/cases/{case_id}/diagram", headers=DASHBOARD)
    assert f"case {case_id} (open)" in page.text
    mermaid = await http.get(f"/cases/{case_id}/diagram?format=mermaid", headers=DASHBOARD)
    assert "class handling current" in mermaid.text
    assert "class intake,triage visited" in mermaid.text
