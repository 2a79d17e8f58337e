"""Diagrams of a process, or of a case on its process: the one place CLI and API ask for them."""

from __future__ import annotations

from process.compiler import CompiledSpec
from process.diagram import Highlight, build_diagram
from process.diagram_page import FORMATS, render
from process.state import CaseState

from .cases import KesuError


def process_diagram(spec: CompiledSpec, form: str, version: int | None = None) -> str:
    """``version``: only the running (current) one until definitions keep their history."""
    if version is not None and version != spec.version:
        raise KesuError(
            f"process {spec.process!r} version {version}: only the current version "
            f"(v{spec.version}) can be drawn; older versions are not kept yet"
        )
    return _render(spec, form)


def case_diagram(spec: CompiledSpec, state: CaseState, form: str) -> str:
    """The case's process with its current stage and the moves it took highlighted.

    Drawn from the current definition of the process; a case opened on an older version shows
    its path where the stages still exist.
    """
    return _render(spec, form, Highlight.of_case(state), state.case_id)


def _render(
    spec: CompiledSpec, form: str, highlight: Highlight | None = None, case: str = ""
) -> str:
    if form not in FORMATS:
        raise KesuError(f"unknown diagram format {form!r}; use {', '.join(FORMATS)}")
    return render(build_diagram(spec.definition), form, highlight, case)
