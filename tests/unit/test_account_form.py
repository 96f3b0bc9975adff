"""The account form: server guessing, the checks before a test, and secrets kept out of repr."""

from __future__ import annotations

import pytest

from inbox_app.domain.account_form import (
    AccountForm,
    default_port,
    email_domain,
    is_loopback_host,
)


def complete_form(**changes: object) -> AccountForm:
    form = AccountForm(email="shop@example.com", password="s3cret")
    form.guess_servers()
    for key, value in changes.items():
        setattr(form, key, value)
    return form


def test_guess_uses_the_common_pattern_for_an_unknown_domain() -> None:
    form = AccountForm()
    form.guess_servers("  Shop@Example.COM ")
    assert form.email == "Shop@Example.COM"
    assert (form.imap_host, form.imap_port, form.imap_security) == ("imap.example.com", 993, "tls")
    assert (form.smtp_host, form.smtp_port, form.smtp_security) == ("smtp.example.com", 465, "tls")
    assert form.imap_user == form.smtp_user == "Shop@Example.COM"


def test_guess_knows_providers_that_break_the_pattern() -> None:
    form = AccountForm()
    form.guess_servers("verkauf@web.de")
    assert (form.imap_host, form.imap_port) == ("imap.web.de", 993)
    assert (form.smtp_host, form.smtp_port, form.smtp_security) == ("smtp.web.de", 587, "starttls")
    form.guess_servers("seller@gmail.com")
    assert (form.imap_host, form.smtp_host) == ("imap.gmail.com", "smtp.gmail.com")


@pytest.mark.parametrize("partial", ["shop", "shop@", "@example.com", ""])
def test_guess_keeps_servers_while_the_address_has_no_domain(partial: str) -> None:
    form = AccountForm(imap_host="mail.kept.example", smtp_host="out.kept.example")
    form.guess_servers(partial)
    assert (form.imap_host, form.smtp_host) == ("mail.kept.example", "out.kept.example")


def test_complete_form_has_no_problems() -> None:
    assert complete_form().validate() == []


def test_empty_form_names_every_missing_field() -> None:
    problems = AccountForm(imap_host="", smtp_host="").field_problems()
    assert list(problems) == ["email", "password", "imap_host", "smtp_host"]
    assert problems["email"] == "Enter your e-mail address."
    assert "incoming mail (IMAP)" in problems["imap_host"]
    assert AccountForm().validate() == list(problems.values())


@pytest.mark.parametrize("address", ["shop", "shop@example", "a b@example.com", "x@@example.com"])
def test_malformed_address_is_a_problem(address: str) -> None:
    problems = complete_form(email=address).field_problems()
    assert "is not an e-mail address" in problems["email"]


def test_bad_host_and_port_are_problems() -> None:
    problems = complete_form(imap_host="imap example.com", smtp_port=0).field_problems()
    assert problems["imap_host"] == "“imap example.com” is not a valid server name."
    assert "between 1 and 65535" in problems["smtp_port"]


def test_no_encryption_is_refused_for_a_remote_host_with_the_reason() -> None:
    problems = complete_form(imap_security="none").field_problems()
    assert list(problems) == ["imap_security"]
    assert "only allowed to this computer" in problems["imap_security"]
    assert "imap.example.com" in problems["imap_security"]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]", "127.5.5.5", "LOCALHOST."])
def test_no_encryption_is_fine_on_this_computer(host: str) -> None:
    assert is_loopback_host(host)
    form = complete_form(imap_host=host, imap_security="none", smtp_host=host, smtp_security="none")
    assert form.validate() == []


@pytest.mark.parametrize("host", ["localhost.example.com", "10.0.0.1", "128.0.0.1", "", "imap.example.com"])
def test_other_hosts_are_not_loopback(host: str) -> None:
    assert not is_loopback_host(host)


def test_empty_users_and_smtp_password_fall_back() -> None:
    form = AccountForm(email=" shop@example.com ", password="pw")
    assert form.effective_imap_user == form.effective_smtp_user == "shop@example.com"
    assert form.effective_smtp_password == "pw"
    assert form.account_name == "shop@example.com"
    form = AccountForm(email="shop@example.com", password="pw", imap_user="login7", smtp_password="relay")
    assert form.effective_smtp_user == "login7"
    assert form.effective_smtp_password == "relay"


def test_folders_are_cleaned_and_never_empty() -> None:
    assert AccountForm(folders=(" INBOX", "Amazon ", "", "Amazon")).effective_folders == ("INBOX", "Amazon")
    assert AccountForm(folders=()).effective_folders == ("INBOX",)


def test_passwords_never_show_in_repr() -> None:
    text = repr(AccountForm(email="a@b.example", password="hunter2-secret", smtp_password="relay-secret"))
    assert "a@b.example" in text
    assert "hunter2-secret" not in text
    assert "relay-secret" not in text


def test_default_ports_and_domain() -> None:
    assert [default_port("imap", "tls"), default_port("imap", "starttls")] == [993, 143]
    assert [default_port("smtp", "tls"), default_port("smtp", "starttls")] == [465, 587]
    assert email_domain("Shop@Mail.Example.") == "mail.example"
    assert email_domain("no-at-sign") == ""
