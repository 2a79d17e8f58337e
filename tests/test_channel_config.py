"""The operator's channel file: the shipped ones load, mistakes are named with their line."""

from __future__ import annotations

from pathlib import Path

import pytest

import worker
from activities.channels.amqp import AmqpChannel
from activities.channels.config import ChannelConfigError, build_channels, parse_channels
from activities.channels.email import SmtpChannel
from activities.channels.setup import load_channel_setup
from activities.channels.webhook import WebhookChannel
from activities.messaging import Backoff, ConsoleChannel
from runtime import Settings, SetupError
from tests.messaging_support import DEFINITIONS, shipped_renderer

CONFIG = Path(__file__).parent.parent / "config"
SECRETS_ENV = {
    "KESU_SMTP_USER": "kefu",
    "KESU_SMTP_PASSWORD": "pw",
    "KESU_WEBHOOK_SECRET": "hook-secret",
    "KESU_AMQP_URL": "amqp://guest:guest@127.0.0.1:5672/",
}


def test_the_shipped_file_is_the_console_without_events() -> None:
    setup = load_channel_setup(CONFIG / "channels.yaml", DEFINITIONS, {})
    assert isinstance(setup.default, ConsoleChannel) and setup.routes == {}
    assert setup.events is False
    assert (setup.max_attempts, setup.backoff) == (8, Backoff())


def test_the_example_file_builds_every_kind_of_channel() -> None:
    setup = load_channel_setup(CONFIG / "channels.example.yaml", DEFINITIONS, SECRETS_ENV)
    try:
        assert isinstance(setup.routes["customer"], SmtpChannel)
        assert setup.routes["customer"] is setup.routes["manager"]  # one channel, shared
        assert isinstance(setup.routes["assignee"], WebhookChannel)
        assert isinstance(setup.routes["events"], AmqpChannel)
        assert setup.default is setup.routes["assignee"]
        assert setup.events is True
    finally:
        setup.close()


def test_missing_secrets_are_all_named() -> None:
    text = (CONFIG / "channels.example.yaml").read_text(encoding="utf-8")
    with pytest.raises(ChannelConfigError) as raised:
        build_channels(parse_channels(text, "channels.yaml"), {}, shipped_renderer())
    assert raised.value.problems == [
        "channels.mail.username_env: environment variable KESU_SMTP_USER is not set",
        "channels.mail.password_env: environment variable KESU_SMTP_PASSWORD is not set",
        "channels.staff.secret_env: environment variable KESU_WEBHOOK_SECRET is not set",
        "channels.broker.url_env: environment variable KESU_AMQP_URL is not set",
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "routes:\n  customer: mail\n",
            "channels.yaml:1: routes: customer: no channel named 'mail' (channels: console)",
        ),
        (
            "channels:\n  console: {type: console}\n  hook:\n    type: webhook\n"
            "    url: ftp://x\n    secret_env: S\n",
            "channels.yaml:5: channels.hook.url: String should match pattern",
        ),
        (
            "channels:\n  mail: {type: smtp, host: h, sender: s, to: {customer: {}}}\n",
            "channels.yaml:2: channels.mail.to.customer: write exactly one of address",
        ),
        (
            "delivery:\n  max_atempts: 3\n",
            "channels.yaml:2: delivery.max_atempts:",
        ),
        ("channels:\n  c: {type: carrier-pigeon}\n", "channels.yaml:2: channels.c:"),
        (
            "channels:\n  mail: {type: smtp, host: h, sender: s, password_env: P}\n",
            "channels.yaml:2: channels.mail.smtp: security: none would send the "
            "password in clear text",
        ),
        (
            "channels:\n  mail: {type: smtp, host: h, sender: s, ca_file: ca.pem}\n",
            "channels.yaml:2: channels.mail.smtp: ca_file needs security: starttls or tls",
        ),
        (
            "channels:\n  hook: {type: webhook, url: 'http://h/', secret_env: S, ca_file: c}\n",
            "channels.yaml:2: channels.hook.webhook: ca_file needs an https:// url",
        ),
    ],
)
def test_mistakes_are_named_with_their_line(text: str, problem: str) -> None:
    with pytest.raises(ChannelConfigError) as raised:
        parse_channels(text, "channels.yaml")
    assert raised.value.problems[0].startswith(problem), raised.value.problems


def test_a_missing_ca_file_is_named() -> None:
    text = (
        "channels:\n  mail: {type: smtp, host: h, sender: s, security: tls, "
        "ca_file: /nonexistent/ca.pem}\ndefault: mail\n"
    )
    with pytest.raises(ChannelConfigError) as raised:
        build_channels(parse_channels(text, "channels.yaml"), {}, shipped_renderer())
    assert raised.value.problems == ["channels.mail.ca_file: no such file /nonexistent/ca.pem"]


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ChannelConfigError) as raised:
        load_channel_setup(tmp_path / "nope.yaml", DEFINITIONS, {})
    assert str(raised.value).startswith("1 problem in the channel configuration\n")
    assert "nope.yaml: cannot read the channel file" in str(raised.value)


def test_the_worker_refuses_to_start_on_a_bad_channel_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "channels.yaml"
    bad.write_text("routes:\n  customer: mail\n", encoding="utf-8")
    monkeypatch.setenv("KESU_CHANNELS", str(bad))
    with pytest.raises(SetupError) as raised:
        worker.channel_setup(Settings.from_env())
    assert "channels.yaml:1: routes: customer: no channel named 'mail'" in str(raised.value)

    monkeypatch.delenv("KESU_CHANNELS")
    assert isinstance(worker.channel_setup(Settings.from_env()).default, ConsoleChannel)
