"""Duplicates, merging and groups over HTTP: ``POST /cases`` answers a new case's possible
duplicates, ``POST /cases/{id}/merge`` needs a role of the definition's ``merging.roles`` and
refuses with 4xx, and a group's plan shows in each case's view and in listings."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from tests.api_support import AGENT, SUPERVISOR, api_client
from tests.temporal_support import Harness

pytestmark = pytest.mark.temporal


@pytest_asyncio.fixture
async def http(harness: Harness) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(harness.kesu, records=harness.sessions) as client:
        yield client


async def test_merge_and_group_over_http(http: httpx.AsyncClient, unique_key: str) -> None:
    body = {
        "process": "complaint",
        "fields": {"customer_id": f"C-{unique_key}", "category": "card"},
    }
    first = (await http.post("/cases", json=body, headers=AGENT)).json()
    assert first["duplicates"] == [] and first["duplicates_note"] is None
    second = (await http.post("/cases", json=body, headers=AGENT)).json()
    assert [case["case_id"] for case in second["duplicates"]] == [first["case_id"]]
    assert second["duplicates"][0]["case_number"] == first["case_number"]
    service = {"process": "service_request", "fields": {"customer_id": "C-1"}}
    assert (await http.post("/cases", json=service, headers=AGENT)).json()["duplicates"] is None

    duplicate, primary = second["case_id"], first["case_id"]
    merge = {"into": first["case_number"], "reason": "同一笔扣费"}
    forbidden = await http.post(f"/cases/{duplicate}/merge", json=merge, headers=AGENT)
    assert forbidden.status_code == 403, forbidden.text
    itself = await http.post(f"/cases/{primary}/merge", json=merge, headers=SUPERVISOR)
    assert itself.status_code == 422 and "into itself" in itself.json()["detail"]
    merged = await http.post(f"/cases/{duplicate}/merge", json=merge, headers=SUPERVISOR)
    assert merged.status_code == 200, merged.text
    assert merged.json()["duplicate"]["stage"] == "merged"
    assert merged.json()["primary"]["event"] == "case.duplicate_linked"
    back = {"into": duplicate, "reason": "x"}
    cycle = await http.post(f"/cases/{primary}/merge", json=back, headers=SUPERVISOR)
    assert cycle.status_code == 409 and "a cycle" in cycle.json()["detail"]
    shown = (await http.get(f"/cases/{duplicate}", headers=SUPERVISOR)).json()
    assert (shown["merged_into"], shown["closed"]) == (primary, True)
    assert (await http.get(f"/cases/{primary}", headers=SUPERVISOR)).json()["duplicates"] == [
        duplicate
    ]

    new = {"process": "complaint", "plan": "统一退还重复扣费", "title": "POS 重复扣费"}
    assert (await http.post("/groups", json=new, headers=AGENT)).status_code == 403
    created = await http.post("/groups", json=new, headers=SUPERVISOR)
    assert created.status_code == 201, created.text
    group = created.json()["group_id"]
    added = await http.post(f"/groups/{group}/cases", json={"case_id": primary}, headers=SUPERVISOR)
    assert added.status_code == 200 and added.json()["event"] == "case.grouped", added.text
    closed = await http.post(
        f"/groups/{group}/cases", json={"case_id": duplicate}, headers=SUPERVISOR
    )
    assert closed.status_code == 409, closed.text
    view = (await http.get(f"/cases/{primary}", headers=SUPERVISOR)).json()
    assert (view["group"], view["group_plan"]) == (group, "统一退还重复扣费")
    found = (await http.get(f"/groups/{group}", headers=AGENT)).json()
    assert [case["case_id"] for case in found["cases"]] == [primary]
    assert (await http.get("/groups/G-NONE", headers=AGENT)).status_code == 404

    # The console's case page shows the same links.
    signed = await http.post("/console/login", data={"token": "supervisor-token"})
    assert signed.status_code == 303
    page = (await http.get(f"/console/cases/{primary}")).text
    assert f'href="/console/cases/{duplicate}"' in page and "统一退还重复扣费" in page
    merged_page = (await http.get(f"/console/cases/{duplicate}")).text
    assert "已合并至" in merged_page and f'href="/console/cases/{primary}"' in merged_page
