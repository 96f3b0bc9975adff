"""The SMTP channel against a real aiosmtpd server: delivery, login, and how each failure is classified."""

from __future__ import annotations

import asyncio
import dataclasses
import email
from email import policy

import pytest

from inbox_app.channels.mail import smtp
from inbox_app.channels.mail.compose import build_reply, new_message_id
from inbox_app.channels.mail.errors import (
    ConnectionFailed,
    InsecureConnectionRefused,
    LoginFailed,
    SendFailed,
    TlsFailed,
)
from inbox_app.channels.mail.security import Security
from inbox_app.channels.mail.smtp import SmtpSettings, send_raw
from tests.servers import free_port
from tests.servers.smtp import SmtpServer

pytestmark = pytest.mark.integration

FROM = "seller@shop.example"
TO = "buyer7@example.net"


def reply(body: str = "Your parcel left today. Grüße aus Köln!") -> bytes:
    return build_reply(
        from_addr=FROM,
        from_name="Mein Laden",
        to=[TO],
        subject="Wo ist meine Bestellung?",
        body_text=body,
        in_reply_to="<order-7@example.net>",
        references=["<order-7@example.net>"],
        message_id=new_message_id("shop.example"),
    )


def test_send_delivers_the_exact_message(smtp_server: SmtpServer, smtp_settings: SmtpSettings) -> None:
    raw = reply()
    asyncio.run(send_raw(smtp_settings, raw, FROM, [TO, "copy@shop.example"]))
    [received] = smtp_server.messages
    assert received.mail_from == FROM
    assert received.rcpt_tos == (TO, "copy@shop.example")
    assert received.raw.rstrip(b"\r\n") == raw.rstrip(b"\r\n")
    parsed = email.message_from_bytes(received.raw, policy=policy.default)
    assert parsed["Subject"] == "Re: Wo ist meine Bestellung?"
    assert "Grüße aus Köln!" in parsed.get_body().get_content()  # type: ignore[union-attr]
    assert len(smtp_server.maildir) == 1
    assert smtp_server.logins  # it did log in


def test_smtp_connection_test_succeeds(smtp_server: SmtpServer, smtp_settings: SmtpSettings) -> None:
    asyncio.run(smtp.test_smtp(smtp_settings))
    assert smtp_server.logins
    assert smtp_server.messages == []


def test_wrong_password_is_login_failed(smtp_server: SmtpServer, smtp_settings: SmtpSettings) -> None:
    bad = dataclasses.replace(smtp_settings, password="not-the-password")
    with pytest.raises(LoginFailed) as info:
        asyncio.run(send_raw(bad, reply(), FROM, [TO]))
    assert info.value.step == "login"
    assert "not-the-password" not in str(info.value) and "not-the-password" not in repr(bad)
    assert smtp_server.messages == []


def test_without_login_the_server_refuses_permanently(
    smtp_server: SmtpServer, smtp_settings: SmtpSettings
) -> None:
    anonymous = dataclasses.replace(smtp_settings, user="", password="")
    with pytest.raises(SendFailed) as info:
        asyncio.run(send_raw(anonymous, reply(), FROM, [TO]))
    assert (info.value.code, info.value.temporary) == (530, False)


@pytest.mark.parametrize("code", [421, 451])
def test_temporary_failure_is_temporary(
    smtp_server: SmtpServer, smtp_settings: SmtpSettings, code: int
) -> None:
    smtp_server.fail_with = code
    with pytest.raises(SendFailed) as info:
        asyncio.run(send_raw(smtp_settings, reply(), FROM, [TO]))
    assert info.value.temporary is True
    assert info.value.code == code
    assert info.value.step == "send"
    assert smtp_server.messages == []


def test_temporary_failure_at_mail_from(smtp_server: SmtpServer, smtp_settings: SmtpSettings) -> None:
    smtp_server.fail_with, smtp_server.fail_at = 451, "mail"
    with pytest.raises(SendFailed) as info:
        asyncio.run(send_raw(smtp_settings, reply(), FROM, [TO]))
    assert (info.value.temporary, info.value.maybe_delivered) == (True, False)


def test_rejection_is_permanent(smtp_server: SmtpServer, smtp_settings: SmtpSettings) -> None:
    smtp_server.fail_with = 550
    with pytest.raises(SendFailed) as info:
        asyncio.run(send_raw(smtp_settings, reply(), FROM, [TO]))
    assert (info.value.temporary, info.value.code, info.value.maybe_delivered) == (False, 550, False)
    assert info.value.user_message


def test_refused_recipient_is_permanent(smtp_server: SmtpServer, smtp_settings: SmtpSettings) -> None:
    smtp_server.fail_with, smtp_server.fail_at = 550, "rcpt"
    with pytest.raises(SendFailed) as info:
        asyncio.run(send_raw(smtp_settings, reply(), FROM, [TO]))
    assert (info.value.temporary, info.value.code) == (False, 550)
    assert smtp_server.messages == []


def test_dropped_after_data_is_temporary_and_maybe_delivered(
    smtp_server: SmtpServer, smtp_settings: SmtpSettings
) -> None:
    smtp_server.drop_after_data = True
    raw = reply()
    with pytest.raises(SendFailed) as info:
        asyncio.run(send_raw(smtp_settings, raw, FROM, [TO]))
    assert info.value.temporary is True
    assert info.value.maybe_delivered is True
    # The server did get it: this is exactly why the outbox must not blindly resend.
    assert [m.raw.rstrip(b"\r\n") for m in smtp_server.messages] == [raw.rstrip(b"\r\n")]


def test_nothing_listening_is_connection_failed(smtp_settings: SmtpSettings) -> None:
    with pytest.raises(ConnectionFailed) as info:
        asyncio.run(send_raw(dataclasses.replace(smtp_settings, port=free_port()), reply(), FROM, [TO]))
    assert info.value.step == "connect"


def test_unknown_host_fails_at_dns_step(smtp_settings: SmtpSettings) -> None:
    bad = dataclasses.replace(smtp_settings, host="no-such-smtp-server.invalid", security=Security.TLS)
    with pytest.raises(ConnectionFailed) as info:
        asyncio.run(smtp.test_smtp(bad))
    assert info.value.step == "dns"


def test_tls_against_plain_server_is_tls_failure() -> None:
    server = SmtpServer()
    server.expect_garbage = True  # our TLS hello is garbage to a plain-text server, and it logs so
    with server:
        settings = SmtpSettings(server.host, server.port, Security.TLS, user="", password="", timeout=5)
        with pytest.raises(TlsFailed) as info:
            asyncio.run(smtp.test_smtp(settings))
    assert info.value.step == "tls"


def test_starttls_required_but_not_offered(smtp_server: SmtpServer, smtp_settings: SmtpSettings) -> None:
    with pytest.raises(TlsFailed) as info:
        asyncio.run(smtp.test_smtp(dataclasses.replace(smtp_settings, security=Security.STARTTLS)))
    assert info.value.step == "tls"
    assert smtp_server.logins == []  # the password never went out in clear text


def test_plain_text_to_remote_host_is_refused(smtp_settings: SmtpSettings) -> None:
    remote = dataclasses.replace(smtp_settings, host="smtp.example.com", security=Security.NONE)
    with pytest.raises(InsecureConnectionRefused):
        asyncio.run(send_raw(remote, reply(), FROM, [TO]))
