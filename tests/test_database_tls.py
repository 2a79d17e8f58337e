"""kesu's database over verified TLS with a client certificate, configured in the URL only:
the local PostgreSQL behind a proxy that negotiates TLS the PostgreSQL way (SSLRequest)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, make_url, select
from sqlalchemy.engine import URL

from activities.storage import OutboxRow
from runtime import SetupError
from tests.conftest import _postgres_schema_url
from tests.tls_support import Pair, TestAuthority, tls_proxy
from worker import build_activities

pytestmark = pytest.mark.postgres


@pytest.fixture
def schema_url(postgres_admin: Engine) -> Iterator[str]:
    yield from _postgres_schema_url(postgres_admin)


def through(url: str, address: str, ca_file: Path, pair: Pair | None) -> URL:
    """``url`` sent to ``address`` with libpq's TLS parameters, as an operator writes them."""
    host, _, port = address.rpartition(":")
    query = {"sslmode": "verify-full", "sslrootcert": str(ca_file)}
    if pair is not None:
        query |= {"sslcert": str(pair.cert), "sslkey": str(pair.key)}
    return make_url(url).set(host=host, port=int(port)).update_query_dict(query)


def upstream(url: str) -> str:
    parsed = make_url(url)
    return f"{parsed.host}:{parsed.port or 5432}"


async def test_cases_are_stored_over_verified_tls_with_a_client_certificate(
    ca: TestAuthority, client_pair: Pair, schema_url: str
) -> None:
    context = ca.server_context(client_certs=True)
    async with tls_proxy(upstream(schema_url), context, postgres=True) as address:
        url = through(schema_url, address, ca.ca_cert, client_pair)
        activities = await asyncio.to_thread(
            build_activities, url.render_as_string(hide_password=False)
        )  # the migrations ran through the proxy

        def read() -> list[OutboxRow]:
            with activities.sessions() as session:
                return list(session.scalars(select(OutboxRow)))

        try:
            assert await asyncio.to_thread(read) == []
        finally:
            bind = activities.sessions.kw["bind"]
            await asyncio.to_thread(bind.dispose)


async def test_a_database_certificate_of_another_ca_stops_the_worker_with_the_reason(
    ca: TestAuthority, client_pair: Pair, schema_url: str, tmp_path: Path
) -> None:
    other = TestAuthority(tmp_path / "other", name="other CA")
    async with tls_proxy(
        upstream(schema_url), ca.server_context(client_certs=True), postgres=True
    ) as address:
        url = through(schema_url, address, other.ca_cert, client_pair)
        url = url.set(password="db-secret-7")
        with pytest.raises(SetupError) as raised:
            await asyncio.to_thread(build_activities, url.render_as_string(hide_password=False))
    message = str(raised.value)
    assert message.startswith("cannot connect to the database postgresql+psycopg://postgres:***@")
    assert "certificate verify failed" in message
    assert "db-secret-7" not in message
