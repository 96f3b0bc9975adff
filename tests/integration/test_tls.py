"""TLS for real: IMAP and SMTP over STARTTLS and implicit TLS against servers with a test CA's certificate.

The client trusts the test CA only through ``SSL_CERT_FILE`` (see ``tests.servers.tls``): exactly how it would
trust a company CA. A certificate from another CA, or one for another host name, is refused before the
password is sent, with the message the account dialog shows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from inbox_app.channels.mail import imap, smtp
from inbox_app.channels.mail.compose import build_reply, new_message_id
from inbox_app.channels.mail.errors import TlsFailed
from inbox_app.channels.mail.imap import ImapConnection, ImapSettings
from inbox_app.channels.mail.security import Security
from inbox_app.channels.mail.smtp import SmtpSettings
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import SmtpServer
from tests.servers.tls import TestPki, TlsFiles, make_test_pki

pytestmark = pytest.mark.integration

USER, PASSWORD = "tls-shop", "tls-secret-pw"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return make_test_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def trust_test_ca(pki: TestPki, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.good.ca))


@pytest.fixture(scope="module")
def tls_dovecot(pki: TestPki) -> Iterator[DovecotServer]:
    with DovecotServer(tls=pki.good) as server:
        server.add_user(USER, PASSWORD)
        yield server


def _reply() -> bytes:
    return build_reply(
        from_addr="shop@example.com",
        from_name="Shop",
        to=["buyer@example.net"],
        subject="Re: Order 1234",
        body_text="Your parcel ships today.\n",
        in_reply_to="<order1234@example.net>",
        references=["<order1234@example.net>"],
        message_id=new_message_id("example.com"),
        attachments=[],
    )


def _smtp_server(tls: TlsFiles, implicit: bool) -> SmtpServer:
    return SmtpServer(USER, PASSWORD, tls=tls, implicit_tls=implicit)


# ------------------------------------------------------------------------------------------------ SMTP
@pytest.mark.parametrize(("security", "implicit"), [(Security.STARTTLS, False), (Security.TLS, True)])
def test_smtp_delivers_encrypted_with_a_verified_certificate(
    pki: TestPki, trust_test_ca: None, security: Security, implicit: bool
) -> None:
    with _smtp_server(pki.good, implicit) as server:
        settings = SmtpSettings(server.host, server.port, security, USER, PASSWORD, timeout=10)
        asyncio.run(smtp.test_smtp(settings))  # the account dialog's check
        raw = _reply()
        asyncio.run(smtp.send_raw(settings, raw, "shop@example.com", ["buyer@example.net"]))
        assert [(m.raw, m.tls) for m in server.messages] == [(raw, True)]
        assert server.logins and all(login.endswith(f":{USER}") for login in server.logins)


@pytest.mark.parametrize("which", ["untrusted", "wrong_host"])
@pytest.mark.parametrize(("security", "implicit"), [(Security.STARTTLS, False), (Security.TLS, True)])
def test_smtp_refuses_a_certificate_it_cannot_verify_before_logging_in(
    pki: TestPki, trust_test_ca: None, which: str, security: Security, implicit: bool
) -> None:
    server = _smtp_server(getattr(pki, which), implicit)
    server.expect_garbage = True  # the server logs the handshake our client aborts
    with server:
        settings = SmtpSettings(server.host, server.port, security, USER, PASSWORD, timeout=10)
        with pytest.raises(TlsFailed) as info:
            asyncio.run(smtp.send_raw(settings, _reply(), "shop@example.com", ["buyer@example.net"]))
        assert info.value.step == "tls"
        assert info.value.user_message == "The certificate of 127.0.0.1 is not valid or not trusted."
        assert server.messages == [] and server.logins == []  # the password never left the machine


# ------------------------------------------------------------------------------------------------ IMAP
def _imap(server: DovecotServer, security: Security) -> ImapSettings:
    port = server.tls_port if security is Security.TLS else server.port
    return ImapSettings(server.host, port, security, USER, PASSWORD, timeout=10)


@pytest.mark.parametrize("security", [Security.STARTTLS, Security.TLS])
def test_imap_logs_in_encrypted_with_a_verified_certificate(
    tls_dovecot: DovecotServer, trust_test_ca: None, security: Security
) -> None:
    settings = _imap(tls_dovecot, security)

    async def scenario() -> None:
        async with ImapConnection(settings) as conn:
            assert "INBOX" in dict(await conn.list_folders())
            status = await conn.select("INBOX")
            assert status.uidvalidity > 0
            client = conn._client
            sock = client._imap.sock if client is not None else None
            assert sock is not None and sock.version() in ("TLSv1.2", "TLSv1.3")  # really encrypted

    asyncio.run(scenario())
    assert "Sent" in asyncio.run(imap.test_connection(settings))


@pytest.mark.parametrize("security", [Security.STARTTLS, Security.TLS])
def test_imap_refuses_a_server_whose_certificate_is_not_trusted(
    tls_dovecot: DovecotServer, pki: TestPki, monkeypatch: pytest.MonkeyPatch, security: Security
) -> None:
    """Only the system's CAs (and not the test CA) are trusted here, as on a machine that was never told."""
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.untrusted.ca))
    logins_before = _logins(tls_dovecot)
    with pytest.raises(TlsFailed) as info:
        asyncio.run(imap.test_connection(_imap(tls_dovecot, security)))
    assert info.value.step == "tls"
    assert info.value.user_message == "The certificate of 127.0.0.1 is not valid or not trusted."
    assert _logins(tls_dovecot) == logins_before  # refused before the password was sent


def _logins(server: DovecotServer) -> int:
    return Path(server.log_path).read_text(errors="replace").count(f"Login: user=<{USER}>")
