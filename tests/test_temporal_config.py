"""Reading the Temporal connection from the SDK's environment configuration (no server needed):
what resolves to what, and every mistake named with the setting to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime import Settings, SetupError
from service.connection import ConnectionConfigError, load_temporal_target
from service.tls_diagnosis import credentials_problem
from tests.tls_support import Pair, TestAuthority


def home(tmp_path: Path, **env: str) -> dict[str, str]:
    """An environment whose profile file, if any, is under ``tmp_path``."""
    return {"HOME": str(tmp_path), **env}


def problems(env: dict[str, str]) -> list[str]:
    with pytest.raises(ConnectionConfigError) as raised:
        load_temporal_target(env)
    return raised.value.problems


def test_nothing_configured_is_the_embedded_server(tmp_path: Path) -> None:
    target = load_temporal_target(home(tmp_path))
    assert (target.address, target.namespace, target.connection.tls) == (None, "default", None)
    settings = Settings.from_env(home(tmp_path, KESU_DATA_DIR=str(tmp_path / "data")))
    assert settings.temporal_address is None


def test_mtls_variables_resolve_to_checked_certificates(
    tmp_path: Path, ca: TestAuthority, client_pair: Pair
) -> None:
    env = home(
        tmp_path,
        TEMPORAL_ADDRESS="temporal.bank.example:7233",
        TEMPORAL_NAMESPACE="complaints",
        TEMPORAL_TLS_SERVER_CA_CERT_PATH=str(ca.ca_cert),
        TEMPORAL_TLS_CLIENT_CERT_PATH=str(client_pair.cert),
        TEMPORAL_TLS_CLIENT_KEY_PATH=str(client_pair.key),
        TEMPORAL_TLS_SERVER_NAME="temporal-frontend",
    )
    target = load_temporal_target(env)
    assert (target.address, target.namespace) == ("temporal.bank.example:7233", "complaints")
    tls = target.connection.tls
    assert tls is not None and tls.server_name == "temporal-frontend"
    assert tls.client_cert is not None and tls.client_cert.path == client_pair.cert
    config = tls.config()
    assert config.client_private_key == client_pair.key.read_bytes()
    assert config.server_root_ca_cert == ca.ca_cert.read_bytes()


def test_an_api_key_turns_tls_on_with_the_system_roots(tmp_path: Path) -> None:
    env = home(
        tmp_path,
        TEMPORAL_ADDRESS="complaints.a1b2c.tmprl.cloud:7233",
        TEMPORAL_NAMESPACE="complaints.a1b2c",
        TEMPORAL_API_KEY="secret-api-key",
        TEMPORAL_GRPC_META_X_BANK_BRANCH="sh-01",
    )
    connection = load_temporal_target(env).connection
    options = connection.connect_options()
    assert options["api_key"] == "secret-api-key"
    assert options["rpc_metadata"] == {"x-bank-branch": "sh-01"}
    tls = connection.tls
    assert tls is not None and tls.server_ca is None and tls.client_cert is None
    assert "secret-api-key" not in repr(connection)


def test_a_cli_profile_file_is_read_and_the_environment_overrides_it(tmp_path: Path) -> None:
    folder = tmp_path / ".config" / "temporalio"
    folder.mkdir(parents=True)
    (folder / "temporal.toml").write_text(
        '[profile.default]\naddress = "temporal:7233"\nnamespace = "kesu"\n'
        '[profile.dr]\naddress = "temporal-dr:7233"\nnamespace = "kesu"\n'
        "[profile.dr.tls]\ndisabled = true\n",
        encoding="utf-8",
    )
    target = load_temporal_target(home(tmp_path))  # the CLI's default file, default profile
    assert (target.address, target.namespace) == ("temporal:7233", "kesu")
    assert target.connection.config_file == folder / "temporal.toml"
    target = load_temporal_target(home(tmp_path, TEMPORAL_PROFILE="dr", TEMPORAL_NAMESPACE="x"))
    assert (target.address, target.namespace) == ("temporal-dr:7233", "x")
    assert target.connection.tls is None


def test_unreadable_or_mismatched_certificates_are_all_named(
    tmp_path: Path, ca: TestAuthority, client_pair: Pair
) -> None:
    other = ca.issue("someone-else", server=False)
    not_pem = tmp_path / "ca.txt"
    not_pem.write_text("not a certificate", encoding="utf-8")
    found = problems(
        home(
            tmp_path,
            TEMPORAL_ADDRESS="temporal:7233",
            TEMPORAL_TLS_SERVER_CA_CERT_PATH=str(not_pem),
            TEMPORAL_TLS_CLIENT_CERT_PATH=str(client_pair.cert),
            TEMPORAL_TLS_CLIENT_KEY_PATH=str(other.key),
        )
    )
    assert found == [
        f"TEMPORAL_TLS_SERVER_CA_CERT_PATH={not_pem}: not a PEM certificate (the server's CA)",
        f"TEMPORAL_TLS_CLIENT_KEY_PATH={other.key}: this key does not belong to the client "
        f"certificate TEMPORAL_TLS_CLIENT_CERT_PATH={client_pair.cert}",
    ]
    missing = tmp_path / "nowhere.pem"
    found = problems(
        home(
            tmp_path,
            TEMPORAL_ADDRESS="temporal:7233",
            TEMPORAL_TLS_CLIENT_CERT_PATH=str(missing),
        )
    )
    assert found == [
        f"TEMPORAL_TLS_CLIENT_CERT_PATH={missing}: cannot read it: No such file or directory",
        "a client cert without its key: set TEMPORAL_TLS_CLIENT_KEY_PATH as well (mTLS needs both)",
    ]


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        (
            {"TEMPORAL_API_KEY": "k"},
            "TLS or an API key is configured for Temporal but no address: set TEMPORAL_ADDRESS",
        ),
        (
            {"TEMPORAL_CONFIG_FILE": "/nonexistent/temporal.toml"},
            "TEMPORAL_CONFIG_FILE=/nonexistent/temporal.toml: no such file",
        ),
        ({"TEMPORAL_PROFILE": "prod"}, "TEMPORAL_PROFILE=prod: there is no profile file"),
    ],
)
def test_configuration_mistakes_say_what_to_set(
    tmp_path: Path, env: dict[str, str], problem: str
) -> None:
    [found] = problems(home(tmp_path, **env))
    assert found.startswith(problem)
    with pytest.raises(SetupError, match="^" + problem[:20]):
        Settings.from_env(home(tmp_path, **env))


def test_an_unknown_profile_is_named(tmp_path: Path) -> None:
    profile = tmp_path / "temporal.toml"
    profile.write_text('[profile.default]\naddress = "t:7233"\n', encoding="utf-8")
    [found] = problems(home(tmp_path, TEMPORAL_CONFIG_FILE=str(profile), TEMPORAL_PROFILE="dr"))
    assert found == f"Temporal profile 'dr' from {profile}: Profile 'dr' not found"


def test_a_misspelt_profile_key_is_refused_not_ignored(tmp_path: Path) -> None:
    profile = tmp_path / "temporal.toml"
    profile.write_text(
        '[profile.default]\naddress = "t:7233"\n[profile.default.tls]\nca_cert_path = "x"\n',
        encoding="utf-8",
    )
    [found] = problems(home(tmp_path, TEMPORAL_CONFIG_FILE=str(profile)))
    assert found.startswith(f"Temporal profile 'default' from {profile}:")
    assert "ca_cert_path" in found


def test_a_refused_api_key_is_named_not_retried() -> None:
    error = (
        "Failed client connect: `get_system_info` call error after connection: "
        'Status { code: Unauthenticated, message: "Request unauthorized", ... }'
    )
    assert credentials_problem("complaints.a1b2c.tmprl.cloud:7233", error) == (
        "Temporal at complaints.a1b2c.tmprl.cloud:7233 refused kesu's credentials: check "
        "TEMPORAL_API_KEY (or api_key in the profile) and the namespace's permissions "
        f"({error})"
    )
    assert credentials_problem("t:7233", "Failed client connect: connection refused") is None
