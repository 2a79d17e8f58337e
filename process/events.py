"""Every name kesu gives to a step or an event of its own, defined once.

A case's timeline, the audit trail, the domain events other systems receive and the triggers
a definition may name all use these strings; keeping them here means a rename reaches all.
"""

from __future__ import annotations

OPENED_EVENT = "case.opened"
"""A case's first step (seq 0), and the domain event that reports it."""
CASE_OPENED_TRIGGER = "case_opened"
"""How a definition names the opening moment: ``start: case_opened``."""
REASSIGNED_EVENT = "case.reassigned"
UPGRADED_EVENT = "case.upgraded"
"""A running case moved to a newer published version of its definition."""
CALENDAR_UPDATED_EVENT = "calendar.updated"
"""New calendar data published to a running case: its business clocks re-targeted."""
REPAIRED_EVENT = "case.repaired"
"""An operator repaired a halted case: the step the database had refused is stored now."""
MERGED_EVENT = "case.merged"
"""A duplicate's last step: merged into (and closed in favour of) a primary case."""
DUPLICATE_LINKED_EVENT = "case.duplicate_linked"
"""The primary case's step recording a duplicate merged into it."""
GROUPED_EVENT = "case.grouped"
"""A case joined a group complaint (many customers, one cause) with its handling plan."""
TIMEOUT_EVENT = "timeout"
"""A stage's timeout moving the case on."""
RESERVED_EVENTS = frozenset({TIMEOUT_EVENT})
"""Event names kesu uses for its own moves; a definition may not declare them."""

WARNING_EVENT_PREFIX = "deadline.warning:"
BREACHED_EVENT_PREFIX = "deadline.breached:"
ESCALATED_EVENT_PREFIX = "deadline.escalated:"
"""Timeline steps of a deadline, followed by the deadline's name."""

# Domain events published to other systems (``activities.events``).
CASE_STAGE_CHANGED = "case.stage_changed"
CASE_CLOSED = "case.closed"
DEADLINE_WARNING = "deadline.warning"
DEADLINE_BREACHED = "deadline.breached"
CASE_HALTED = "case.halted"
"""A step the database refused for its data stopped the case; an operator must repair it."""
DOMAIN_EVENT_TYPES = (
    OPENED_EVENT,
    CASE_STAGE_CHANGED,
    DEADLINE_WARNING,
    DEADLINE_BREACHED,
    CASE_CLOSED,
    CASE_HALTED,
)
