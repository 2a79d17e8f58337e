"""A real headless Chromium for page tests: Debian's ``chromium``, driven by Playwright.

Playwright never downloads a browser here: it is pointed at the system's Chromium
(``KESU_CHROMIUM``, else ``chromium`` on the PATH). Without one the page tests skip with the
reason, and fail under ``KESU_REQUIRE_SERVICES=1`` (CI installs it: ``make browser``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from playwright.async_api import Browser, async_playwright

from tests.services import require_service

CHROMIUM_ENV = "KESU_CHROMIUM"
ARTIFACTS = Path(__file__).parent.parent / "test-artifacts"
"""Where page tests leave their pages and screenshots (git-ignored): look at them after a run."""


def chromium_path() -> str:
    found = os.environ.get(CHROMIUM_ENV) or shutil.which("chromium")
    if not found:
        require_service(
            "chromium", "Debian's chromium is not installed (make test installs it: make browser)"
        )
    return found


@pytest_asyncio.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path()
    async with async_playwright() as playwright:
        # Debian's browser, never one Playwright downloads; no sandbox when tests run as root.
        launched = await playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield launched
        finally:
            await launched.close()


def artifacts(area: str) -> Path:
    folder = ARTIFACTS / area
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot_path(name: str, area: str = "console") -> Path:
    return artifacts(area) / f"{name}.png"
