"""Diagrams of a process, or of a case on its process: the one place CLI and API ask for them."""

from __future__ import annotations

from collections.abc import Sequence

from process.compiler import CompiledSpec
from process.diagram import Highlight, build_diagram
from process.diagram_page import FORMATS, render
from process.refusals import RefusalKind
from process.state import CaseState

from .refusals import KesuError


def process_diagram(spec: CompiledSpec, form: str) -> str:
    return _render(spec, form)


def pick_version(process: str, version: int, known: Sequence[CompiledSpec]) -> CompiledSpec:
    """The published version ``version`` of ``process`` among ``known``, or a 404 naming them."""
    for spec in known:
        if spec.version == version:
            return spec
    listed = ", ".join(f"v{spec.version}" for spec in known) or "none (see `starter.py publish`)"
    raise KesuError(
        f"process {process!r} has no published version {version} (published: {listed})",
        RefusalKind.NOT_FOUND,
    )


def case_diagram(spec: CompiledSpec, state: CaseState, form: str) -> str:
    """The case's process with its current stage and the moves it took highlighted.

    ``spec`` should be the version the case runs on; drawn on another, its path shows where
    the stages still exist.
    """
    return _render(spec, form, Highlight.of_case(state), state.case_id)


def _render(
    spec: CompiledSpec, form: str, highlight: Highlight | None = None, case: str = ""
) -> str:
    if form not in FORMATS:
        raise KesuError(f"unknown diagram format {form!r}; use {', '.join(FORMATS)}")
    return render(build_diagram(spec.definition), form, highlight, case)
