"""``inbox-app account add imap …`` and ``account list``: set up mailboxes from a terminal.

The connection is tried before anything is stored (unless ``--no-test``), and the failure names the step that
broke (server name, connection, encryption, login, folder) so the user knows which setting to fix. The password
comes from an environment variable (never the command line, where ``ps`` and shell history would see it) and
goes straight into the OS keyring.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from typing import Any

from inbox_app.cli import CliError, profile_from_args
from inbox_app.i18n import _

STEP_LABELS = {
    "dns": "server name",
    "connect": "connection",
    "tls": "encryption (TLS)",
    "login": "login",
    "folder": "folder",
    "send": "sending",
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    account = sub.add_parser("account", help=_("set up and list mail accounts"))
    account_sub = account.add_subparsers(dest="account_command", metavar="ACTION", required=True)

    add = account_sub.add_parser("add", help=_("add an account"))
    add_sub = add.add_subparsers(dest="account_kind", metavar="KIND", required=True)
    imap = add_sub.add_parser("imap", help=_("an IMAP/SMTP mailbox"))
    imap.add_argument("--name", required=True, help=_("display name of the account"))
    imap.add_argument("--imap-host", required=True)
    imap.add_argument("--imap-port", type=int, default=None)
    imap.add_argument("--imap-security", choices=("tls", "starttls", "none"), default="tls")
    imap.add_argument("--user", required=True, help=_("login name (IMAP and SMTP)"))
    imap.add_argument(
        "--password-env", required=True, metavar="VAR", help=_("environment variable that holds the password")
    )
    imap.add_argument("--smtp-host", required=True)
    imap.add_argument("--smtp-port", type=int, default=None)
    imap.add_argument("--smtp-security", choices=("tls", "starttls", "none"), default="tls")
    imap.add_argument("--smtp-user", default=None, help=_("SMTP login if different from --user"))
    imap.add_argument("--from", dest="from_address", required=True, help=_("sender address of replies"))
    imap.add_argument("--from-name", default="", help=_("sender name of replies"))
    imap.add_argument("--folders", default="INBOX", help=_("comma-separated folders to sync (default INBOX)"))
    imap.add_argument(
        "--amazon-sender", action="store_true", help=_("this address is an Amazon seller sender")
    )
    imap.add_argument("--no-test", action="store_true", help=_("store without trying the connection"))
    imap.set_defaults(func=cmd_add_imap)

    lst = account_sub.add_parser("list", help=_("list accounts"))
    lst.add_argument("--json", action="store_true", help=_("machine-readable output"))
    lst.set_defaults(func=cmd_list)


def _default_port(kind: str, security: str) -> int:
    if kind == "imap":
        return 993 if security == "tls" else 143
    return 465 if security == "tls" else 587


def _mail_error_text(server: str, exc: Any) -> str:
    step = STEP_LABELS.get(getattr(exc, "step", ""), getattr(exc, "step", ""))
    return _("{server} check failed at step “{step}”: {message}").format(
        server=server, step=step, message=exc.user_message
    )


async def _test(imap_settings: Any, smtp_settings: Any, folders: list[str]) -> None:
    from inbox_app.channels.mail.errors import MailError
    from inbox_app.channels.mail.imap import test_connection
    from inbox_app.channels.mail.smtp import test_smtp

    try:
        found = await test_connection(imap_settings)
    except MailError as exc:
        raise CliError(_mail_error_text("IMAP", exc)) from exc
    missing = [f for f in folders if f not in found and f.upper() != "INBOX"]
    if missing:
        raise CliError(
            _(
                "IMAP check failed at step “folder”: the folder “{folder}” does not exist on the server."
            ).format(folder=missing[0])
        )
    try:
        await test_smtp(smtp_settings)
    except MailError as exc:
        raise CliError(_mail_error_text("SMTP", exc)) from exc


def cmd_add_imap(args: argparse.Namespace) -> int:
    from inbox_app.channels.mail.errors import MailError
    from inbox_app.channels.mail.imap import ImapSettings
    from inbox_app.channels.mail.security import Security, check_security_allowed
    from inbox_app.channels.mail.smtp import SmtpSettings
    from inbox_app.secrets import NoKeyringError, check_keyring, set_secret
    from inbox_app.store.accounts import MailAccountSettings, ServerSettings, create_mail_account

    password = os.environ.get(args.password_env)
    if password is None:
        raise CliError(_("The environment variable {var} is not set.").format(var=args.password_env))
    imap_port = args.imap_port or _default_port("imap", args.imap_security)
    smtp_port = args.smtp_port or _default_port("smtp", args.smtp_security)
    smtp_user = args.user if args.smtp_user is None else args.smtp_user
    try:
        check_security_allowed(args.imap_host, Security(args.imap_security))
        check_security_allowed(args.smtp_host, Security(args.smtp_security))
    except MailError as exc:
        raise CliError(exc.user_message) from exc
    try:
        check_keyring()
    except NoKeyringError as exc:
        raise CliError(exc.user_message) from exc
    folders = [f.strip() for f in args.folders.split(",") if f.strip()] or ["INBOX"]
    if not args.no_test:
        asyncio.run(
            _test(
                ImapSettings(args.imap_host, imap_port, Security(args.imap_security), args.user, password),
                SmtpSettings(args.smtp_host, smtp_port, Security(args.smtp_security), smtp_user, password),
                folders,
            )
        )
    settings = MailAccountSettings(
        imap=ServerSettings(args.imap_host, imap_port, args.imap_security, args.user),
        smtp=ServerSettings(args.smtp_host, smtp_port, args.smtp_security, smtp_user),
        from_address=args.from_address,
        from_name=args.from_name,
        folders=tuple(folders),
        amazon_sender=args.amazon_sender,
    )
    profile = profile_from_args(args)
    try:
        with profile.db.atomic():
            account = create_mail_account(args.name, settings)
            try:
                set_secret(account.id, "imap", password)
                set_secret(account.id, "smtp", password)
            except NoKeyringError as exc:
                raise CliError(exc.user_message) from exc
        print(account.id)
    finally:
        profile.close()
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from inbox_app.store.accounts import account_info, list_accounts

    profile = profile_from_args(args)
    try:
        infos = [account_info(a) for a in list_accounts()]
    finally:
        profile.close()
    if args.json:
        print(json.dumps(infos, ensure_ascii=False, indent=2))
    else:
        for info in infos:
            settings = info["settings"]
            address = settings.get("from_address", "") if isinstance(settings, dict) else ""
            print(f"{info['id']}\t{info['kind']}\t{info['name']}\t{address}")
    return 0
