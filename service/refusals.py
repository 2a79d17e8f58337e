"""``KesuError``: a request kesu refuses, with its kind and what to fix.

The kind is decided where the refusal is decided (``process.refusals``); this only carries it
to the entry points, which answer with it (the HTTP API maps it to a status in one place).
"""

from __future__ import annotations

from process.refusals import RefusalKind


class KesuError(Exception):
    """A request kesu refuses, with the reason (unknown process, bad field, illegal event...).

    ``kind`` says what sort of mistake it is (the HTTP API's status code); the message says
    what to fix.
    """

    def __init__(self, message: str, kind: RefusalKind = RefusalKind.INVALID) -> None:
        super().__init__(message)
        self.kind = kind
