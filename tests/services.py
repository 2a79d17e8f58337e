"""Skipping tests whose external service (PostgreSQL, Temporal) is not available.

On a developer machine a missing service skips its tests. CI sets ``KESU_REQUIRE_SERVICES=1``,
and there a missing service fails the run instead: a suite that silently skipped the database
tests must not pass as green.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

REQUIRE_SERVICES_ENV = "KESU_REQUIRE_SERVICES"


def services_required() -> bool:
    return os.environ.get(REQUIRE_SERVICES_ENV) == "1"


def require_service(name: str, reason: str) -> NoReturn:
    """Skip the current test because ``name`` is unavailable, or fail it when CI requires it."""
    if services_required():
        pytest.fail(f"{name} is required ({REQUIRE_SERVICES_ENV}=1): {reason}", pytrace=False)
    pytest.skip(reason)
