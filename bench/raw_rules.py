"""The complaint process's rules written by hand: what ``definitions/complaint.yaml`` says, as
Python tables and functions, for the hand-written baseline workflow (``raw_complaint.py``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

# stage -> event -> (target, roles allowed, inputs required)
EVENTS: dict[str, dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]]] = {
    "intake": {
        "accept": ("triage", ("agent", "supervisor"), ()),
        "withdraw": ("withdrawn", (), ()),
    },
    "triage": {
        "assign": ("handling", ("agent", "supervisor"), ("assignee",)),
        "escalate": ("escalation", ("agent", "supervisor"), ()),
        "withdraw": ("withdrawn", (), ()),
    },
    "escalation": {
        "assign": ("handling", ("supervisor", "manager"), ("assignee",)),
        "propose": ("feedback", ("supervisor", "manager"), ("resolution",)),
    },
    "handling": {
        "submit_plan": ("handling", ("handler", "supervisor"), ("plan",)),
        "ask_customer": ("waiting_customer", ("handler",), ()),
        "escalate": ("escalation", ("handler", "supervisor"), ()),
        "propose": ("feedback", ("handler", "supervisor"), ("resolution",)),
    },
    "waiting_customer": {"customer_replied": ("handling", ("customer", "handler", "agent"), ())},
    "feedback": {
        "satisfied": ("closure", ("customer", "agent"), ("csat",)),
        "dissatisfied": ("handling", ("customer", "agent"), ("csat",)),
    },
    "closure": {"close": ("closed", ("handler", "supervisor"), ("responsibility",))},
    "closed": {"request_review": ("review", ("customer", "agent"), ())},
    "review": {"uphold": ("closed", ("reviewer",), ()), "reopen": ("handling", ("reviewer",), ())},
}
FINAL = frozenset({"archived", "withdrawn"})
ENTRY_MESSAGES = {
    "intake": [("customer", "acknowledged")],
    "escalation": [("supervisor", "escalated")],
    "handling": [("assignee", "assigned")],
    "feedback": [("customer", "result"), ("customer", "survey")],
    "closed": [("customer", "closed")],
    "review": [("reviewer", "review_requested")],
}
TIMEOUTS = {
    "waiting_customer": (timedelta(days=7), "closure"),
    "feedback": (timedelta(days=3), "closure"),
    "closed": (timedelta(days=30), "archived"),
}
# deadline -> (target as written, target, warning lead before due); all start on 'accept'
DEADLINES = {
    "response": ("24h", timedelta(hours=24), timedelta(hours=6)),
    "plan": ("48h", timedelta(hours=48), None),
    "resolution": ("15d", timedelta(days=15), timedelta(days=3)),
}
PII_FIELDS = ["customer_name", "phone", "email", "description"]
CASE_NUMBER_PREFIX = "CP"


def guard_problem(stage: str, event: str, fields: dict[str, Any]) -> str | None:
    """Why a guard refuses ``event`` with these field values, or None."""
    urgent = fields.get("severity") == "urgent" or (fields.get("amount") or 0) > 50000
    if event == "escalate" and stage == "triage" and not urgent:
        return "condition not met: severity == 'urgent' or amount > 50000"
    if event == "satisfied" and not fields.get("csat", 0) >= 3:
        return "condition not met: csat >= 3"
    if event == "dissatisfied" and not fields.get("csat", 5) < 3:
        return "condition not met: csat < 3"
    return None


def decide_team(fields: dict[str, Any]) -> None:
    """The routing table: which team a new case goes to."""
    category = fields.get("category")
    if fields.get("channel") == "regulator":
        fields["team"] = "监管转办组 regulator desk"
    elif category in ("card", "loan", "deposit"):
        fields["team"] = "银行卡与信贷 cards and credit"
    elif category == "wealth":
        fields["team"] = "财富管理 wealth"
    else:
        fields["team"] = "综合服务 general service"


def decide_priority(fields: dict[str, Any]) -> None:
    """The priority table, run when a case enters triage."""
    if (
        fields.get("severity") == "urgent"
        or (fields.get("amount") or 0) > 50000
        or fields.get("channel") == "regulator"
    ):
        fields["priority"] = "high"
    elif fields.get("severity") == "low":
        fields["priority"] = "low"
    else:
        fields["priority"] = "normal"
