"""The token file: digests only, mistakes reported by place, tokens never repeated."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from api import Principal, TokenTable
from api.auth import hash_token
from api_server import load_tokens, main
from runtime import SetupError

EXAMPLE = Path(__file__).parent.parent / "config" / "tokens.example.yaml"


def test_the_example_file_holds_the_readme_dev_tokens() -> None:
    table = load_tokens(EXAMPLE)
    assert table.principal("dev-agent") == Principal("王敏", ("agent",))
    assert table.principal("dev-supervisor") == Principal("李强", ("supervisor",))
    assert table.principal("dev-nobody") is None


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("tokens: [{actor: a, roles: [agent], sha256: abc}]", "tokens.0.sha256"),
        ("tokens: [{actor: a, token: plain}]", "tokens.0.token: Extra inputs"),
        ("tokens: []", "no tokens"),
        ("tokns: []", "tokens: Field required"),
        ("tokens: [", "cannot read the token file"),
    ],
)
def test_mistakes_in_the_token_file_are_reported(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "tokens.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SetupError, match=problem) as raised:
        load_tokens(path)
    assert str(path) in str(raised.value)


def test_a_token_twice_is_refused(tmp_path: Path) -> None:
    entry = {"actor": "a", "roles": [], "sha256": hash_token("t")}
    path = tmp_path / "tokens.yaml"
    path.write_text(yaml.safe_dump({"tokens": [entry, entry]}), encoding="utf-8")
    with pytest.raises(SetupError, match="the same token twice"):
        load_tokens(path)


def test_a_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(SetupError, match=r"tokens\.example\.yaml"):
        load_tokens(tmp_path / "absent.yaml")


def test_new_token_prints_an_entry_that_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["new-token", "--actor", "王敏", "--role", "agent"]) == 0
    printed = capsys.readouterr().out
    token = printed.split("is not stored): ")[1].split()[0]
    entry = printed.split("entry for the token file:\n")[1]
    path = tmp_path / "tokens.yaml"
    path.write_text("tokens:\n" + entry, encoding="utf-8")
    assert load_tokens(path).principal(token) == Principal("王敏", ("agent",))
    assert TokenTable.of_tokens({token: Principal("x", ())}).principal(token) is not None
