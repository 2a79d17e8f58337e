"""A definition's ``reporting:`` section: names the designer wrote must exist; defaults need not."""

from __future__ import annotations

from pathlib import Path

import pytest

from process.loader import DefinitionError, load_definition_text

COMPLAINT = (Path(__file__).parent.parent / "definitions" / "complaint.yaml").read_text("utf-8")


def test_defaults_the_process_lacks_are_fine() -> None:
    definition = load_definition_text(COMPLAINT, "complaint.yaml")
    assert "nps" not in definition.fields and definition.reporting.nps == "nps"


def test_written_names_must_exist() -> None:
    section = """
reporting:
  csat: satisfaction
  first_response: respons
  review_stages: [reveiw]
  reopen_events: [reopen, re_open]
"""
    shipped = COMPLAINT[: COMPLAINT.index("\nreporting:")] + "\n"  # its own section, replaced
    with pytest.raises(DefinitionError) as raised:
        load_definition_text(shipped + section, "complaint.yaml")
    shown = str(raised.value)
    lines = len(shipped.splitlines())
    for offset, message in (
        (3, "reporting.csat: unknown field 'satisfaction'"),
        (4, "reporting.first_response: unknown deadline 'respons'; did you mean 'response'?"),
        (5, "reporting.review_stages.0: unknown stage 'reveiw'; did you mean 'review'?"),
        (6, "reporting.reopen_events.1: unknown event 're_open'; did you mean 'reopen'?"),
    ):
        assert f"complaint.yaml:{lines + offset}: {message}" in shown, shown
