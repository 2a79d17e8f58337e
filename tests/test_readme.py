"""The README's HTTP (curl) and Python sessions, run as written against a real server: what a
newcomer copies works, and the answers shown are the answers given."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api_server import load_tokens
from tests.api_support import api_app, serving
from tests.temporal_support import Harness

pytestmark = pytest.mark.temporal

PROJECT = Path(__file__).parent.parent
README = (PROJECT / "README.md").read_text(encoding="utf-8")
NUMBER = re.compile(r"CP-\d{4}-\d{6}")


def section_block(heading: str, language: str, after: str = "") -> str:
    """The first ```language block after ``heading`` (and after the text ``after``)."""
    start = README.index(heading)
    if after:
        start = README.index(after, start)
    opening = README.index(f"```{language}\n", start) + len(language) + 4
    return README[opening : README.index("```", opening)]


def curl_session(block: str) -> Iterator[tuple[list[str], str]]:
    """Each curl command (its shell words) with the answer printed under it."""
    lines = block.splitlines()
    index = 0
    while index < len(lines):
        if not lines[index].startswith("curl "):
            index += 1
            continue
        command = lines[index]
        index += 1
        while command.endswith("\\") or _open_quote(command):
            command = command.removesuffix("\\") + "\n" + lines[index]
            index += 1
        answer = []
        while (
            index < len(lines)
            and lines[index].strip()
            and not lines[index].startswith(("curl ", "#"))
        ):
            answer.append(re.sub(r"\s+# .*$", "", lines[index]).strip())
            index += 1
        yield shlex.split(command.replace("\\\n", " ")), "".join(answer)


def _open_quote(command: str) -> bool:
    try:
        shlex.split(command.replace("\\\n", " ").removesuffix("\\"))
    except ValueError:
        return True
    return False


async def run_curl(http: httpx.AsyncClient, words: list[str]) -> str:
    method, url, headers, data = "GET", "", {}, None
    words = words[1:]
    while words:
        word = words.pop(0)
        if word == "-s":
            continue
        if word == "-X":
            method = words.pop(0)
        elif word == "-H":
            name, _, value = words.pop(0).partition(":")
            headers[name.strip()] = value.strip()
        elif word == "-d":
            data, method = words.pop(0), "POST" if method == "GET" else method
        else:
            url = word
    path = url.removeprefix("127.0.0.1:8000")
    response = await http.request(method, path, headers=headers, content=data)
    return response.text


def matches(expected: str, actual: str) -> bool:
    """Equal JSON; where the README abbreviates with ``...``, each shown piece in order."""
    expected, actual = NUMBER.sub("CP-N", expected), NUMBER.sub("CP-N", actual)
    # A case's number may be known already when the README shows null: a worker was quick.
    actual = (
        actual.replace('"case_number":"CP-N"', '"case_number":null')
        if ('"case_number":null' in expected)
        else actual
    )
    if "..." not in expected:
        return bool(json.loads(expected) == json.loads(actual))
    position = 0
    for piece in (piece.strip(",") for piece in expected.split("...")):
        found = actual.find(piece, position)
        if found < 0:
            return False
        position = found + len(piece)
    return True


async def test_the_readme_curl_session(harness: Harness, unique_key: str) -> None:
    block = section_block("### HTTP API", "sh")
    tokens = load_tokens(PROJECT / "config" / "tokens.example.yaml")
    app = api_app(harness.kesu, records=harness.sessions, tokens=tokens)
    steps = list(curl_session(block.replace("crm-42", f"crm-{unique_key}")))
    assert len(steps) >= 10, "the session was found in the README"
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        for words, expected in steps:
            actual = await run_curl(http, words)
            assert matches(expected, actual), (
                f"{shlex.join(words)}\nREADME: {expected}\ngot:    {actual}"
            )


async def test_the_readme_python_session(
    harness: Harness,
    temporal_env: WorkflowEnvironment,
    unique_key: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code = section_block("## Running it", "python", after="From Python")
    expected = re.findall(r"# (.+)$", code, flags=re.M)[-1]
    monkeypatch.setenv("TEMPORAL_ADDRESS", temporal_env.client.service_client.config.target_host)
    monkeypatch.setenv("KESU_TASK_QUEUE", harness.task_queue)
    monkeypatch.setenv("KESU_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("KESU_PAYLOAD_KEY", raising=False)
    session = "async def session():\n" + textwrap.indent(code.replace("crm-42", unique_key), "    ")
    scope: dict[str, object] = {}
    exec(compile(session, "README.md", "exec"), scope)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        await scope["session"]()  # type: ignore[operator]
    # (the worker in this process prints its console messages too: "→ customer: ...")
    assert expected.split() in [line.split() for line in printed.getvalue().splitlines()]
