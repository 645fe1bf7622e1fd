"""MariaDB/MySQL through PyMySQL: dbshift's connections skip loading the system's CA
bundle when no TLS is asked for (PyMySQL's preferred mode never verifies, so the bundle
is never read), and keep TLS, required and verified as asked, whenever it is asked for."""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import pymysql.connections
import pytest
import sqlalchemy as sa

import dbshift
from dbshift import database
from dbshift.dialects.mysql.connect import PreferredTLSConnection, preferred_context
from dbshift.errors import DatabaseError
from tests.conftest import SERVER_URLS, require_backend

#: a CA bundle to name in `ssl_ca`: any PEM file of CA certificates will do
CA_FILE = Path(ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt")


def _pymysql_preferred() -> ssl.SSLContext:
    """The context PyMySQL itself makes when no TLS option is given."""
    conn = pymysql.connections.Connection(defer_connect=True)
    assert conn.ssl and not conn._ssl_required, "PyMySQL no longer has a preferred mode"
    context: ssl.SSLContext = conn.ctx
    return context


def test_the_preferred_context_is_pymysqls_without_the_ca_bundle() -> None:
    ours, theirs = preferred_context(), _pymysql_preferred()
    for attribute in (
        "protocol",
        "verify_mode",
        "check_hostname",
        "options",
        "minimum_version",
        "maximum_version",
        "verify_flags",
        "post_handshake_auth",
    ):
        assert getattr(ours, attribute) == getattr(theirs, attribute), attribute
    assert [c["name"] for c in ours.get_ciphers()] == [c["name"] for c in theirs.get_ciphers()]
    assert ours.verify_mode == ssl.CERT_NONE and not ours.check_hostname
    assert theirs.cert_store_stats()["x509_ca"] > 0  # what the bundle costs PyMySQL
    assert ours.cert_store_stats()["x509_ca"] == 0


@pytest.mark.parametrize(
    "options",
    [
        {"ssl_ca": str(CA_FILE)},
        {"ssl_verify_cert": True},
        {"ssl_verify_identity": True},
        {"ssl": {"ca": str(CA_FILE)}},
        {"ssl": "context"},
    ],
    ids=["ssl_ca", "ssl_verify_cert", "ssl_verify_identity", "ssl dict", "ssl context"],
)
def test_asked_tls_is_left_to_pymysql_and_required(options: dict[str, object]) -> None:
    if options.get("ssl") == "context":
        options = {"ssl": ssl.create_default_context(cafile=str(CA_FILE))}
    conn = PreferredTLSConnection(defer_connect=True, **options)  # type: ignore[arg-type]
    reference = pymysql.connections.Connection(defer_connect=True, **options)  # type: ignore[arg-type]
    assert conn._ssl_required and reference._ssl_required  # no plain fallback
    assert conn.ctx.verify_mode == reference.ctx.verify_mode
    assert conn.ctx.check_hostname == reference.ctx.check_hostname
    assert conn.ctx.cert_store_stats() == reference.ctx.cert_store_stats()
    assert conn.ctx.cert_store_stats()["x509_ca"] > 0


def test_ssl_disabled_stays_disabled() -> None:
    conn = PreferredTLSConnection(defer_connect=True, ssl_disabled=True)
    assert not conn.ssl


def _config(query: str = "") -> dbshift.Config:
    require_backend("mysql")
    url = sa.make_url(SERVER_URLS["mysql"])
    if url.get_driver_name() != "pymysql":
        pytest.skip(f"the test server's URL uses {url.get_driver_name()}, not PyMySQL")
    return dbshift.Config(url=url.render_as_string(hide_password=False) + query)


def _tls_cipher(conn: sa.Connection) -> str:
    row = conn.exec_driver_sql("SHOW SESSION STATUS LIKE 'Ssl_cipher'").one()
    return str(row[1] or "")


def test_a_plain_url_connects_without_the_ca_bundle() -> None:
    config = _config()

    def job(conn: sa.Connection) -> tuple[object, str]:
        raw = conn.connection.dbapi_connection
        return raw, _tls_cipher(conn)

    raw, cipher = database.run(config, job)
    assert isinstance(raw, PreferredTLSConnection)
    assert raw.ctx.cert_store_stats()["x509_ca"] == 0
    # preferred mode as PyMySQL has it: TLS exactly when the server offers it
    offered = bool(raw.server_capabilities & pymysql.constants.CLIENT.SSL)
    assert bool(cipher) == offered


def test_a_url_asking_for_tls_never_connects_in_plain() -> None:
    """`?ssl_ca=...` makes PyMySQL require TLS: against a server without it the
    connection fails rather than going on unencrypted; with it, the session is TLS."""
    config = _config(f"?ssl_ca={CA_FILE}&ssl_check_hostname=false")
    try:
        cipher = database.run(config, _tls_cipher)
    except DatabaseError as error:
        assert "SSL" in str(error)
    else:
        assert cipher


#: a MariaDB/MySQL server with TLS and a user created `REQUIRE SSL`, as a PyMySQL URL
#: naming the server's CA (`...?ssl_ca=/path/ca.pem`); the tests below skip without it
TLS_URL = os.environ.get("DBSHIFT_TEST_MYSQL_TLS_URL")


def _tls_config(url: sa.URL) -> dbshift.Config:
    return dbshift.Config(url=url.render_as_string(hide_password=False))


@pytest.mark.skipif(TLS_URL is None, reason="DBSHIFT_TEST_MYSQL_TLS_URL is not set")
def test_a_user_requiring_tls_connects_verified_and_in_preferred_mode() -> None:
    url = sa.make_url(str(TLS_URL))
    assert url.query.get("ssl_ca"), "DBSHIFT_TEST_MYSQL_TLS_URL names the server's CA"
    # verified against the server's CA (the URL's ssl_ca: PyMySQL requires TLS)
    assert database.run(_tls_config(url), _tls_cipher)
    # no TLS option: preferred mode negotiates TLS with the bundle-less context

    def plain(conn: sa.Connection) -> tuple[object, str]:
        return conn.connection.dbapi_connection, _tls_cipher(conn)

    raw, cipher = database.run(_tls_config(url.difference_update_query(["ssl_ca"])), plain)
    assert isinstance(raw, PreferredTLSConnection) and cipher
    # TLS turned off: the server refuses the user
    with pytest.raises(DatabaseError):
        database.run(_tls_config(url.update_query_dict({"ssl_disabled": "true"})), _tls_cipher)
    # a CA that did not sign the server's certificate: verification fails the connection
    other_ca = url.update_query_dict({"ssl_ca": str(CA_FILE)})
    with pytest.raises(DatabaseError, match="CERTIFICATE_VERIFY_FAILED"):
        database.run(_tls_config(other_ca), _tls_cipher)


# --- asyncmy, the async driver (the `async` extra) ---------------------------------------
# asyncmy has no preferred mode: with no TLS option it makes no context (so it reads no
# CA bundle either) and connects in plain; asked for TLS (SQLAlchemy's `ssl_*` query
# arguments reach it as PyMySQL's `ssl` dict) it requires it, whatever the server
# offers. `dialects/mysql/connect.py` has nothing to mend for it; these hold that true.


def _async_config(query: str = "") -> dbshift.Config:
    require_backend("mysql")
    url = sa.make_url(SERVER_URLS["mysql"]).set(drivername="mysql+asyncmy")
    return dbshift.Config(url=url.render_as_string(hide_password=False) + query)


def _driver_connection(conn: sa.Connection) -> tuple[object, str]:
    raw = conn.connection.driver_connection
    return raw, _tls_cipher(conn)


def test_asyncmy_on_a_plain_url_makes_no_tls_context() -> None:
    raw, cipher = database.run(_async_config(), _driver_connection)
    assert type(raw).__module__.startswith("asyncmy")
    assert raw._ssl_context is None  # type: ignore[attr-defined]
    assert cipher == ""


def test_asyncmy_asked_for_tls_never_connects_in_plain() -> None:
    """The same URL as PyMySQL's test above: TLS or a refused connection, never a
    silent fall back to plain (which aiomysql does against a server without TLS)."""
    config = _async_config(f"?ssl_ca={CA_FILE}&ssl_check_hostname=false")
    try:
        raw, cipher = database.run(config, _driver_connection)
    except DatabaseError as error:
        assert "SSL" in str(error)
    else:
        assert cipher and raw._ssl_context is not None  # type: ignore[attr-defined]


@pytest.mark.skipif(TLS_URL is None, reason="DBSHIFT_TEST_MYSQL_TLS_URL is not set")
def test_asyncmy_verifies_the_server_as_asked() -> None:
    url = sa.make_url(str(TLS_URL)).set(drivername="mysql+asyncmy")
    assert database.run(_tls_config(url), _tls_cipher)
    other_ca = url.update_query_dict({"ssl_ca": str(CA_FILE)})
    with pytest.raises(DatabaseError, match="CERTIFICATE_VERIFY_FAILED"):
        database.run(_tls_config(other_ca), _tls_cipher)
