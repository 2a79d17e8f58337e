"""API details integrators rely on: strict query strings, named operations, case numbers,
offline docs, the token file read again, 401 before anything else, reassignment, health."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from activities.storage import OutboxRow, OutboxStatus, make_engine, make_session_factory
from api.access import ReloadingTokens
from api.auth import hash_token
from api_server import load_tokens
from tests.api_support import AGENT, DASHBOARD, SUPERVISOR, api_app, api_client, serving
from tests.temporal_support import Harness

pytestmark = pytest.mark.temporal


@pytest_asyncio.fixture
async def http(harness: Harness) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(harness.kesu, records=harness.sessions) as client:
        yield client


async def assigned_case(http: httpx.AsyncClient, key: str) -> tuple[str, str]:
    """A complaint in handling, assigned to 陈静; (case id, case number)."""
    body = {"process": "complaint", "fields": {"customer_id": "C-1"}, "external_id": key}
    case_id = (await http.post("/cases", json=body, headers=AGENT)).json()["case_id"]
    await http.post(f"/cases/{case_id}/events/accept", headers=AGENT)
    answer = await http.post(
        f"/cases/{case_id}/events/assign", json={"data": {"assignee": "陈静"}}, headers=AGENT
    )
    number = answer.json()["case_number"]
    assert re.fullmatch(r"CP-\d{4}-\d{6}", number), answer.text
    return case_id, number


async def test_unknown_query_parameters_are_refused(http: httpx.AsyncClient) -> None:
    answer = await http.get("/cases?assignee=陈静&stage=handling", headers=DASHBOARD)
    assert answer.status_code == 422
    assert "unknown query parameter 'assignee'" in answer.json()["detail"]
    assert "stage" in answer.json()["detail"]  # the known ones are named
    assert (await http.get("/cases?stage=handling", headers=DASHBOARD)).status_code == 200


async def test_case_numbers_go_where_case_ids_go(http: httpx.AsyncClient, unique_key: str) -> None:
    case_id, number = await assigned_case(http, unique_key)
    by_number = (await http.get(f"/cases/{number}", headers=AGENT)).json()
    assert (by_number["case_id"], by_number["case_number"]) == (case_id, number)
    event = await http.post(
        f"/cases/{number}/events/submit_plan", json={"data": {"plan": "退款"}}, headers=SUPERVISOR
    )
    assert event.status_code == 200, event.text
    assert (event.json()["case_id"], event.json()["case_number"]) == (case_id, number)
    listed = (await http.get("/cases?stage=handling&page_size=200", headers=DASHBOARD)).json()
    for _ in range(50):  # visibility lags a moment behind a change
        if any(row["case_id"] == case_id for row in listed["cases"]):
            break
        await asyncio.sleep(0.2)
        listed = (await http.get("/cases?stage=handling&page_size=200", headers=DASHBOARD)).json()
    row = next(row for row in listed["cases"] if row["case_id"] == case_id)
    assert row["case_number"] == number


async def test_reassign_endpoint(http: httpx.AsyncClient, unique_key: str) -> None:
    case_id, number = await assigned_case(http, unique_key)
    move = {"from_assignee": "陈静", "to_assignee": "李娜", "reason": "休假"}
    forbidden = await http.post(f"/cases/{case_id}/reassign", json=move, headers=AGENT)
    assert forbidden.status_code == 403 and "needs role manager or supervisor" in forbidden.text
    moved = await http.post(f"/cases/{number}/reassign", json=move, headers=SUPERVISOR)
    assert moved.status_code == 200, moved.text
    assert moved.json()["event"] == "case.reassigned" and moved.json()["case_id"] == case_id
    again = await http.post(f"/cases/{case_id}/reassign", json=move, headers=SUPERVISOR)
    assert again.status_code == 409 and "assigned to '李娜', not '陈静'" in again.text
    view = (await http.get(f"/cases/{case_id}", headers=AGENT)).json()
    assert view["fields"]["assignee"] == "李娜"


async def test_admin_operations_name_the_role_they_need(
    http: httpx.AsyncClient, unique_key: str
) -> None:
    case_id, _ = await assigned_case(http, unique_key)
    repair = await http.post(f"/cases/{case_id}/repair", json={"reason": "修好了"}, headers=AGENT)
    assert repair.status_code == 403
    assert f"repairing case {case_id}: needs role admin; " in repair.json()["detail"]
    upgrade = await http.post(
        "/processes/complaint/upgrade", json={"from_version": 1, "to_version": 2}, headers=AGENT
    )
    assert upgrade.status_code == 403
    assert "upgrading complaint cases: needs role admin; " in upgrade.json()["detail"]


async def test_operations_have_names(http: httpx.AsyncClient) -> None:
    document = (await http.get("/openapi.json")).json()
    names = {op["operationId"] for path in document["paths"].values() for op in path.values()}
    assert {"start_case", "send_event", "get_case", "list_cases", "reassign_case"} <= names


async def test_docs_work_offline(http: httpx.AsyncClient) -> None:
    page = await http.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(source.startswith("/docs/assets/") for source in sources), sources
    assert "cdn" not in page.text.lower()
    for source in sources:
        assert (await http.get(source)).status_code == 200, source


async def test_no_token_is_401_before_the_body_is_read(http: httpx.AsyncClient) -> None:
    broken = {"Content-Type": "application/json"}
    answer = await http.post("/cases", content=b"{not json", headers=broken)
    assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"
    unknown = await http.post(
        "/cases", content=b"{", headers={**broken, "Authorization": "Bearer x"}
    )
    assert unknown.status_code == 401 and unknown.json()["detail"] == "unknown token"
    with_token = await http.post("/cases", content=b"{not json", headers={**broken, **AGENT})
    assert with_token.status_code == 422
    assert (await http.get("/healthz")).status_code == 200  # public


async def test_metrics_on_the_api_port(
    http: httpx.AsyncClient, harness: Harness, unique_key: str
) -> None:
    await http.post("/cases/no-such-case/events/accept", headers=AGENT)
    body = {"process": "complaint", "fields": {"customer_id": "C-1"}, "external_id": unique_key}
    case_id = (await http.post("/cases", json=body, headers=AGENT)).json()["case_id"]
    its_messages = select(OutboxRow).where(OutboxRow.case_id == case_id)
    for _ in range(300):  # its acknowledgement delivered: no deliverer touches it again
        with harness.sessions() as session:
            rows = session.scalars(its_messages).all()
        if rows and all(row.status == OutboxStatus.DELIVERED.value for row in rows):
            break
        await asyncio.sleep(0.1)
    with harness.sessions.begin() as session:
        session.execute(
            update(OutboxRow)
            .where(OutboxRow.case_id == case_id)
            .values(status=OutboxStatus.DEAD.value)
        )
        dead = session.scalar(
            select(func.count()).where(OutboxRow.status == OutboxStatus.DEAD.value)
        )
    assert dead

    scraped = await http.get("/metrics")
    assert scraped.status_code == 200 and "kesu_events_refused_total" in scraped.text
    assert f'kesu_outbox_messages{{status="dead"}} {float(dead)}' in scraped.text
    assert 'kesu_outbox_messages{status="pending"}' in scraped.text
    assert "kesu_database_up 1.0" in scraped.text
    assert scraped.text.count("# TYPE kesu_outbox_messages gauge") == 1


async def test_health_covers_the_records_database(harness: Harness, tmp_path: Path) -> None:
    empty: sessionmaker[Session] = make_session_factory(make_engine(f"sqlite:///{tmp_path}/x.db"))
    app = api_app(harness.kesu, records=empty)  # a database without kesu's tables
    async with serving(app) as url, httpx.AsyncClient(base_url=url) as http:
        answer = await http.get("/healthz")
    assert answer.status_code == 503 and "records database" in answer.json()["detail"]


def test_the_token_file_is_read_again_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "tokens.yaml"
    entry = "tokens: [{actor: 王敏, roles: [agent], sha256: %s}]"
    path.write_text(entry % hash_token("first"), encoding="utf-8")
    tokens = ReloadingTokens(path, load_tokens)
    assert tokens.principal("first") is not None and tokens.principal("second") is None
    path.write_text(entry % hash_token("second") + "\n", encoding="utf-8")
    os.utime(path, ns=(1, 1))  # a new stamp even on a coarse clock
    assert tokens.principal("second") is not None and tokens.principal("first") is None
    path.write_text("tokens: [", encoding="utf-8")  # a broken edit keeps the last good table
    assert tokens.principal("second") is not None
