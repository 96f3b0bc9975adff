"""Test, then save, a mail account described by an :class:`~inbox_app.domain.account_form.AccountForm`.

Shared by the account dialog (injected into it by ``app.py``, since ``ui`` may not import ``sync``) and meant
for the CLI's ``account add imap`` as well. Why test first: a wrong setting found now is one clear sentence
("imap.example.com refused the user name or password"); found by the first sync it is a red icon at night.

Errors come out as :class:`AccountSetupError` with ``server`` ("imap"/"smtp") and ``step`` (dns, connect,
tls, login, folder, keyring), translated from the channel's ``MailError`` so callers need not know it.
The password goes to the OS keyring only; the database row holds no secret.
"""

from __future__ import annotations

import contextlib
import logging

from inbox_app.channels.mail.errors import InsecureConnectionRefused, MailError
from inbox_app.channels.mail.imap import ImapSettings, test_connection
from inbox_app.channels.mail.security import Security, check_security_allowed
from inbox_app.channels.mail.smtp import SmtpSettings, test_smtp
from inbox_app.domain.account_form import AccountForm, AccountSetupError
from inbox_app.i18n import _
from inbox_app.secrets import NoKeyringError, check_keyring
from inbox_app.store.accounts import MailAccountSettings, ServerSettings, create_mail_account
from inbox_app.store.db import database_proxy
from inbox_app.sync.credentials import delete_passwords, store_password

log = logging.getLogger("inbox_app.sync")

__all__ = ["AccountSetupError", "imap_settings", "save_account", "smtp_settings", "test_account"]


def imap_settings(form: AccountForm, *, timeout: float = 20) -> ImapSettings:
    return ImapSettings(
        host=form.imap_host.strip(),
        port=int(form.imap_port),
        security=Security(form.imap_security),
        user=form.effective_imap_user,
        password=form.password,
        timeout=timeout,
        disabled_extensions=frozenset(x.strip().upper() for x in form.imap_disabled_extensions if x.strip()),
    )


def smtp_settings(form: AccountForm, *, timeout: float = 20) -> SmtpSettings:
    return SmtpSettings(
        host=form.smtp_host.strip(),
        port=int(form.smtp_port),
        security=Security(form.smtp_security),
        user=form.effective_smtp_user,
        password=form.effective_smtp_password,
        timeout=timeout,
    )


def _failed(server: str, exc: MailError) -> AccountSetupError:
    # Refusing plain text is about the security setting, so point at it (the channel files it under "connect").
    step = "tls" if isinstance(exc, InsecureConnectionRefused) else exc.step
    return AccountSetupError(exc.user_message, server=server, step=step, detail=exc.detail)


def _check_form(form: AccountForm) -> None:
    problems = form.validate()
    if problems:
        raise AccountSetupError(problems[0], step="form", detail="; ".join(form.field_problems()))


async def test_account(form: AccountForm, *, timeout: float = 20) -> list[str]:
    """Log in to IMAP (and open INBOX), check the chosen folders, log in to SMTP; return the IMAP folders.

    Raises :class:`AccountSetupError` naming the server and step that failed. Nothing is stored.
    """
    _check_form(form)
    imap, smtp = imap_settings(form, timeout=timeout), smtp_settings(form, timeout=timeout)
    for server, settings in (("imap", imap), ("smtp", smtp)):
        try:
            check_security_allowed(settings.host, settings.security, sends_password=bool(settings.user))
        except MailError as exc:
            raise _failed(server, exc) from exc
    try:
        folders = await test_connection(imap)
    except MailError as exc:
        log.info("IMAP test of %s failed at %s: %s", imap.host, exc.step, exc.detail)
        raise _failed("imap", exc) from exc
    known = {f.casefold() for f in folders}
    for folder in form.effective_folders:
        if folder.upper() != "INBOX" and folder.casefold() not in known:
            raise AccountSetupError(
                _("The folder “{folder}” does not exist on the server.").format(folder=folder),
                server="imap",
                step="folder",
                detail=f"not among {len(folders)} folders",
            )
    try:
        await test_smtp(smtp)
    except MailError as exc:
        log.info("SMTP test of %s failed at %s: %s", smtp.host, exc.step, exc.detail)
        raise _failed("smtp", exc) from exc
    return folders


test_account.__test__ = False  # type: ignore[attr-defined]  # not a pytest test despite the name


def account_settings(form: AccountForm) -> MailAccountSettings:
    """The JSON-able settings stored on ``Account.settings`` (no password)."""
    return MailAccountSettings(
        imap=ServerSettings(
            form.imap_host.strip(), int(form.imap_port), form.imap_security, form.effective_imap_user
        ),
        smtp=ServerSettings(
            form.smtp_host.strip(), int(form.smtp_port), form.smtp_security, form.effective_smtp_user
        ),
        from_address=form.email.strip(),
        from_name=form.from_name.strip(),
        folders=form.effective_folders,
        amazon_sender=form.amazon_sender,
        extra=(
            {"imap_disabled_extensions": sorted({x.strip().upper() for x in form.imap_disabled_extensions})}
            if any(x.strip() for x in form.imap_disabled_extensions)
            else {}
        ),
    )


def save_account(form: AccountForm) -> int:
    """Store the account and put its passwords ("imap", "smtp") in the keyring; returns the account id.

    All or nothing: when the keyring refuses, the account row is rolled back and no secret is left behind.
    Needs an open profile (the database bound by ``open_profile``).
    """
    _check_form(form)
    try:
        check_keyring()  # before creating anything: we must be able to keep the password
        with database_proxy.atomic():
            account = create_mail_account(form.account_name, account_settings(form))
            try:
                store_password(account, "imap", form.password)
                if form.smtp_auth:  # a relay without authentication has no password to keep
                    store_password(account, "smtp", form.effective_smtp_password)
            except NoKeyringError:
                with contextlib.suppress(NoKeyringError):
                    delete_passwords(account.id)
                raise
    except NoKeyringError as exc:
        raise AccountSetupError(exc.user_message, step="keyring") from exc
    log.info("mail account %d (%s) added", account.id, form.imap_host)
    return int(account.id)
