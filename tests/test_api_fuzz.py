"""Schemathesis fuzzes the API against its own OpenAPI document: never a 5xx, every answer
as documented (status code, content type, body schema).

Bounded: a few dozen generated requests per operation, valid and invalid, derandomized so a
run is repeatable. The API runs on a real uvicorn server over a real Temporal dev server and
worker; the generated requests are sent from a thread while the event loop serves them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from temporalio.testing import WorkflowEnvironment

from process.compiler import CompiledSpec
from tests.api_support import SUPERVISOR, api_app, serving
from tests.temporal_support import running_harness, sqlite_url

pytestmark = pytest.mark.temporal

EXAMPLES_PER_OPERATION = 25
CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest_asyncio.fixture
async def base_url(
    temporal_env: WorkflowEnvironment, tmp_path: Path, specs: dict[str, CompiledSpec]
) -> AsyncIterator[str]:
    database = sqlite_url(tmp_path)
    async with (
        running_harness(temporal_env.client, database, specs) as harness,
        serving(api_app(harness.kesu)) as url,
    ):
        # The case the document's examples name, so the explicit phase reaches a real one.
        await harness.kesu.start_case(
            "complaint", {"customer_id": "C-42"}, key="crm-42", roles=["agent"]
        )
        yield url


def fuzz(document: dict[str, object], base_url: str) -> list[str]:
    """Run every operation in both modes; the failures, one line each."""
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    with requests.Session() as session:
        for result in schema.get_all_operations():
            if isinstance(result, Err):
                failures.append(f"the OpenAPI document is invalid: {result.err()}")
                continue
            operation = result.ok()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                @settings(
                    max_examples=EXAMPLES_PER_OPERATION,
                    deadline=None,
                    database=None,
                    derandomize=True,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
                @given(case=operation.as_strategy(generation_mode=mode))
                def run(case: Case[Any]) -> None:
                    case.call_and_validate(
                        base_url=base_url, session=session, headers=SUPERVISOR, checks=CHECKS
                    )

                try:
                    run()
                except Unsatisfiable:
                    pass  # no invalid request exists (an operation without parameters)
                except Exception as error:  # every operation's first failure, then report
                    failures.append(f"{operation.label} [{mode.value}]: {error}"[:3000])
    return failures


async def test_the_api_answers_fuzzed_requests_as_documented(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        document = (await client.get("/openapi.json")).json()
    failures = await asyncio.to_thread(fuzz, document, base_url)
    assert not failures, "\n\n".join(dict.fromkeys(failures))
