"""E-mail through a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.orm import Session, sessionmaker

from activities.channels.email import AddressRule, SmtpChannel, SmtpSettings, message_id
from activities.inputs import DeliverInput, DeliverResult
from activities.messaging import ConsoleChannel, MessagingActivities
from tests.messaging_support import SECRETS, notify, outbox, record, shipped_renderer
from tests.receivers import Mailbox

SENDER = "kefu@bank.example"
CASE = "complaint-crm-42"


def messaging_with_mail(
    sessions: sessionmaker[Session], port: int, **rules: AddressRule
) -> MessagingActivities:
    """Mail for the roles in ``rules`` (default: the customer, at the case's e-mail field)."""
    rules = rules or {"customer": AddressRule(field="email")}
    channel = SmtpChannel(
        SmtpSettings(host="127.0.0.1", port=port, sender=SENDER, timeout=10),
        shipped_renderer(),
        rules,
    )
    return MessagingActivities(sessions, dict.fromkeys(rules, channel), ConsoleChannel())


def test_a_chinese_mail_arrives_once_with_its_key(
    session_factory: sessionmaker[Session], smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    messaging = messaging_with_mail(session_factory, port)
    [key] = record(session_factory, CASE, 3, notify("customer", "result", CASE))

    assert messaging.deliver_outbox(DeliverInput(case_id=CASE)) == DeliverResult(
        delivered=1, failed=0
    )
    assert messaging.deliver_pending() == DeliverResult(delivered=0, failed=0)

    [mail] = mailbox.received
    assert mailbox.recipients == [["zhang.wei@example.com"]]
    assert mail["Subject"] == f"【处理结果】案件 {CASE}"
    assert mail["From"] == SENDER and mail["To"] == "zhang.wei@example.com"
    assert mail["Message-ID"] == message_id(key, SENDER)
    assert mail["X-Kesu-Idempotency-Key"] == key
    assert mail["Content-Language"] == "zh-CN"
    body = mail.get_content()
    assert "已退还年费 200 元" in body
    [row] = outbox(session_factory, CASE)
    assert (row.status, row.attempts) == ("delivered", 1)


def test_the_case_language_chooses_the_template(
    session_factory: sessionmaker[Session], smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    messaging = messaging_with_mail(session_factory, port)
    record(session_factory, CASE, 3, notify("customer", "survey", CASE, language="en"))

    messaging.deliver_outbox(DeliverInput(case_id=CASE))

    [mail] = mailbox.received
    assert mail["Subject"] == f"[Survey] How did we handle case {CASE}?"
    assert mail["Content-Language"] == "en"


def test_the_same_key_gives_the_same_message_id() -> None:
    # A resend after a deliverer crashed carries the same id: mail systems drop the copy.
    assert message_id(f"{CASE}:3:0", SENDER) == message_id(f"{CASE}:3:0", SENDER)
    assert message_id(f"{CASE}:3:0", SENDER) != message_id(f"{CASE}:3:1", SENDER)
    assert message_id("投诉-甲:0:0", SENDER).isascii()


def test_refused_or_unaddressable_mail_is_dead_and_logs_no_customer_data(
    session_factory: sessionmaker[Session],
    smtp_server: tuple[Mailbox, int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    mailbox, port = smtp_server
    mailbox.refuse.add("zhang.wei@example.com")
    messaging = messaging_with_mail(
        session_factory,
        port,
        customer=AddressRule(field="email"),
        supervisor=AddressRule(field="missing"),
    )
    record(
        session_factory,
        CASE,
        3,
        notify("customer", "result", CASE),
        notify("supervisor", "escalated", CASE),
    )
    with caplog.at_level(logging.DEBUG):
        assert messaging.deliver_outbox(DeliverInput(case_id=CASE)) == DeliverResult(
            delivered=0, failed=2
        )

    rows = outbox(session_factory, CASE)
    assert [(r.status, r.attempts, r.last_error) for r in rows] == [
        ("dead", 1, "PermanentError: the SMTP server refused the recipient address"),
        (
            "dead",
            1,
            "PermanentError: the case has no e-mail address in field 'missing' for 'supervisor'",
        ),
    ]
    assert mailbox.received == []
    kesu_logs = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("kesu"))
    assert "complaint-crm-42:3:0" in kesu_logs  # (the test server's own log shows addresses)
    for secret in SECRETS:
        assert secret not in kesu_logs
