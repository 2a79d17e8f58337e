"""``worker.py --check-config``: the resolved configuration of a production set-up, every
secret masked, every missing one named."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

import worker
from activities.channels.setup import load_channel_setup
from service.config_report import mask_database_url, mask_url
from tests.messaging_support import DEFINITIONS
from tests.tls_support import Pair, TestAuthority

CONFIG = Path(__file__).parent.parent / "config"
SECRETS = {
    "TEMPORAL_API_KEY": "api-key-0d9f8e7c",
    "KESU_SMTP_USER": "kefu-relay-user",
    "KESU_SMTP_PASSWORD": "smtp-pw-5b4a3c",
    "KESU_WEBHOOK_SECRET": "hook-secret-1e2f3a",
    "KESU_AMQP_URL": "amqps://kesu:amqp-pw-9c8b7a@mq.bank.internal:5671/kesu"
    "?cafile=/etc/kesu/tls/mq-ca.pem",
    "KESU_PAYLOAD_KEY": base64.b64encode(b"k" * 32).decode(),
}
DATABASE_URL = (
    "postgresql+psycopg://kesu:db-pw-4d5e6f@db.bank.internal:5432/kesu"
    "?sslmode=verify-full&sslrootcert=/etc/kesu/tls/db-ca.pem&sslpassword=key-pw-7a8b"
)


@pytest.fixture
def production(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ca: TestAuthority, client_pair: Pair
) -> pytest.MonkeyPatch:
    """A production-like environment (mTLS, API key, PostgreSQL, every channel), to change."""
    for name in ("TEMPORAL_CONFIG_FILE", "TEMPORAL_PROFILE", "KESU_PAYLOAD_KEYS", "KESU_KEYRING"):
        monkeypatch.delenv(name, raising=False)
    env = {
        "HOME": str(tmp_path),
        "TEMPORAL_ADDRESS": "temporal.bank.internal:7233",
        "TEMPORAL_NAMESPACE": "complaints",
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(ca.ca_cert),
        "TEMPORAL_TLS_CLIENT_CERT_PATH": str(client_pair.cert),
        "TEMPORAL_TLS_CLIENT_KEY_PATH": str(client_pair.key),
        "TEMPORAL_GRPC_META_X_TENANT": "tenant-value-3f",
        "KESU_DATABASE_URL": DATABASE_URL,
        "KESU_CHANNELS": str(CONFIG / "channels.example.yaml"),
        "KESU_DATA_DIR": str(tmp_path / "data"),
        **SECRETS,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_the_resolved_configuration_shows_no_secret(
    production: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    ca: TestAuthority,
    client_pair: Pair,
) -> None:

    assert worker.main(["--check-config"]) == 0

    out = capsys.readouterr().out
    for secret in [*SECRETS.values(), "amqp-pw-9c8b7a", "db-pw-4d5e6f", "key-pw-7a8b"]:
        assert secret not in out
    assert "tenant-value-3f" not in out and client_pair.key.read_text() not in out
    assert "address:         temporal.bank.internal:7233" in out
    assert f"server CA:     TEMPORAL_TLS_SERVER_CA_CERT_PATH={ca.ca_cert}" in out
    assert f"client cert:   TEMPORAL_TLS_CLIENT_CERT_PATH={client_pair.cert} (CN=kesu-worker" in out
    assert "api key:         set (***)" in out
    assert "grpc metadata:   x-tenant (values masked)" in out
    assert "database:        postgresql+psycopg://kesu:***@db.bank.internal:5432/kesu?" in out
    assert "sslmode=verify-full" in out and "sslrootcert=/etc/kesu/tls/db-ca.pem" in out
    assert "password from KESU_SMTP_PASSWORD (***)" in out
    assert "amqps://kesu:***@mq.bank.internal:5671/kesu?cafile=/etc/kesu/tls/mq-ca.pem" in out
    assert "problem" not in out


def test_missing_secrets_are_named_and_fail_the_check(
    production: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    production.delenv("KESU_SMTP_PASSWORD")
    production.delenv("KESU_PAYLOAD_KEY")

    assert worker.main(["--check-config"]) == 1

    out = capsys.readouterr().out
    assert "password from KESU_SMTP_PASSWORD (NOT SET)" in out
    assert out.endswith(
        "2 problem(s):\n"
        "  no payload key (KESU_PAYLOAD_KEY, KESU_PAYLOAD_KEYS or KESU_KEYRING): case data "
        "would go to Temporal readable\n"
        "  channels.mail.password_env: environment variable KESU_SMTP_PASSWORD is not set\n"
    )


def test_a_broken_temporal_setting_stops_the_check_with_its_name(
    production: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    production.setenv("TEMPORAL_TLS_CLIENT_KEY_PATH", str(tmp_path / "gone.key"))

    assert worker.main(["--check-config"]) == 2

    assert capsys.readouterr().err.startswith(
        f"kesu worker: TEMPORAL_TLS_CLIENT_KEY_PATH={tmp_path / 'gone.key'}: cannot read it"
    )


def test_urls_are_masked() -> None:
    assert mask_url("amqp://guest:guest@h:5672/") == "amqp://guest:***@h:5672/"
    assert mask_url("amqps://h/?password=x&cafile=/a/b") == "amqps://h/?password=***&cafile=/a/b"
    assert mask_database_url("sqlite:///data/kesu.db") == "sqlite:///data/kesu.db"
    assert (
        mask_database_url("postgresql+psycopg://u:p@h/db?sslkey=/k.pem&sslpassword=s")
        == "postgresql+psycopg://u:***@h/db?sslkey=/k.pem&sslpassword=***"
    )


def test_secrets_may_come_from_files_and_are_still_masked(
    production: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = tmp_path / "run-secrets"
    folder.mkdir()
    for name in ("KESU_SMTP_PASSWORD", "TEMPORAL_API_KEY", "KESU_PAYLOAD_KEY"):
        (folder / name).write_text(SECRETS[name] + "\n", encoding="utf-8")
        production.delenv(name)
        production.setenv(f"{name}_FILE", str(folder / name))

    assert worker.main(["--check-config"]) == 0

    out = capsys.readouterr().out
    assert f"password from KESU_SMTP_PASSWORD_FILE={folder / 'KESU_SMTP_PASSWORD'} (***)" in out
    assert f"1 from KESU_PAYLOAD_KEY_FILE={folder / 'KESU_PAYLOAD_KEY'}" in out
    assert "api key:         set (***)" in out
    for secret in SECRETS.values():
        assert secret not in out
    setup = load_channel_setup(
        CONFIG / "channels.example.yaml", DEFINITIONS, dict(os.environ)
    )  # the channels find the password in its file: no "not set" problem
    setup.close()


def test_an_unreadable_secret_file_is_named(
    production: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    production.delenv("KESU_SMTP_PASSWORD")
    production.setenv("KESU_SMTP_PASSWORD_FILE", str(tmp_path / "missing"))
    production.delenv("TEMPORAL_API_KEY")
    production.setenv("TEMPORAL_API_KEY_FILE", str(tmp_path / "missing"))

    assert worker.main(["--check-config"]) == 2
    assert capsys.readouterr().err == (
        f"kesu worker: TEMPORAL_API_KEY_FILE={tmp_path / 'missing'}: cannot read it: "
        "No such file or directory\n"
    )
    production.setenv("TEMPORAL_API_KEY", SECRETS["TEMPORAL_API_KEY"])

    assert worker.main(["--check-config"]) == 1
    assert capsys.readouterr().out.endswith(
        f"  channels.mail.password_env: KESU_SMTP_PASSWORD_FILE={tmp_path / 'missing'}: "
        "cannot read it: No such file or directory\n"
    )
