"""Which connections may go out unencrypted, and that TLS settings always verify."""

from __future__ import annotations

import ssl

import pytest

from inbox_app.channels.mail.errors import InsecureConnectionRefused, MailError
from inbox_app.channels.mail.imap import ImapSettings
from inbox_app.channels.mail.security import Security, check_security_allowed, is_loopback, tls_context
from inbox_app.channels.mail.smtp import SmtpSettings


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.5.6.7", "::1", "[::1]", "localhost", "LOCALHOST", "localhost."]
)
def test_loopback_hosts_may_use_plain_text(host: str) -> None:
    assert is_loopback(host)
    check_security_allowed(host, Security.NONE)  # no exception


@pytest.mark.parametrize(
    "host",
    [
        "imap.example.com",
        "10.0.0.1",
        "192.168.1.20",
        "0.0.0.0",
        "::",
        "localhost.example.com",
        "128.0.0.1",
        "",
    ],
)
def test_other_hosts_refuse_plain_text(host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(InsecureConnectionRefused) as info:
        check_security_allowed(host, Security.NONE)
    assert isinstance(info.value, MailError)
    assert info.value.step == "connect"
    assert host in info.value.user_message


@pytest.mark.parametrize("security", [Security.TLS, Security.STARTTLS])
def test_encrypted_connections_are_allowed_anywhere(security: Security) -> None:
    check_security_allowed("imap.example.com", security)
    check_security_allowed("127.0.0.1", security)


def test_security_accepts_stored_strings() -> None:
    assert Security("none") is Security.NONE
    with pytest.raises(InsecureConnectionRefused):
        check_security_allowed("mail.example.com", "none")  # type: ignore[arg-type]


def test_tls_context_verifies_certificate_and_host_name() -> None:
    context = tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2


def test_settings_never_show_the_password() -> None:
    imap = ImapSettings("imap.example.com", 993, Security.TLS, "me", "hunter2-secret")
    smtp = SmtpSettings("smtp.example.com", 465, Security.TLS, "me", "hunter2-secret")
    for settings in (imap, smtp):
        assert "hunter2-secret" not in repr(settings)
        assert "hunter2-secret" not in str(settings)
