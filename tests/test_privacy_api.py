"""Customer data protection over HTTP: unmasked reads recorded, destruction by two people, and
the Temporal codec endpoint used by the stock ``temporal`` CLI."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from activities.keys import Keyring
from api import Principal, TokenTable
from process.compiler import CompiledSpec
from runtime import connect, temporal_binary
from service.privacy import NO_CASE, Privacy
from service.privacy_cli import PrivacyContext, run
from starter import build_parser
from tests.api_support import AGENT, SUPERVISOR, TOKENS, api_app, codec_setup, serving
from tests.temporal_support import Harness, running_harness, sqlite_url

pytestmark = pytest.mark.temporal

OFFICER_1 = {"Authorization": "Bearer officer-1"}
OFFICER_2 = {"Authorization": "Bearer officer-2"}
ALL_TOKENS = {
    **TOKENS,
    "officer-1": Principal("刘洋", ("data_officer",)),
    "officer-2": Principal("周敏", ("data_officer",)),
}
UI = "http://localhost:8233"
NAME = "欧阳娜娜"


@contextlib.asynccontextmanager
async def privacy_api(h: Harness, keyring: Keyring) -> AsyncIterator[httpx.AsyncClient]:
    tokens = TokenTable.of_tokens(ALL_TOKENS)
    app = api_app(h.kesu, tokens=tokens, privacy=codec_setup(h.sessions, keyring, UI))
    async with serving(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
        yield http


async def test_reads_destruction_and_the_codec_endpoint_over_http(
    temporal_env: WorkflowEnvironment, tmp_path: Path, specs: dict[str, CompiledSpec]
) -> None:
    keyring = Keyring([base64.b64decode(base64.b64encode(b"k" * 32))])
    address = temporal_env.client.service_client.config.target_host
    client = await connect(address, "default", payload_key=keyring)
    url = sqlite_url(tmp_path)
    async with (
        running_harness(client, url, specs, keyring=keyring) as h,
        privacy_api(h, keyring) as http,
    ):
        fields = {"customer_id": "C-9", "customer_name": NAME, "phone": "13700001111"}
        case = (await h.kesu.start_case("complaint", fields, roles=["agent"])).case_id

        # Unmasked reads are recorded; masked ones are not.
        masked = await http.get(f"/cases/{case}", headers=AGENT)
        assert masked.json()["fields"]["customer_name"] == "***"
        shown = await http.get(f"/cases/{case}", headers=SUPERVISOR)
        assert shown.json()["fields"]["customer_name"] == NAME
        refused_log = await http.get(f"/cases/{case}/access-log", headers=AGENT)
        assert refused_log.status_code == 403
        assert refused_log.json()["detail"] == "needs role data_officer; '王敏' acts as agent"
        log = (await http.get(f"/cases/{case}/access-log", headers=OFFICER_1)).json()
        assert [(r["actor"], r["channel"], r["fields"]) for r in log] == [
            ("李强", "api", ["customer_name", "phone"])
        ]
        out = io.StringIO()
        context = PrivacyContext(url, keyring, specs, lambda: contextlib.nullcontext(client))
        assert await run(build_parser().parse_args(["access-log", case]), context, out) == 0
        assert "李强 (supervisor) via api: customer_name, phone" in out.getvalue()

        # The codec endpoint: the stock CLI shows the running case's history decoded.
        assert NAME not in await _temporal_show(address, None, case, None)
        shown_by_cli = await _temporal_show(address, http.base_url, case, "supervisor-token")
        assert NAME in shown_by_cli
        await h.kesu.send_event(case, "withdraw", actor="王敏", roles=["agent"])

        # Destruction: a request, an approval by the same person refused, by another done.
        refused = await http.post(f"/cases/{case}/destruction", headers=AGENT)
        assert refused.status_code == 403
        assert refused.json()["detail"] == (
            f"requesting the destruction of case {case}: needs role data_officer;"
            " '王敏' acts as agent"
        )
        asked = await http.post(
            f"/cases/{case}/destruction", headers=OFFICER_1, json={"reason": "PIPL"}
        )
        assert asked.status_code == 202 and asked.json()["status"] == "requested"
        same = await http.post(f"/cases/{case}/destruction/approval", headers=OFFICER_1)
        assert same.status_code == 409 and "cannot also approve" in same.json()["detail"]
        await client.get_workflow_handle(case).result()  # its last delivery is done
        done = await http.post(f"/cases/{case}/destruction/approval", headers=OFFICER_2)
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "destroyed" and done.json()["approved_by"] == "周敏"
        due = await http.get("/retention/due", headers=OFFICER_1)
        assert due.status_code == 200 and due.json() == []


async def test_the_codec_endpoint_needs_a_token_and_a_pii_role_to_decode(
    temporal_env: WorkflowEnvironment, tmp_path: Path, specs: dict[str, CompiledSpec]
) -> None:
    keyring = Keyring([b"k" * 32])
    async with (
        running_harness(temporal_env.client, sqlite_url(tmp_path), specs) as h,
        privacy_api(h, keyring) as http,
    ):
        plain = {"metadata": {"encoding": _b64(b"json/plain")}, "data": _b64(NAME.encode())}
        body = {"payloads": [plain]}
        assert (await http.post("/encode", json=body)).status_code == 401
        encoded = await http.post("/encode", json=body, headers=AGENT)
        assert encoded.status_code == 200
        sealed = encoded.json()
        assert NAME.encode() not in json.dumps(sealed).encode()
        refused = await http.post("/decode", json=sealed, headers=AGENT)
        assert refused.status_code == 403
        assert refused.json()["detail"] == (
            "decoding shows customer data: needs role handler or supervisor; '王敏' acts as agent"
        )
        decoded = await http.post("/decode", json=sealed, headers=SUPERVISOR)
        assert decoded.json() == body
        bad = await http.post("/decode", json={"payloads": 3}, headers=SUPERVISOR)
        assert bad.status_code == 422
        preflight = await http.options(
            "/decode",
            headers={
                "Origin": UI,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == UI


async def test_the_web_ui_door_takes_a_console_session_from_the_ui_origin_only(
    temporal_env: WorkflowEnvironment, tmp_path: Path, specs: dict[str, CompiledSpec]
) -> None:
    keyring = Keyring([b"k" * 32])
    async with (
        running_harness(temporal_env.client, sqlite_url(tmp_path), specs) as h,
        privacy_api(h, keyring) as http,
    ):
        named = json.dumps({"case_id": "complaint-x1", "fields": {"customer_name": NAME}})
        plain = {"metadata": {"encoding": _b64(b"json/plain")}, "data": _b64(named.encode())}
        sealed = (await http.post("/encode", json={"payloads": [plain]}, headers=AGENT)).json()
        door = "/console/codec/decode?preserveStorageRefs=true"  # as the Web UI asks

        def session(token: str, origin: str | None = UI) -> dict[str, str]:
            return {"Cookie": f"kesu_console={token}", **({"Origin": origin} if origin else {})}

        decoded = await http.post(door, json=sealed, headers=session("supervisor-token"))
        assert decoded.status_code == 200 and decoded.json() == {"payloads": [plain]}
        assert decoded.headers["access-control-allow-origin"] == UI
        assert decoded.headers["access-control-allow-credentials"] == "true"
        refused = {
            "agent": await http.post(door, json=sealed, headers=session("agent-token")),
            "no session": await http.post(door, json=sealed, headers={"Origin": UI}),
            "a stale session": await http.post(door, json=sealed, headers=session("gone")),
            "another origin": await http.post(
                door, json=sealed, headers=session("supervisor-token", "http://127.0.0.1:9999")
            ),
            "no origin": await http.post(
                door, json=sealed, headers=session("supervisor-token", None)
            ),
            # The bearer door ignores the cookie: a browser cannot be made to use it.
            "the bearer door": await http.post(
                "/decode", json=sealed, headers=session("supervisor-token")
            ),
        }
        assert {why: answer.status_code for why, answer in refused.items()} == {
            "agent": 403,
            "no session": 401,
            "a stale session": 401,
            "another origin": 403,
            "no origin": 403,
            "the bearer door": 401,
        }
        assert "sign in to kesu's console" in refused["no session"].json()["detail"]
        assert "http://127.0.0.1:9999" in refused["another origin"].json()["detail"]
        by_cli = await http.post(
            "/decode?preserveStorageRefs=true", json=sealed, headers=SUPERVISOR
        )
        assert by_cli.status_code == 200

        # Both decodes are access records of the case the payloads name; none names another.
        reads = Privacy(h.sessions, specs).access_log("complaint-x1")
        assert [(r.actor, r.channel, r.fields) for r in reads] == [
            ("李强", "web-ui", ["1 payload decoded"]),
            ("李强", "codec", ["1 payload decoded"]),
        ]
        anonymous = {"metadata": {"encoding": _b64(b"json/plain")}, "data": _b64(b'"x"')}
        sealed = (await http.post("/encode", json={"payloads": [anonymous]}, headers=AGENT)).json()
        await http.post(door, json=sealed, headers=session("supervisor-token"))
        assert [r.channel for r in Privacy(h.sessions, specs).access_log(NO_CASE)] == ["web-ui"]

        # CORS: the exact origin with credentials on the codec's paths; nothing elsewhere.
        def preflight(origin: str) -> dict[str, str]:
            return {
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,x-namespace",
            }

        allowed = await http.options(door, headers=preflight(UI))
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == UI
        assert allowed.headers["access-control-allow-credentials"] == "true"
        assert "X-Namespace" in allowed.headers["access-control-allow-headers"]
        other = await http.options(door, headers=preflight("http://127.0.0.1:9999"))
        assert other.status_code == 400 and "access-control-allow-origin" not in other.headers
        console = await http.get("/console/cases", headers={"Origin": UI})
        assert "access-control-allow-origin" not in console.headers

        # Each door is its own documented operation, with the parameter the UI sends.
        paths = (await http.get("/openapi.json")).json()["paths"]
        ids = [op["operationId"] for path in paths.values() for op in path.values()]
        assert len(ids) == len(set(ids))
        web_ui = paths["/console/codec/decode"]["post"]
        assert web_ui["operationId"] == "decode_for_web_ui"
        assert [p["name"] for p in web_ui["parameters"]] == ["preserveStorageRefs"]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def _temporal_show(
    address: str, endpoint: httpx.URL | None, case: str, token: str | None
) -> str:
    host = address.replace("localhost", "127.0.0.1")  # the dev server listens on IPv4
    command = [str(temporal_binary()), "workflow", "show", "-w", case, "--address", host]
    command += ["--output", "json"]
    if endpoint is not None:
        command += ["--codec-endpoint", str(endpoint).rstrip("/")]
    if token is not None:
        command += ["--codec-auth", f"Bearer {token}"]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    # JSON output shows payload data as base64: what a reader of it sees, decoded.
    found = re.findall(r'"data": "([A-Za-z0-9+/=]+)"', out.decode())
    return "\n".join(base64.b64decode(data).decode("utf-8", "replace") for data in found)
