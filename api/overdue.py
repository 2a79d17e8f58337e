"""``GET /overdue``: the open cases past a deadline, from the case database, a page at a time.

Served by ``service.overdue`` through the index of running clocks' due times, so a page costs
about the same however many cases the database holds. Without the records database there is
no such route (nothing to read it from). ``GET /cases?overdue=true`` still lists through
Temporal's visibility store (breached at any time, with search attributes); this reads the
records.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import FastAPI, Query
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from service.overdue import OverdueCase, overdue_listing

from . import models, views
from .deps import Caller, error_responses

MAX_OVERDUE_PAGE = 200


class OverdueRow(BaseModel):
    case_id: str
    case_number: str | None
    process: str
    stage: str
    clock: str
    """The clock due first of those past due."""
    due_at: datetime
    breached: bool
    """The breach is recorded (false: past due, the worker has not recorded it yet)."""


class OverdueList(BaseModel):
    cases: list[OverdueRow]
    next_page_token: str | None
    """Pass as ``page_token`` with the same filters for the next page; null on the last."""


def install(app: FastAPI, records: sessionmaker[Session] | None) -> None:
    if records is None:
        return
    sessions = records

    @app.get(
        "/overdue",
        response_model=OverdueList,
        responses=error_responses(),
        tags=["cases"],
    )
    async def list_overdue(
        who: Caller,
        process: Annotated[str | None, Query(max_length=models.MAX_NAME)] = None,
        page_size: Annotated[int, Query(ge=1, le=MAX_OVERDUE_PAGE)] = 50,
        page_token: Annotated[str | None, Query(max_length=4096)] = None,
    ) -> OverdueList:
        """Open cases past a deadline, most overdue first, from the case database."""
        token = views.decode_page_token(page_token)

        def read() -> tuple[list[OverdueCase], bytes | None]:
            with sessions() as session:
                now = datetime.now(UTC)
                return overdue_listing(
                    session, now, process=process, page_size=page_size, page_token=token
                )

        cases, next_token = await run_in_threadpool(read)
        return OverdueList(
            cases=[OverdueRow(**vars(case)) for case in cases],
            next_page_token=views.encode_page_token(next_token),
        )
