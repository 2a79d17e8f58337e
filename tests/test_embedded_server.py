"""The embedded Temporal server belongs to its data folder: a second installation on the same
machine never lands on the first one's server, and says so when the port is taken."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

import runtime
from runtime import SERVER_RECORD, EmbeddedServer, SetupError, embedded_temporal

pytestmark = pytest.mark.temporal


def free_address() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


@pytest.fixture
def default_address(monkeypatch: pytest.MonkeyPatch) -> str:
    """The "default port" of these tests: a free one, so that a developer's kesu is left alone."""
    address = free_address()
    monkeypatch.setattr(runtime, "EMBEDDED_ADDRESS", address)
    return address


async def test_a_second_installation_gets_a_server_of_its_own(
    tmp_path: Path, default_address: str, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    async with embedded_temporal(first, ui=False) as mine:
        assert mine.address == default_address
        recorded = json.loads((first / SERVER_RECORD).read_text(encoding="utf-8"))
        assert recorded["db_file"] == str((first / "temporal.db").resolve())
        with caplog.at_level(logging.WARNING, logger="kesu"):
            async with embedded_temporal(second, ui=False) as theirs:
                assert theirs.address != default_address and theirs.pid != mine.pid
                assert theirs.db_file == str((second / "temporal.db").resolve())
        # Said clearly, naming the port and whose server is not there.
        assert f"{default_address} is taken by another program" in caplog.text
        assert str(second) in caplog.text
        assert not (second / SERVER_RECORD).exists()  # forgotten when it stopped
    assert not (first / SERVER_RECORD).exists()


async def test_a_process_of_the_same_folder_joins_its_server(
    tmp_path: Path, default_address: str
) -> None:
    async with embedded_temporal(tmp_path, ui=False) as started:
        async with embedded_temporal(tmp_path, ui=False) as joined:
            assert joined == started
        assert started.is_running()  # the joiner leaving does not stop it


async def test_a_stale_record_is_not_trusted(tmp_path: Path, default_address: str) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    stale = EmbeddedServer(default_address, None, gone.pid, str(tmp_path / "temporal.db"))
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / SERVER_RECORD).write_text(stale.to_json(), encoding="utf-8")
    async with embedded_temporal(tmp_path, ui=False) as server:
        assert server.pid != gone.pid and server.is_running()


async def test_an_address_asked_for_must_be_free(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = f"127.0.0.1:{squatter.getsockname()[1]}"
        with pytest.raises(SetupError, match=f"{taken} is taken by something that is not"):
            async with embedded_temporal(tmp_path, taken):
                pass


async def test_the_web_ui_is_served_and_named(tmp_path: Path, default_address: str) -> None:
    async with embedded_temporal(tmp_path) as server:
        assert server.ui_url is not None and "/namespaces/default/workflows" in server.ui_url
        recorded = EmbeddedServer.recorded(tmp_path)
        assert recorded is not None and recorded.ui_url == server.ui_url
        root = server.ui_url.split("/namespaces")[0]
        with urllib.request.urlopen(root, timeout=30) as page:
            assert page.status == 200
