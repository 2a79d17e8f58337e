"""``GET /overdue`` on a real server over the case database (no Temporal needed)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy.orm import Session, sessionmaker

from bench.case_records import generate
from service.cases import Kesu
from service.overdue import overdue_page
from tests.api_support import AGENT, api_client

NO_TEMPORAL = cast(Kesu, object())  # the route reads the records only


async def test_pages_of_overdue_cases(session_factory: sessionmaker[Session]) -> None:
    generate(session_factory.kw["bind"], 150, batch_size=150)
    with session_factory() as session:
        wanted = overdue_page(session, datetime.now(UTC), page_size=500).cases
    async with api_client(NO_TEMPORAL, records=session_factory) as http:
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {"page_size": 4}
        while True:
            answer = await http.get("/overdue", params=params, headers=AGENT)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert len(body["cases"]) <= 4
            found += body["cases"]
            if body["next_page_token"] is None:
                break
            params["page_token"] = body["next_page_token"]
        assert [row["case_id"] for row in found] == [case.case_id for case in wanted]
        assert found[0]["clock"] == wanted[0].clock and "fields" not in found[0]
        other = await http.get("/overdue", params={**params, "process": "complaint"}, headers=AGENT)
        assert other.status_code == 422 and "page token" in other.text
        assert (
            await http.get("/overdue", params={"page_size": 0}, headers=AGENT)
        ).status_code == 422
        assert (await http.get("/overdue")).status_code == 401


async def test_without_the_case_database_there_is_no_overdue_route() -> None:
    async with api_client(NO_TEMPORAL) as http:
        assert (await http.get("/overdue", headers=AGENT)).status_code == 404
        assert "/overdue" not in (await http.get("/openapi.json")).json()["paths"]
