"""The Temporal Web UI shows kesu's encrypted payloads decoded, for a person signed in to
kesu's console in a role that may see customer data, in a real headless Chromium.

The embedded dev server runs its Web UI with ``--ui-codec-endpoint`` pointing at the API's
``/console/codec``. That setting alone makes the UI call the codec without credentials (the
dev server cannot set the UI's "include cross-origin credentials"), so nothing is decoded; the
person turns on the browser's own codec setting with that option (the UI keeps it in local
storage), and the console's SameSite=Strict session cookie then goes from the UI's origin to
the API's: same site (the host), another origin (the port). Signed out, or signed in as an
agent, the page still shows the payloads encrypted.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from activities.keys import Keyring
from api import TokenTable
from api_server import CODEC_ORIGINS_ENV, codec_origins, web_ui_codec_endpoint
from process.compiler import CompiledSpec
from runtime import EmbeddedServer, SetupError, connect, embedded_temporal
from service.privacy import Privacy
from tests.api_support import TOKENS, api_app, codec_setup, serving
from tests.browser_support import browser, screenshot_path
from tests.temporal_support import running_harness, sqlite_url

__all__ = ["browser"]

pytestmark = pytest.mark.temporal

expect.set_options(timeout=30_000)

PROJECT = Path(__file__).parent.parent
EXAMPLE_TOKENS = PROJECT / "config" / "tokens.example.yaml"
NAME = "司马相如"
"""The customer's name: a field only a pii role may read."""


@dataclass
class Setup:
    ui: str
    """The Web UI's origin."""
    api: str
    case_id: str
    privacy: Privacy


def _bound_loopback_socket() -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    return listener


def _free_port() -> int:
    with _bound_loopback_socket() as probe:
        port: int = probe.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def web_ui_and_api(tmp_path: Path, specs: dict[str, CompiledSpec]) -> AsyncIterator[Setup]:
    keyring = Keyring([b"w" * 32])
    listener = _bound_loopback_socket()  # the API's port goes into the UI's codec setting
    api = f"http://127.0.0.1:{listener.getsockname()[1]}"
    async with embedded_temporal(
        tmp_path / "temporal",
        f"127.0.0.1:{_free_port()}",
        codec_endpoint=f"{api}/console/codec",
    ) as server:
        assert server.ui_url is not None
        ui = server.ui_url.removesuffix("/namespaces/default/workflows")
        client = await connect(server.address, "default", payload_key=keyring)
        async with running_harness(client, sqlite_url(tmp_path), specs, keyring=keyring) as h:
            setup = codec_setup(h.sessions, keyring, ui)
            app = api_app(h.kesu, records=h.sessions, tokens=TokenTable.of_tokens(TOKENS),
                          privacy=setup)  # fmt: skip
            async with serving(app, listener) as base:
                assert base == api
                fields = {"customer_id": "C-7", "customer_name": NAME, "phone": "13900002222"}
                started = await h.kesu.start_case("complaint", fields, roles=["agent"])
                yield Setup(ui, api, started.case_id, Privacy(h.sessions, specs))


async def _browser_context(browser: Browser, setup: Setup) -> BrowserContext:
    context = await browser.new_context(locale="en-US")
    context.set_default_timeout(30_000)
    return context


async def _sign_in(context: BrowserContext, setup: Setup, token: str) -> None:
    page = await context.new_page()
    await page.goto(f"{setup.api}/console/login")
    await page.get_by_label("Access token").fill(token)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(f"{setup.api}/console/cases")
    await page.close()


async def _use_browser_codec_setting(context: BrowserContext, setup: Setup) -> None:
    """What a person does once in the UI's Codec Server settings: this browser's endpoint
    instead of the server's, with "Include cross-origin credentials" on."""
    page = await context.new_page()
    await page.goto(f"{setup.ui}/namespaces/default/workflows")
    await page.get_by_role("button", name="Codec Server is configured").click()
    dialog = page.get_by_role("dialog", name="Codec Server")
    await dialog.get_by_text("Use my browser setting and ignore Cluster-level setting.").click()
    await dialog.get_by_role("textbox", name="Codec Server browser endpoint").fill(
        f"{setup.api}/console/codec"
    )
    switch = dialog.get_by_role("switch", name="Include cross-origin credentials")
    await dialog.get_by_text("Include cross-origin credentials", exact=True).click()
    await expect(switch).to_be_checked()
    await dialog.get_by_role("button", name="Apply").click()
    await expect(dialog).to_be_hidden()
    # Kept in the browser's local storage for the UI's origin (the server cannot set it).
    stored = await page.evaluate("() => localStorage.getItem('includeCredentials')")
    assert stored == "true"
    await page.close()


async def _input_shown(context: BrowserContext, setup: Setup, name: str) -> tuple[Page, int, str]:
    """The case's workflow page in the Web UI, once it has asked the codec to decode its
    input (the case's fields); the codec's answer status and the cookies the call sent."""
    page = await context.new_page()
    decode_call = page.expect_response(
        lambda answer: (
            answer.url.startswith(f"{setup.api}/console/codec/decode")
            and answer.request.method == "POST"
        )
    )
    async with decode_call as answered:
        await page.goto(f"{setup.ui}/namespaces/default/workflows/{setup.case_id}")
    answer = await answered.value
    status, sent = answer.status, await answer.request.all_headers()
    # What the UI's call says: the namespace, and (by the browser's referrer policy across
    # origins) only the UI's origin, not the workflow's page: it names no case itself.
    assert sent["x-namespace"] == "default" and sent.get("referer") == f"{setup.ui}/"
    await expect(page.get_by_role("textbox", name="Input")).to_contain_text('"')
    await page.screenshot(path=screenshot_path(name, "web-ui"), full_page=True)
    return page, status, sent.get("cookie", "")


async def test_the_web_ui_decodes_for_a_signed_in_pii_role_only(
    browser: Browser, tmp_path: Path, specs: dict[str, CompiledSpec]
) -> None:
    async with web_ui_and_api(tmp_path, specs) as setup:
        async with httpx.AsyncClient() as http:
            settings = (await http.get(f"{setup.ui}/api/v1/settings")).json()
        assert settings["Codec"]["Endpoint"] == f"{setup.api}/console/codec"
        assert settings["Codec"]["IncludeCredentials"] is False  # no dev server flag for it

        # The server's setting alone: the UI calls the codec without the cookie; refused.
        supervisor = await _browser_context(browser, setup)
        await _sign_in(supervisor, setup, "supervisor-token")
        page, status, cookies = await _input_shown(supervisor, setup, "without-credentials")
        assert status == 401 and "kesu_console" not in cookies
        assert NAME not in await page.get_by_role("textbox", name="Input").inner_text()
        await page.close()

        # With the browser's codec setting and its credentials: decoded, and recorded.
        await _use_browser_codec_setting(supervisor, setup)
        page, status, cookies = await _input_shown(supervisor, setup, "decoded-for-a-supervisor")
        # The SameSite=Strict cookie went along: same site (the host), another origin (port).
        assert status == 200 and "kesu_console=supervisor-token" in cookies
        await expect(page.get_by_role("textbox", name="Input")).to_contain_text(NAME)
        await page.screenshot(path=screenshot_path("decoded", "web-ui"), full_page=True)
        reads = setup.privacy.access_log(setup.case_id)
        assert reads and {(r.actor, r.channel) for r in reads} == {("李强", "web-ui")}
        assert all(re.fullmatch(r"\d+ payloads? decoded", r.fields[0]) for r in reads)
        await supervisor.close()

        # As an agent (no pii role), and signed out: the payloads stay encrypted.
        for token, refused in (("agent-token", 403), (None, 401)):
            context = await _browser_context(browser, setup)
            if token is not None:
                await _sign_in(context, setup, token)
            await _use_browser_codec_setting(context, setup)
            shown = await _input_shown(context, setup, f"encoded-{token or 'signed-out'}")
            page, status, _ = shown
            assert status == refused
            assert NAME not in await page.get_by_role("textbox", name="Input").inner_text()
            await context.close()
        assert {r.actor for r in setup.privacy.access_log(setup.case_id)} == {"李强"}


def test_the_ui_codec_endpoint_and_origins_an_operator_configures(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert web_ui_codec_endpoint("0.0.0.0", 8000) == "http://127.0.0.1:8000/console/codec"
    assert web_ui_codec_endpoint("10.0.0.5", 80) == "http://10.0.0.5:80/console/codec"
    assert web_ui_codec_endpoint("::1", 8000) == "http://[::1]:8000/console/codec"
    monkeypatch.setenv(CODEC_ORIGINS_ENV, "http://127.0.0.1:8233, https://ui.example.com")
    assert codec_origins() == ["http://127.0.0.1:8233", "https://ui.example.com"]
    for wrong in ("*", "http://127.0.0.1:8233/", "127.0.0.1:8233", "https://*.example.com"):
        monkeypatch.setenv(CODEC_ORIGINS_ENV, wrong)
        with pytest.raises(SetupError, match="is not an origin like"):
            codec_origins()


async def test_api_server_on_embedded_defaults_starts_the_ui_with_its_codec(
    tmp_path: Path,
) -> None:
    port = _free_port()
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TEMPORAL_", "KESU_"))  # embedded defaults, nothing configured
    }
    environment.update(KESU_DATA_DIR=str(tmp_path), KESU_API_TOKENS=str(EXAMPLE_TOKENS))
    log = tmp_path / "api.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [sys.executable, str(PROJECT / "api_server.py"), "--port", str(port)],
            cwd=PROJECT, env=environment, stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            for _ in range(1200):
                assert server.poll() is None, log.read_text(encoding="utf-8")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"the API did not start: {log.read_text(encoding='utf-8')}")
            embedded = EmbeddedServer.recorded(tmp_path)
            assert embedded is not None and embedded.ui_url is not None
            ui = embedded.ui_url.removesuffix("/namespaces/default/workflows")
            settings = (await http.get(f"{ui}/api/v1/settings")).json()
        assert settings["Codec"]["Endpoint"] == f"http://127.0.0.1:{port}/console/codec"
    finally:
        server.terminate()
        server.wait(timeout=60)
        leftover = EmbeddedServer.recorded(tmp_path)
        if leftover is not None and leftover.is_running():  # never leave a server behind
            os.kill(leftover.pid, signal.SIGKILL)
