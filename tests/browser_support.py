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
SCREENSHOTS = Path(__file__).parent.parent / "build" / "screenshots"
"""Where page tests leave their screenshots (git-ignored): look at them after a run."""


def chromium_path() -> str:
    found = os.environ.get(CHROMIUM_ENV) or shutil.which("chromium")
    if not found:
        require_service("chromium", "no Chromium: `make browser` installs Debian's package")
    return found


@pytest_asyncio.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
        )
        yield launched
        await launched.close()


def screenshot_path(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"
