"""Helpers for the channel tests: queue real outbox messages, render with the shipped templates."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from activities.channels.setup import TEMPLATES_FOLDER
from activities.inputs import OutboxMessage, StepRecord
from activities.storage import OutboxRow, StorageActivities, list_outbox
from activities.templates import Renderer, TemplateCatalog
from process.loader import load_catalog

DEFINITIONS = Path(__file__).parent.parent / "definitions"
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CUSTOMER = {
    "customer_id": "C-1",
    "customer_name": "张伟",
    "phone": "13800138000",
    "email": "zhang.wei@example.com",
    "resolution": "已退还年费 200 元",
}
"""A complaint's fields; name, phone and e-mail are customer data that no log may show."""
SECRETS = ("张伟", "13800138000", "zhang.wei@example.com")


def shipped_renderer() -> Renderer:
    definitions = load_catalog(DEFINITIONS).definitions
    return Renderer(TemplateCatalog.load(DEFINITIONS / TEMPLATES_FOLDER), definitions)


def notify(recipient: str, template: str, case_id: str, **fields: Any) -> OutboxMessage:
    """A message as a definition's ``notify`` action makes it (see ``process.actions``)."""
    return OutboxMessage(
        recipient=recipient,
        template=template,
        params={
            "case_id": case_id,
            "process": "complaint",
            "stage": "feedback",
            "fields": {**CUSTOMER, **fields},
        },
    )


def record(
    sessions: sessionmaker[Session],
    case_id: str,
    seq: int,
    *messages: OutboxMessage,
    event: str = "propose",
) -> list[str]:
    """Store step ``seq`` of a complaint with ``messages``; their idempotency keys."""
    StorageActivities(sessions).record_step(
        StepRecord(
            case_id=case_id,
            seq=seq,
            process="complaint",
            version=1,
            content_hash="h",
            event="case.opened" if seq == 0 else event,
            from_stage=None if seq == 0 else "handling",
            to_stage="intake" if seq == 0 else "feedback",
            actor="王敏",
            fields=dict(CUSTOMER),
            pii_fields=["customer_name", "phone", "email"],
            at=T0 + timedelta(minutes=seq),
            messages=list(messages),
        )
    )
    return [f"{case_id}:{seq}:{index}" for index in range(len(messages))]


def outbox(sessions: sessionmaker[Session], case_id: str) -> list[OutboxRow]:
    with sessions() as session:
        return list_outbox(session, case_id)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
