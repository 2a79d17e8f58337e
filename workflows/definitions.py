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


PASSED_THROUGH = ("workflows", "process", "activities.inputs", "transitions", "yaml")
"""Modules the sandbox shares with the worker instead of importing them again for every case:
the workflow package itself (this module's ``CACHE`` among it, which a fresh copy would have
empty) and the pure code it runs. A re-import per case would cost every open case its own
copy of their classes and pydantic models, most of an open case's memory. None of them keeps
state that a case could change: workflow code stays deterministic by its own rules (no I/O,
clocks or randomness), which the tests check by replaying recorded histories."""


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox every worker and replayer of case workflows runs them in."""
    restrictions = SandboxRestrictions.default.with_passthrough_modules(*PASSED_THROUGH)
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
