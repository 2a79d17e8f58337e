"""A case on a real Temporal server sends real mail and real events, each once."""

from __future__ import annotations

import io
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.channels.config import ChannelSetup
from activities.channels.email import AddressRule, SmtpChannel, SmtpSettings, message_id
from activities.channels.webhook import WebhookChannel
from activities.messaging import ConsoleChannel
from process.compiler import CompiledSpec
from service.cases import Kesu
from tests.messaging_support import outbox, shipped_renderer
from tests.receivers import WEBHOOK_SECRET, Mailbox, Receiver
from tests.temporal_support import publish_specs, sqlite_url
from worker import build_activities, build_worker, serving_definitions
from workflows.case import CaseWorkflow

pytestmark = pytest.mark.temporal

SENDER = "kefu@bank.example"


async def test_a_withdrawn_case_mails_the_customer_and_publishes_its_events(
    temporal_env: WorkflowEnvironment,
    tmp_path: Path,
    specs: dict[str, CompiledSpec],
    smtp_server: tuple[Mailbox, int],
    webhook_receiver: tuple[Receiver, str],
) -> None:
    mailbox, port = smtp_server
    receiver, url = webhook_receiver
    renderer = shipped_renderer()
    mail = SmtpChannel(
        SmtpSettings(host="127.0.0.1", port=port, sender=SENDER),
        renderer,
        {"customer": AddressRule(field="email")},
    )
    channels = ChannelSetup(
        routes={"customer": mail, "events": WebhookChannel(url, WEBHOOK_SECRET, renderer)},
        default=ConsoleChannel(io.StringIO()),
        events=True,
    )
    activities = build_activities(sqlite_url(tmp_path), channels)
    task_queue = f"kesu-test-{uuid.uuid4().hex[:8]}"
    fields = {
        "customer_id": "C-1",
        "customer_name": "Zhang Wei",
        "email": "zhang.wei@example.com",
        "language": "en",
    }
    publish_specs(activities.sessions, specs.values())
    with ThreadPoolExecutor(max_workers=8) as executor:
        async with (
            serving_definitions(activities.sessions),
            build_worker(temporal_env.client, task_queue, activities, executor),
        ):
            kesu = Kesu(temporal_env.client, specs, task_queue)
            case = (await kesu.start_case("complaint", fields, roles=["agent"])).case_id
            await kesu.send_event(case, "withdraw", actor="王敏", roles=["agent"])
            # A final case delivers its outbox before its workflow ends.
            await temporal_env.client.get_workflow_handle_for(CaseWorkflow.run, case).result()
    # Whatever the case's own delivery left (none expected), the sweep would send now.
    activities.messaging.deliver_pending()

    rows = outbox(activities.sessions, case)
    assert [(r.recipient, r.template, r.status) for r in rows] == [
        ("customer", "acknowledged", "delivered"),
        ("events", "case.opened", "delivered"),
        ("events", "case.stage_changed", "delivered"),
        ("events", "case.closed", "delivered"),
    ]
    [letter] = mailbox.received
    assert letter["Subject"] == f"[客户投诉 Customer complaint] Your case {case} has been received"
    assert letter["Message-ID"] == message_id(rows[0].idempotency_key, SENDER)
    assert receiver.bad_signatures == 0
    events = [(body["template"], body["event"]["stage"]) for _, body in receiver.requests]
    assert events == [
        ("case.opened", "intake"),
        ("case.stage_changed", "withdrawn"),
        ("case.closed", "withdrawn"),
    ]
    keys = [urllib.parse.unquote(headers["Idempotency-Key"]) for headers, _ in receiver.requests]
    assert keys == [row.idempotency_key for row in rows[1:]]
