"""kesu on a Temporal cluster that demands mutual TLS: a TLS proxy (test CA made here) in front
of the dev server, configured through the SDK's environment configuration and profile file."""

from __future__ import annotations

import asyncio
import base64
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from process.compiler import CompiledSpec
from runtime import PROJECT_DIR, Settings, SetupError, temporal_client
from service.cases import Kesu
from tests.temporal_support import DEFINITIONS
from tests.tls_support import Pair, TestAuthority, tls_proxy
from worker import running_worker

KEY = base64.b64encode(bytes(range(32))).decode()


@pytest_asyncio.fixture(scope="module")
async def mtls_address(temporal_env: WorkflowEnvironment, ca: TestAuthority) -> AsyncIterator[str]:
    """The dev server behind TLS that requires a client certificate of ``ca``."""
    upstream = temporal_env.client.service_client.config.target_host
    async with tls_proxy(upstream, ca.server_context(client_certs=True, alpn=["h2"])) as address:
        yield address


def mtls_env(address: str, ca: TestAuthority, pair: Pair | None, tmp_path: Path) -> dict[str, str]:
    env = {
        "HOME": str(tmp_path),  # no profile file of this machine's user
        "TEMPORAL_ADDRESS": address,
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(ca.ca_cert),
        "KESU_PAYLOAD_KEY": KEY,
        "KESU_DATA_DIR": str(tmp_path / "data"),
        "KESU_DEFINITIONS": str(DEFINITIONS),
        "KESU_TASK_QUEUE": f"kesu-tls-{uuid.uuid4().hex[:8]}",
    }
    if pair is not None:
        env["TEMPORAL_TLS_CLIENT_CERT_PATH"] = str(pair.cert)
        env["TEMPORAL_TLS_CLIENT_KEY_PATH"] = str(pair.key)
    return env


async def test_a_worker_runs_cases_over_mutual_tls_from_a_cli_profile(
    mtls_address: str,
    ca: TestAuthority,
    client_pair: Pair,
    tmp_path: Path,
    specs: dict[str, CompiledSpec],
) -> None:
    # The same TOML profile the temporal CLI reads (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE).
    profile = tmp_path / "temporal.toml"
    profile.write_text(
        f"""
[profile.bank]
address = "{mtls_address}"
namespace = "default"
[profile.bank.tls]
server_ca_cert_path = "{ca.ca_cert}"
client_cert_path = "{client_pair.cert}"
client_key_path = "{client_pair.key}"
""",
        encoding="utf-8",
    )
    env = mtls_env("", ca, None, tmp_path)
    del env["TEMPORAL_ADDRESS"], env["TEMPORAL_TLS_SERVER_CA_CERT_PATH"]
    env |= {"TEMPORAL_CONFIG_FILE": str(profile), "TEMPORAL_PROFILE": "bank"}
    settings = Settings.from_env(env)
    assert settings.temporal_address == mtls_address
    assert settings.temporal.tls is not None and settings.temporal.config_file == profile

    async with running_worker(settings) as client:
        kesu = Kesu(client, specs, settings.task_queue)
        started = await kesu.start_case(
            "complaint",
            {"customer_id": "C-1", "customer_name": "张女士"},
            key="tls-1",
            roles=["agent"],
        )
        await kesu.send_event(started.case_id, "accept", actor="王敏", roles=["agent"])
        view = await kesu.get_case(started.case_id)
    assert view.state.stage == "triage"


async def problem(env: dict[str, str]) -> str:
    with pytest.raises(SetupError) as raised:
        async with temporal_client(Settings.from_env(env)):
            pass
    return str(raised.value)


async def test_an_untrusted_server_certificate_names_the_ca_setting(
    mtls_address: str, client_pair: Pair, tmp_path: Path
) -> None:
    other = TestAuthority(tmp_path / "other", name="some other CA")
    message = await problem(mtls_env(mtls_address, other, client_pair, tmp_path))
    assert f"the TLS certificate of Temporal at {mtls_address} is not trusted" in message
    assert "set TEMPORAL_TLS_SERVER_CA_CERT_PATH" in message
    assert str(other.ca_cert) in message


async def test_a_missing_client_certificate_names_the_cert_settings(
    mtls_address: str, ca: TestAuthority, tmp_path: Path
) -> None:
    message = await problem(mtls_env(mtls_address, ca, None, tmp_path))
    assert message.startswith(f"Temporal at {mtls_address} requires a client certificate")
    assert "TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH" in message


async def test_a_client_certificate_of_another_ca_is_refused_by_name(
    mtls_address: str, ca: TestAuthority, tmp_path: Path
) -> None:
    stranger = TestAuthority(tmp_path / "stranger", name="stranger CA").issue(
        "intruder", server=False
    )
    message = await problem(mtls_env(mtls_address, ca, stranger, tmp_path))
    assert message.startswith(f"Temporal at {mtls_address} refused the client certificate")
    assert f"TEMPORAL_TLS_CLIENT_CERT_PATH={stranger.cert}" in message


async def test_a_certificate_for_another_name_names_the_server_name_setting(
    mtls_address: str, ca: TestAuthority, client_pair: Pair, tmp_path: Path
) -> None:
    env = mtls_env(mtls_address, ca, client_pair, tmp_path)
    env["TEMPORAL_TLS_SERVER_NAME"] = "temporal.bank.example"
    message = await problem(env)
    assert "is not issued for that name" in message and "TEMPORAL_TLS_SERVER_NAME" in message


async def test_plain_text_to_a_tls_server_says_to_turn_tls_on(
    mtls_address: str, tmp_path: Path
) -> None:
    env = {"HOME": str(tmp_path), "TEMPORAL_ADDRESS": mtls_address, "KESU_PAYLOAD_KEY": KEY}
    message = await problem(env)
    assert message.startswith(f"Temporal at {mtls_address} expects TLS: set TEMPORAL_TLS=true")


async def test_the_worker_command_fails_at_start_with_one_clear_line(
    mtls_address: str, ca: TestAuthority, tmp_path: Path
) -> None:
    env = os.environ | mtls_env(mtls_address, ca, None, tmp_path)
    env["KESU_DATABASE_URL"] = f"sqlite:///{tmp_path / 'kesu.db'}"
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        str(PROJECT_DIR / "worker.py"),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await worker.communicate()
    errors = stderr.decode("utf-8")
    assert worker.returncode == 2
    assert "Traceback" not in errors and "tonic" not in errors
    assert f"kesu worker: Temporal at {mtls_address} requires a client certificate" in errors
