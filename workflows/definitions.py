"""The worker's definitions, by content hash, for the case workflows to look up.

A case's input names its definition by content hash. Workflow code only looks the hash up here
(no I/O, so replay sees exactly what the first run saw: a hash names one content for good).
The worker fills ``CACHE`` from the registry at start and refreshes it while it runs; a hash it
does not hold yet fails the workflow task, which Temporal retries, and is noted so that the
worker's next refresh fetches it. A case never runs on a definition other than its own.
"""

from __future__ import annotations

import logging

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from process.catalog import SpecCatalog
from process.compiler import CompiledSpec

__all__ = ["CACHE", "DefinitionUnavailable", "resolve", "workflow_runner"]

log = logging.getLogger("kesu.definitions")

CACHE = SpecCatalog()
"""Shared by every worker of the process: entries are immutable, so sharing is safe."""


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox every worker and replayer of case workflows runs them in: it would
    otherwise give each workflow a fresh, empty copy of this module's ``CACHE``."""
    restrictions = SandboxRestrictions.default.with_passthrough_modules(__name__)
    return SandboxedWorkflowRunner(restrictions=restrictions)


class DefinitionUnavailable(RuntimeError):
    """Not an ApplicationError on purpose: it fails the workflow task (retried), not the case."""


def resolve(content_hash: str) -> CompiledSpec:
    spec = CACHE.get(content_hash)
    if spec is None:
        CACHE.note_missing(content_hash)
        message = (
            f"definition {content_hash[:12]} is not published in this worker's registry (yet): "
            "the workflow task fails and is retried once the worker has fetched it; publish it "
            "with `starter.py publish` if it never was"
        )
        log.error("%s", message)
        raise DefinitionUnavailable(message)
    return spec
