"""The HTTP API on a real uvicorn server, a real Temporal dev server and a worker.

A complaint is opened, moved through triage and read back over HTTP; every kind of mistake
answers 4xx JSON naming what is wrong.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.api_support import AGENT, DASHBOARD, HANDLER, SUPERVISOR, api_app, serving
from tests.temporal_support import Harness, eventually

pytestmark = pytest.mark.temporal


@pytest_asyncio.fixture
async def http(harness: Harness) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        serving(api_app(harness.kesu, body_limit=4096)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as client,
    ):
        yield client


async def open_complaint(http: httpx.AsyncClient, key: str, **fields: Any) -> str:
    body = {"process": "complaint", "fields": {"customer_id": "C-1", **fields}, "external_id": key}
    response = await http.post("/cases", json=body, headers=AGENT)
    assert response.status_code == 201, response.text
    case_id: str = response.json()["case_id"]
    return case_id


def refused(response: httpx.Response, status: int, *phrases: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "detail"}
    for phrase in phrases:
        assert phrase in body["detail"]
    detail: str = body["detail"]
    return detail


async def test_a_complaint_is_opened_triaged_and_read_back(
    http: httpx.AsyncClient, unique_key: str
) -> None:
    body = {
        "process": "complaint",
        "fields": {"customer_id": "C-1", "customer_name": "张女士", "category": "card"},
    }
    headers = {**AGENT, "Idempotency-Key": f"crm-{unique_key}"}
    first = await http.post("/cases", json=body, headers=headers)
    assert first.status_code == 201, first.text
    case_id = first.json()["case_id"]
    assert case_id == f"complaint-crm-{unique_key}"
    assert first.headers["location"] == f"/cases/{case_id}"
    again = await http.post("/cases", json=body, headers=headers)
    assert again.status_code == 200
    assert isinstance(again.json()["duplicates"], list)  # tests/test_merging_e2e.py
    assert again.json() | {"case_number": None, "duplicates": []} == {
        "case_id": case_id,
        "case_number": None,
        "created": False,
        "duplicates": [],
        "duplicates_note": None,
    }  # numbers: tests/test_api_operations.py

    accepted = await http.post(f"/cases/{case_id}/events/accept", headers=AGENT)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() | {"seq": 0, "case_number": None} == {
        "case_id": case_id, "case_number": None, "event": "accept", "seq": 0,
        "from_stage": "intake", "stage": "triage", "closed": False,
    }  # fmt: skip
    assigned = await http.post(
        f"/cases/{case_id}/events/assign", json={"data": {"assignee": "陈静"}}, headers=AGENT
    )
    assert assigned.json()["stage"] == "handling", assigned.text

    as_agent = (await http.get(f"/cases/{case_id}", headers=AGENT)).json()
    assert as_agent["stage"] == "handling"
    assert as_agent["fields"]["customer_name"] == "***" and as_agent["pii_masked"]
    assert as_agent["fields"]["assignee"] == "陈静"
    assert as_agent["timeline"][0]["data"]["customer_name"] == "***"
    assert [step["event"] for step in as_agent["timeline"]] == ["case.opened", "accept", "assign"]
    assert [step["actor"] for step in as_agent["timeline"][1:]] == ["王敏", "王敏"]
    clocks = {clock["name"]: clock for clock in as_agent["clocks"]}
    assert clocks["response"]["status"] == "stopped" and clocks["response"]["met"] is True
    assert clocks["resolution"]["status"] == "running" and clocks["resolution"]["due_at"]
    assert "submit_plan" in as_agent["allowed_events"]

    as_supervisor = (await http.get(f"/cases/{case_id}", headers=SUPERVISOR)).json()
    assert as_supervisor["fields"]["customer_name"] == "张女士"
    assert not as_supervisor["pii_masked"]


async def test_an_event_sent_twice_with_one_key_is_applied_once(
    http: httpx.AsyncClient, unique_key: str
) -> None:
    case_id = await open_complaint(http, f"twice-{unique_key}")
    headers = {**AGENT, "Idempotency-Key": f"accept-{unique_key}"}
    first = await http.post(f"/cases/{case_id}/events/accept", headers=headers)
    second = await http.post(f"/cases/{case_id}/events/accept", headers=headers)
    assert first.json() == second.json() and first.json()["stage"] == "triage"
    timeline = (await http.get(f"/cases/{case_id}", headers=AGENT)).json()["timeline"]
    assert [step["event"] for step in timeline] == ["case.opened", "accept"]
    differing = await http.post(
        f"/cases/{case_id}/events/assign", json={"event_id": "a"}, headers={**headers}
    )
    refused(differing, 422, "event_id and the Idempotency-Key header differ")


async def test_refusals_name_the_event_and_the_stage(
    http: httpx.AsyncClient, unique_key: str
) -> None:
    case_id = await open_complaint(http, f"refusals-{unique_key}")
    events = f"/cases/{case_id}/events"
    refused(
        await http.post(f"{events}/close", headers=SUPERVISOR),
        409,
        "event 'close' in stage 'intake': not allowed here (allowed: accept, withdraw)",
    )
    refused(
        await http.post(f"{events}/accept", headers=HANDLER),
        403,
        "event 'accept' in stage 'intake': needs role agent or supervisor",
    )
    refused(
        await http.post(f"{events}/accept", json={"data": {"severity": 3}}, headers=AGENT),
        422,
        "field 'severity'",
    )
    refused(
        await http.post(f"{events}/accept", json={"data": {"colour": "red"}}, headers=AGENT),
        422,
        "field 'colour': not an input of this event",
    )
    await http.post(f"{events}/accept", headers=AGENT)
    refused(
        await http.post(f"{events}/assign", headers=AGENT),
        422,
        "event 'assign' in stage 'triage': requires input 'assignee'",
    )
    refused(
        await http.post(f"{events}/escalate", headers=AGENT),
        409,
        "condition not met",
    )
    withdrawn = await http.post(f"{events}/withdraw", headers=AGENT)
    assert withdrawn.json()["closed"] is True
    refused(await http.post(f"{events}/accept", headers=AGENT), 409, "closed")
    refused(await http.get("/cases/complaint-no-such-case", headers=AGENT), 404, "no case")
    refused(await http.post("/cases/nope/events/accept", headers=AGENT), 404, "no case")


async def test_bad_requests_are_4xx_with_a_reason(http: httpx.AsyncClient) -> None:
    async def post(body: Any, headers: dict[str, str] = AGENT) -> httpx.Response:
        return await http.post("/cases", json=body, headers=headers)

    refused(await post({"process": "complant"}), 422, "unknown process 'complant'", "complaint")
    refused(await post({"process": "complaint", "feilds": {}}), 422, "body.feilds")
    refused(await post({"process": "complaint", "fields": []}), 422, "body.fields")
    refused(await post({"process": "complaint"}), 422, "customer_id: required")
    refused(
        await post({"process": "complaint", "fields": {"customer_id": "C", "amount": "很多"}}),
        422,
        "amount: expected a number",
    )
    refused(
        await post({"process": "complaint", "external_id": "has space"}),
        422,
        "body.external_id",
    )
    not_json = await http.post(
        "/cases", content=b"{not json", headers={**AGENT, "Content-Type": "application/json"}
    )
    refused(not_json, 422, "JSON")
    huge = {"process": "complaint", "fields": {"customer_id": "C", "description": "长" * 4000}}
    refused(await post(huge), 413, "larger than 4096 bytes")

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"process": "complaint", "fields": {"description": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}}'

    streamed = await http.post(
        "/cases", content=chunks(), headers={**AGENT, "Content-Type": "application/json"}
    )
    refused(streamed, 413, "larger than 4096 bytes")


async def test_callers_need_a_known_token(http: httpx.AsyncClient) -> None:
    missing = await http.get("/definitions")
    refused(missing, 401, "Authorization: Bearer")
    assert missing.headers["www-authenticate"] == "Bearer"
    refused(await http.get("/definitions", headers={"Authorization": "Bearer guess"}), 401)
    refused(await http.get("/definitions", headers={"Authorization": "Basic eDp5"}), 401)
    health = (await http.get("/healthz")).json()
    assert health["status"] == "ok"
    assert all("calendar 'cn-workdays'" in warning for warning in health["warnings"])


async def test_definitions_and_the_openapi_document_are_served(http: httpx.AsyncClient) -> None:
    definitions = {d["process"]: d for d in (await http.get("/definitions", headers=AGENT)).json()}
    complaint = definitions["complaint"]
    assert complaint["stages"]["intake"]["events"]["accept"]["roles"] == ["agent", "supervisor"]
    assert complaint["fields"]["customer_name"]["pii"] is True
    assert "supervisor" in complaint["pii_roles"]
    document = (await http.get("/openapi.json")).json()
    assert {"/cases", "/cases/{case_id}", "/cases/{case_id}/events/{event}"} <= set(
        document["paths"]
    )
    assert "bearer" in str(document["components"]["securitySchemes"]).lower()


async def test_cases_are_listed_by_search_attributes_a_page_at_a_time(
    http: httpx.AsyncClient, unique_key: str
) -> None:
    opened = {await open_complaint(http, f"list-{unique_key}-{n}") for n in range(3)}
    urgent = await open_complaint(http, f"urgent-{unique_key}", severity="urgent")

    async def pages(**query: Any) -> list[list[str]]:
        found: list[list[str]] = []
        token = None
        while True:
            params = {**query, **({"page_token": token} if token else {})}
            response = await http.get("/cases", params=params, headers=DASHBOARD)
            assert response.status_code == 200, response.text
            body = response.json()
            found.append([row["case_id"] for row in body["cases"]])
            token = body["next_page_token"]
            if token is None:
                return found

    async def all_listed() -> bool:
        listed = {case for page in await pages(process="complaint") for case in page}
        return opened | {urgent} <= listed

    await eventually(all_listed, "the new cases listed")
    paged = await pages(process="complaint", stage="intake", page_size=2)
    flat = [case for page in paged for case in page]
    assert len(paged) >= 2 and all(len(page) <= 2 for page in paged)
    assert len(flat) == len(set(flat)) and opened <= set(flat)

    # Triage decides the priority: an urgent complaint is listed as high once accepted.
    await http.post(f"/cases/{urgent}/events/accept", headers=AGENT)

    async def urgent_is_high() -> bool:
        return urgent in {case for page in await pages(priority="high") for case in page}

    await eventually(urgent_is_high, "the urgent case listed as high priority")
    high = {case for page in await pages(priority="high") for case in page}
    assert not opened & high
    refused(await http.get("/cases?stage=handlng", headers=DASHBOARD), 422, "unknown stage")
    refused(await http.get("/cases?priority=huge", headers=DASHBOARD), 422, "unknown priority")
    refused(await http.get("/cases?process=nope", headers=DASHBOARD), 422, "unknown process")
    refused(await http.get("/cases?page_token=%%%", headers=DASHBOARD), 422, "page_token")
    refused(await http.get("/cases?page_token=AAAA", headers=DASHBOARD), 422, "page token")
    refused(await http.get("/cases?page_size=0", headers=DASHBOARD), 422, "page_size")
