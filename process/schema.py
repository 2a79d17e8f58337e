"""JSON Schemas of kesu's YAML files, generated from the models the loader validates with.

Editors (VS Code with the YAML extension, any yaml-language-server client) read them through
the modeline at the top of each file
(``# yaml-language-server: $schema=schema/process.schema.json``) to complete keys, show the
descriptions and flag wrong types while a designer types. The checks that need the whole
definition (does a stage exist, does a guard parse) stay in ``check``.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from .calendars import CalendarSpec
from .scenario import Scenario
from .spec import ProcessDefinition
from .warnings import WarningFile

SCHEMA_FOLDER = "schema"
SCHEMAS: dict[str, tuple[type[BaseModel], str]] = {
    "process": (ProcessDefinition, "kesu process definition"),
    "calendar": (CalendarSpec, "kesu business calendar"),
    "scenario": (Scenario, "kesu scenario (a designer's test of a process)"),
    "warnings": (WarningFile, "kesu early-warning rules (投诉预防)"),
}
"""Schema name -> the model it describes and its title; files are ``<name>.schema.json``."""


def schema_file(name: str) -> str:
    return f"{name}.schema.json"


def json_schema(name: str) -> dict[str, Any]:
    model, title = SCHEMAS[name]
    schema = model.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema, "title": title}


def schema_text(name: str) -> str:
    """The schema as shipped: stable key order, Chinese kept readable, a final newline."""
    return json.dumps(json_schema(name), ensure_ascii=False, indent=2) + "\n"
