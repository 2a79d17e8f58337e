"""Early warning (投诉预防) on a real Temporal dev server: cases opened through kesu are counted
as their opening steps are stored, and the window's warning is delivered exactly once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from activities.storage import OutboxRow, list_warnings
from activities.storage.warnings import count_in_window
from process.compiler import CompiledSpec
from process.warnings import WarningRule, WarningRules
from tests.temporal_support import running_harness, sqlite_url

pytestmark = pytest.mark.temporal

RULES = WarningRules(
    {
        "cards": WarningRule(
            processes=["complaint"], count_by="category", values=["card"], at_least=3,
            window="7d", notify=["manager"],
        )
    }
)  # fmt: skip


async def test_opening_n_cases_delivers_exactly_one_warning(
    temporal_env: WorkflowEnvironment, tmp_path: Path, specs: dict[str, CompiledSpec]
) -> None:
    url = sqlite_url(tmp_path)
    async with running_harness(temporal_env.client, url, specs, warnings=RULES) as h:
        for n in range(5):
            fields = {"customer_id": f"C-{n}", "category": "card"}
            await h.kesu.start_case(
                "complaint", fields, key=f"card-{n}", roles=["agent"], stored=True
            )
        await h.kesu.start_case("complaint", {"customer_id": "C-9", "category": "loan"},
                                roles=["agent"], stored=True)  # fmt: skip

        def warnings_sent() -> list[tuple[str, str, str]]:
            with h.sessions() as session:
                query = select(OutboxRow).where(OutboxRow.template == "early_warning")
                return [(r.recipient, r.status, r.case_id) for r in session.scalars(query)]

        # Every opening step is stored by now (``stored=True``), so the five are counted;
        # the message goes out with the third case's delivery.
        for _ in range(200):
            sent = warnings_sent()
            if sent and all(status == "delivered" for _, status, _ in sent):
                break
            await asyncio.sleep(0.1)
        assert len(warnings_sent()) == 1
        recipient, status, case_id = warnings_sent()[0]
        assert (recipient, status) == ("manager", "delivered")
        with h.sessions() as session:
            (raised,) = list_warnings(session)
            assert (raised.rule, raised.key, raised.count, raised.case_id) == (
                "cards", "card", 3, case_id,
            )  # fmt: skip
            assert count_in_window(session, "cards", "card", raised.window_start) == 5
