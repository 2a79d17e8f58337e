"""JSON Schemas for editors: generated from the loader's models, shipped, and referenced."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

import starter
from process.loader import load_definition_text
from process.schema import SCHEMA_FOLDER, SCHEMAS, json_schema, schema_file, schema_text
from process.yamlsource import parse_yaml

DEFINITIONS = Path(__file__).resolve().parent.parent / "definitions"
MODELINE = "# yaml-language-server: $schema="
SHIPPED = {
    "process": sorted(DEFINITIONS.glob("*.yaml")),
    "calendar": sorted((DEFINITIONS / "calendars").glob("*.yaml")),
    "scenario": sorted((DEFINITIONS / "tests").glob("*.yaml")),
}


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_the_shipped_schema_is_the_generated_one(name: str) -> None:
    shipped = DEFINITIONS / SCHEMA_FOLDER / schema_file(name)
    assert shipped.read_text(encoding="utf-8") == schema_text(name), (
        f"{shipped.name} is stale: run `python starter.py schema --write`"
    )


def test_descriptions_reach_the_schema() -> None:
    schema = json_schema("process")
    deadline = schema["$defs"]["Deadline"]["properties"]
    assert "restart" in deadline and "Start afresh" in deadline["restart"]["description"]
    assert schema["properties"]["stages"]["description"]
    # a shorthand the loader accepts must not be flagged by editors
    on = schema["$defs"]["Stage"]["properties"]["on"]["additionalProperties"]
    assert {"type": "string"} in on["anyOf"]


def _as_editor_reads(value: Any) -> Any:
    """YAML 1.2 as editors read it: dates are text."""
    if isinstance(value, dict):
        return {str(_as_editor_reads(key)): _as_editor_reads(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_editor_reads(item) for item in value]
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


@pytest.mark.parametrize(
    ("name", "path"),
    [(name, path) for name, paths in SHIPPED.items() for path in paths],
    ids=lambda value: value.name if isinstance(value, Path) else value,
)
def test_every_shipped_file_names_its_schema_and_passes_it(name: str, path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    first = text.splitlines()[0]
    assert first.startswith(MODELINE), f"{path.name}: line 1 is not the schema modeline"
    target = (path.parent / first.removeprefix(MODELINE)).resolve()
    assert target == (DEFINITIONS / SCHEMA_FOLDER / schema_file(name)).resolve()
    validator = jsonschema_rs.Draft202012Validator(json_schema(name))
    data = _as_editor_reads(parse_yaml(text).data)
    assert [error.message for error in validator.iter_errors(data)] == []


def test_editors_flag_what_the_loader_refuses() -> None:
    validator = jsonschema_rs.Draft202012Validator(json_schema("process"))
    bad = {"process": "x", "version": 1, "stages": {"a": {"initial": True, "on_entry": []}}}
    assert not validator.is_valid(bad)
    deadline = {"stop": "case_opened", "within": "2 days"}
    late = {"process": "x", "version": 1, "stages": {}, "deadlines": {"d": deadline}}
    assert not validator.is_valid(late)
    deadline["within"] = "2d"
    assert validator.is_valid(late)


def test_the_loader_reads_a_definition_with_the_modeline() -> None:
    text = (DEFINITIONS / "service_request.yaml").read_text(encoding="utf-8")
    assert text.startswith(MODELINE)
    assert load_definition_text(text, "service_request.yaml").process == "service_request"


def test_schema_command_prints_and_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert starter.main(["schema", "calendar"]) == 0
    assert capsys.readouterr().out == schema_text("calendar")
    monkeypatch.setenv("KESU_DEFINITIONS", str(tmp_path))
    assert starter.main(["schema", "--write"]) == 0
    written = tmp_path / SCHEMA_FOLDER / "process.schema.json"
    assert written.read_text(encoding="utf-8") == schema_text("process")
