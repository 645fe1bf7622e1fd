"""PyMySQL connections without loading the system's CA certificates for nothing.

With no TLS option at all, PyMySQL (1.1 on) connects in "preferred" mode: TLS if the
server offers it, plain otherwise, and never verifying the server's certificate (there
is no CA to verify it with). It still builds that context with
`ssl.create_default_context()`, which parses every certificate of the system's CA
bundle (tens of milliseconds, at every connection) and then turns verification off, so
the bundle is never read again. `PreferredTLSConnection` builds the same unverified
context without the bundle, and leaves every other case to PyMySQL: a context or any
`ssl`, `ssl_ca`, `ssl_cert`, `ssl_key`, `ssl_verify_cert` or `ssl_verify_identity`
argument (from the URL's query or `connect_args`) asks for TLS, which PyMySQL then
requires and verifies as asked; `ssl_disabled` still turns it off.
"""

from __future__ import annotations

import os
import ssl
import sys
from typing import Any

import pymysql.connections


def preferred_context() -> ssl.SSLContext:
    """The context PyMySQL makes for its preferred mode, bar the unused CA bundle: TLS
    as a client with the `ssl` module's defaults (protocols, ciphers), no hostname check,
    no certificate verification (`CERT_NONE`: no CA is consulted)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.verify_flags &= ~ssl.VERIFY_X509_STRICT
    context.options |= ssl.OP_NO_SSLv2 | ssl.OP_NO_SSLv3
    keylog = os.environ.get("SSLKEYLOGFILE")  # as create_default_context honours it
    if keylog and not sys.flags.ignore_environment:
        context.keylog_filename = keylog
    return context


class PreferredTLSConnection(pymysql.connections.Connection):  # type: ignore[misc]
    """A PyMySQL connection whose preferred-mode context skips the CA bundle."""

    def _create_ssl_ctx(self, sslp: Any) -> ssl.SSLContext:
        # PyMySQL asks with an empty dict exactly when no TLS option was given
        if isinstance(sslp, dict) and not sslp:
            return preferred_context()
        context: ssl.SSLContext = super()._create_ssl_ctx(sslp)
        return context


def connect(*args: Any, **kwargs: Any) -> PreferredTLSConnection:
    """`pymysql.connect`, with the preferred-mode context above."""
    return PreferredTLSConnection(*args, **kwargs)
