"""Hostile calls to the HTTP API: every one is refused with a 4xx naming what is wrong, and
changes nothing.

An event may bring only the fields it declares, a read-only token changes nothing, and values
no database can keep (NUL, lone surrogates, NaN, infinities, numbers past 64 bits) are refused
at the door instead of wedging the case in storage.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.api_support import AGENT, DASHBOARD, SUPERVISOR, api_client
from tests.temporal_support import Harness
from tests.test_api import open_complaint, refused

pytestmark = pytest.mark.temporal


@pytest_asyncio.fixture
async def http(harness: Harness) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(harness.kesu) as client:
        yield client


def raw(text: str) -> dict[str, Any]:
    """A body sent byte for byte: JSON that a careful client library would not write."""
    return {
        "content": text.encode("utf-8"),
        "headers": {**AGENT, "Content-Type": "application/json"},
    }


async def test_an_event_changes_only_the_fields_it_declares(
    http: httpx.AsyncClient, unique_key: str
) -> None:
    case_id = await open_complaint(http, f"overwrite-{unique_key}", customer_name="张女士")
    before = (await http.get(f"/cases/{case_id}", headers=SUPERVISOR)).json()["fields"]
    smuggled = {"responsibility": "none", "assignee": "随便", "customer_name": "改名", "csat": 5}
    detail = refused(
        await http.post(f"/cases/{case_id}/events/accept", json={"data": smuggled}, headers=AGENT),
        422,
        "event 'accept' in stage 'intake': field 'responsibility', 'assignee', 'customer_name',"
        " 'csat': not an input of this event (inputs: none)",
    )
    assert "改名" not in detail and "随便" not in detail
    after = (await http.get(f"/cases/{case_id}", headers=SUPERVISOR)).json()
    assert after["fields"] == before and after["stage"] == "intake"
    assert [step["event"] for step in after["timeline"]] == ["case.opened"]
    # A declared input is still taken: assign declares assignee.
    await http.post(f"/cases/{case_id}/events/accept", headers=AGENT)
    refused(
        await http.post(
            f"/cases/{case_id}/events/assign",
            json={"data": {"assignee": "陈静", "customer_name": "改名"}},
            headers=AGENT,
        ),
        422,
        "field 'customer_name': not an input of this event"
        " (inputs: assignee, assignee_branch, conflict_justification)",
    )
    assigned = await http.post(
        f"/cases/{case_id}/events/assign", json={"data": {"assignee": "陈静"}}, headers=AGENT
    )
    assert assigned.status_code == 200, assigned.text


async def test_a_read_only_token_changes_nothing(http: httpx.AsyncClient, unique_key: str) -> None:
    body = {"process": "complaint", "fields": {"customer_id": "C-1"}}
    refused(
        await http.post(
            "/cases", json={**body, "external_id": f"ro-{unique_key}"}, headers=DASHBOARD
        ),
        403,
        "'看板' acts as viewer: read-only, it cannot change cases",
    )
    case_id = await open_complaint(http, f"ro2-{unique_key}")
    for event in ("withdraw", "accept"):
        refused(await http.post(f"/cases/{case_id}/events/{event}", headers=DASHBOARD), 403)
    view = await http.get(f"/cases/{case_id}", headers=DASHBOARD)
    assert view.status_code == 200 and view.json()["stage"] == "intake"
    assert [step["event"] for step in view.json()["timeline"]] == ["case.opened"]
    # Whom the definition lets open a case: a handler may not open a complaint.
    from tests.api_support import HANDLER

    refused(
        await http.post("/cases", json=body, headers=HANDLER),
        403,
        "opening a complaint case needs role agent or supervisor or customer; '陈静' acts as"
        " handler",
    )


@pytest.mark.parametrize(
    ("body", "phrase"),
    [
        ('{"description": "a\\u0000b"}', "description: contains a NUL character"),
        ('{"description": "\\ud800"}', "description: contains a lone surrogate"),
        ('{"customer_name": "\\udfff张"}', "customer_name: contains a lone surrogate"),
        ('{"amount": NaN}', "amount: not a finite number"),
        ('{"amount": Infinity}', "amount: not a finite number"),
        ('{"amount": -Infinity}', "amount: not a finite number"),
        ('{"amount": 1e999}', "amount: not a finite number"),
        ('{"amount": 100000000000000000000000}', "amount: out of range"),
        ('{"\\u0000": 1}', "unknown field"),
    ],
    ids=["nul", "surrogate", "pii-surrogate", "nan", "inf", "-inf", "1e999", "huge", "nul-key"],
)
async def test_unstorable_values_are_refused_when_a_case_opens(
    http: httpx.AsyncClient, body: str, phrase: str
) -> None:
    fields = json.loads(body)
    text = '{"process": "complaint", "fields": ' + body[:-1] + ', "customer_id": "C-1"}}'
    assert json.loads(text)["fields"].keys() == {*fields, "customer_id"}
    refused(await http.post("/cases", **raw(text)), 422, phrase)


async def test_unstorable_values_are_refused_in_events_and_ids(
    http: httpx.AsyncClient, unique_key: str
) -> None:
    case_id = await open_complaint(http, f"nul-{unique_key}")
    events = f"/cases/{case_id}/events"
    await http.post(f"{events}/accept", headers=AGENT)
    refused(
        await http.post(f"{events}/assign", **raw('{"data": {"assignee": "陈\\u0000静"}}')),
        422,
        "field 'assignee': contains a NUL character",
    )
    refused(
        await http.post(f"{events}/assign", **raw('{"data": {"assignee": "\\ud83d"}}')),
        422,
        "field 'assignee': contains a lone surrogate",
    )
    refused(
        await http.post(
            "/cases", **raw('{"process": "complaint", "external_id": "k\\u0000", "fields": {}}')
        ),
        422,
        "external_id",
    )
    refused(
        await http.post(
            f"{events}/assign", **raw('{"data": {"assignee": "x"}, "event_id": "\\ud800"}')
        ),
        422,
    )
    view = (await http.get(f"/cases/{case_id}", headers=AGENT)).json()
    assert view["stage"] == "triage"
    assert [step["event"] for step in view["timeline"]] == ["case.opened", "accept"]
