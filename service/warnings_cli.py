"""``starter.py warnings``: the early-warning rules (投诉预防) and the warnings they raised.

Also the check of the rules' templates (every rule's message in every language), which
``starter.py check`` and the worker run. The entry point hands in the folder and the database.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from activities.storage import list_warnings
from activities.templates import LANGUAGES, SUFFIX, TemplateCatalog
from process.spec import ProcessDefinition
from process.warning_loader import load_warnings
from process.warnings import WarningRules

from .cases import KesuError
from .records_cli import RecordsUnavailable, open_records

COMMAND = "warnings"


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    warnings = commands.add_parser(
        COMMAND, help="early-warning rules and the warnings raised (投诉预防)"
    )
    warnings.add_argument("--limit", type=int, default=50, help="newest warnings shown")


def template_problems(rules: WarningRules, catalog: TemplateCatalog) -> list[str]:
    """A rule whose message has no template in a language could not be told."""
    return [
        f"warnings.{name}: no template '{rule.template}' in {language} "
        f"(add templates/{rule.template}.{language}{SUFFIX})"
        for name, rule in sorted(rules.rules.items())
        for language in LANGUAGES
        if catalog.get(rule.template, language) is None
    ]


def describe_rules(rules: WarningRules) -> list[str]:
    lines = []
    for name, rule in sorted(rules.rules.items()):
        values = f" in {', '.join(rule.values)}" if rule.values else ""
        lines.append(
            f"rule  {name}: {rule.at_least} {'/'.join(rule.processes)} case(s) of one "
            f"{rule.count_by}{values} within {rule.window} → {', '.join(rule.notify)}"
            + (f"  ({rule.title})" if rule.title else "")
        )
    return lines


def run(
    args: argparse.Namespace,
    folder: Path,
    definitions: Mapping[str, ProcessDefinition],
    database_url: str,
    out: TextIO = sys.stdout,
) -> int:
    rules = load_warnings(folder, definitions)
    for line in describe_rules(rules) or ["no early-warning rules (definitions/warnings/*.yaml)"]:
        print(line, file=out)
    try:
        with open_records(database_url) as session:
            raised = list_warnings(session, max(1, args.limit))
    except RecordsUnavailable as error:
        raise KesuError(str(error)) from None
    print(f"{len(raised)} warning(s) raised" + (":" if raised else ""), file=out)
    for row in raised:
        window = f"{row.window_start:%Y-%m-%d %H:%M} – {row.window_end:%Y-%m-%d %H:%M} UTC"
        print(
            f"  {row.raised_at:%Y-%m-%d %H:%M} UTC  {row.rule}  {row.key}  {row.count} case(s) "
            f"in {window}  → {', '.join(row.recipients)}  (raised by {row.case_id})",
            file=out,
        )
    return 0
