"""Dead letters: listed for operators, counted for reports, sent again with ``redeliver``."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

import starter
from activities.inputs import DeliverInput
from activities.messaging import Envelope, MessagingActivities, PermanentError
from runtime import Settings
from service import outbox as service
from tests.messaging_support import SECRETS, notify, outbox, record


class Switch:
    """A channel that refuses everything until ``working`` is set."""

    def __init__(self) -> None:
        self.working = False
        self.sent: list[str] = []

    def send(self, message: Envelope) -> None:
        if not self.working:
            raise PermanentError("the SMTP server refused the recipient address")
        self.sent.append(message.idempotency_key)


def dead_case(sessions: sessionmaker[Session], channel: Switch, case_id: str) -> list[str]:
    keys = record(
        sessions,
        case_id,
        1,
        notify("customer", "result", case_id),
        notify("supervisor", "escalated", case_id),
    )
    MessagingActivities(sessions, {"customer": channel}, Switch()).deliver_outbox(
        DeliverInput(case_id=case_id)
    )
    return keys


def test_redeliver_sends_dead_messages_again_once(session_factory: sessionmaker[Session]) -> None:
    channel = Switch()
    keys = dead_case(session_factory, channel, "complaint-1")
    dead_case(session_factory, channel, "complaint-2")
    assert [r.idempotency_key for r in service.dead_letters(session_factory)] == [
        *keys,
        "complaint-2:1:0",
        "complaint-2:1:1",
    ]
    assert service.status_counts(session_factory) == {"pending": 0, "delivered": 0, "dead": 4}

    assert service.redeliver(session_factory, keys=[keys[0]]) == [keys[0]]
    [first, second] = outbox(session_factory, "complaint-1")
    assert (first.status, first.attempts, first.claimed_until) == ("pending", 0, None)
    assert first.last_error is not None  # kept until the next attempt
    assert second.status == "dead"

    channel.working = True
    messaging = MessagingActivities(session_factory, {}, channel)
    assert messaging.deliver_pending().delivered == 1
    assert messaging.deliver_pending().delivered == 0
    assert channel.sent == [keys[0]]
    assert service.status_counts(session_factory) == {"pending": 0, "delivered": 1, "dead": 3}


def test_redeliver_says_what_it_did_not_find(session_factory: sessionmaker[Session]) -> None:
    keys = dead_case(session_factory, Switch(), "complaint-1")
    with pytest.raises(service.OutboxError, match="no dead messages for case complaint-9"):
        service.redeliver(session_factory, case_id="complaint-9")
    with pytest.raises(service.OutboxError, match="name a case or one or more message keys"):
        service.redeliver(session_factory)
    with pytest.raises(service.OutboxError) as partly:
        service.redeliver(session_factory, keys=[keys[0], "complaint-1:7:0"])
    assert str(partly.value) == "queued 1 again; not dead (or unknown): complaint-1:7:0"


def test_show_lists_a_case_messages_without_their_content(
    session_factory: sessionmaker[Session],
) -> None:
    dead_case(session_factory, Switch(), "complaint-1")
    text = service.render_messages(service.case_messages(session_factory, "complaint-1"))
    assert text.splitlines() == [
        "messages:",
        "     1  customer     result                 DEAD      1 attempt",
        "        last error: PermanentError: the SMTP server refused the recipient address",
        "     1  supervisor   escalated              DEAD      1 attempt",
        "        last error: PermanentError: the SMTP server refused the recipient address",
    ]
    assert service.render_messages([]) == "messages:\n  (none)"
    for secret in SECRETS:
        assert secret not in text


def test_the_cli_lists_and_redelivers_dead_messages(
    session_factory: sessionmaker[Session],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    keys = dead_case(session_factory, Switch(), "complaint-1")
    monkeypatch.setenv("KESU_DATABASE_URL", database_url)

    assert starter.main(["list", "--dead"]) == 0
    listed = capsys.readouterr().out
    assert f"  {keys[0]}" in listed and f"  {keys[1]}" in listed

    assert starter.main(["redeliver", "complaint-1"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "2 message(s) queued again; the worker's sweep sends them:",
        *(f"  {key}" for key in keys),
    ]

    assert starter.main(["redeliver", "complaint-1"]) == 1
    assert capsys.readouterr().err == "kesu: no dead messages for case complaint-1\n"
    assert starter.main(["list", "--dead"]) == 0
    assert "(none)" in capsys.readouterr().out
    shown = starter.messages_text(Settings.from_env(), "complaint-1")  # `show`'s last part
    assert (
        shown.splitlines()[1] == "     1  customer     result                 pending   0 attempts"
    )
