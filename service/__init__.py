"""The operations every entry point uses: open a case, send it events, read and list cases
(``cases``), records (``records``: verify, reassign), reports, the outbox, text rendering and
the demo; published definition versions and upgrades (``versions``, ``upgrades``). ``Kesu`` is
the client; a refusal is a ``KesuError`` with its kind."""

from .cases import CaseFilter, CaseListing, CasePage, Kesu, KesuError, RefusalKind, Started
from .upgrades import Move, UpgradePlan
from .versions import PublishedDefinitions

__all__ = [
    "CaseFilter",
    "CaseListing",
    "CasePage",
    "Kesu",
    "KesuError",
    "Move",
    "PublishedDefinitions",
    "RefusalKind",
    "Started",
    "UpgradePlan",
]
