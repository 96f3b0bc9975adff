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
from inbox_app.sync.credentials import (
    delete_passwords,
    forget_password,
    store_password,
    stored_password,
)

log = logging.getLogger("inbox_app.sync")

__all__ = [
    "AccountSetupError",
    "account_form",
    "imap_settings",
    "remove_account",
    "save_account",
    "smtp_settings",
    "test_account",
    "update_account",
]


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


def account_form(account_id: int) -> AccountForm:
    """The stored account as the dialog's fields, passwords read from the keyring (to test or keep them)."""
    from inbox_app.store.accounts import get_account, mail_settings

    account = get_account(account_id)
    if account is None:
        raise AccountSetupError(_("There is no account {id}.").format(id=account_id), step="form")
    settings = mail_settings(account)
    try:
        password = stored_password(account, "imap")
        smtp_password = stored_password(account, "smtp")
    except NoKeyringError:
        password = smtp_password = ""  # the form then asks for them
    extensions = settings.extra.get("imap_disabled_extensions") or ()
    return AccountForm(
        email=settings.from_address,
        password=password,
        from_name=settings.from_name,
        name=str(account.name) if str(account.name) != settings.from_address else "",
        imap_host=settings.imap.host,
        imap_port=settings.imap.port,
        imap_security=settings.imap.security,
        imap_user=settings.imap.user if settings.imap.user != settings.from_address else "",
        smtp_host=settings.smtp.host,
        smtp_port=settings.smtp.port,
        smtp_security=settings.smtp.security,
        smtp_user=settings.smtp.user if settings.smtp.user != settings.imap.user else "",
        smtp_password=smtp_password if smtp_password != password else "",
        folders=tuple(settings.folders),
        amazon_sender=settings.amazon_sender,
        imap_disabled_extensions=tuple(str(x) for x in extensions),
    )


def update_account(account_id: int, form: AccountForm) -> int:
    """Store an edited account (settings and, when given, passwords); returns its id. Same checks as saving."""
    from inbox_app.store.accounts import get_account
    from inbox_app.store.accounts import update_account as store_update

    _check_form(form)
    account = get_account(account_id)
    if account is None:
        raise AccountSetupError(_("There is no account {id}.").format(id=account_id), step="form")
    try:
        check_keyring()
        with database_proxy.atomic():
            store_update(account, form.account_name, account_settings(form))
            account = get_account(account_id) or account  # the new servers: each password is bound to them
            store_password(account, "imap", form.password)
            if form.smtp_auth:
                store_password(account, "smtp", form.effective_smtp_password)
            else:  # a relay without authentication keeps no password
                forget_password(account, "smtp")
    except NoKeyringError as exc:
        raise AccountSetupError(exc.user_message, step="keyring") from exc
    log.info("mail account %d edited (%s)", account_id, form.imap_host)
    return account_id


def remove_account(account_id: int, *, delete_conversations: bool) -> int:
    """Remove an account and its passwords; see :func:`inbox_app.store.accounts.remove_account`."""
    from inbox_app.store.accounts import get_account
    from inbox_app.store.accounts import remove_account as store_remove

    account = get_account(account_id)
    if account is None:
        raise AccountSetupError(_("There is no account {id}.").format(id=account_id), step="form")
    deleted = store_remove(account, delete_conversations=delete_conversations)
    with contextlib.suppress(NoKeyringError):  # nothing to delete where no keyring exists
        delete_passwords(account_id)
    log.info("account %d removed (%d conversations deleted)", account_id, deleted)
    return deleted
