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
import sys

from inbox_app.cli import CliError, profile_from_args
from inbox_app.domain.account_form import AccountSetupError
from inbox_app.i18n import N_, _, ngettext


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
    imap.add_argument(
        "--smtp-auth",
        choices=("password", "none"),
        default="password",
        help=_("none: send without logging in (a local relay that trusts this computer or network)"),
    )
    imap.add_argument("--from", dest="from_address", required=True, help=_("sender address of replies"))
    imap.add_argument("--from-name", default="", help=_("sender name of replies"))
    imap.add_argument("--folders", default="INBOX", help=_("comma-separated folders to sync (default INBOX)"))
    imap.add_argument(
        "--amazon-sender", action="store_true", help=_("this address is an Amazon seller sender")
    )
    imap.add_argument(
        "--imap-disable",
        action="append",
        default=[],
        metavar="EXTENSION",
        choices=("QRESYNC", "CONDSTORE"),
        type=str.upper,
        help=_(
            "do not use this IMAP extension although the server offers it (for a server that gets it wrong)"
        ),
    )
    imap.add_argument("--no-test", action="store_true", help=_("store without trying the connection"))
    imap.set_defaults(func=cmd_add_imap)

    mirakl = add_sub.add_parser("mirakl", help=_("a Mirakl marketplace shop (Carrefour, Fnac, ManoMano…)"))
    mirakl.add_argument(
        "--name", required=True, help=_("the marketplace's name, shown as the channel (e.g. “Fnac ES”)")
    )
    mirakl.add_argument(
        "--base-url", required=True, help=_("the operator's API address, e.g. https://fnac-es.mirakl.net")
    )
    mirakl.add_argument(
        "--api-key-env",
        required=True,
        metavar="VAR",
        help=_("environment variable that holds the shop API key"),
    )
    mirakl.add_argument("--shop-id", default=None, help=_("the shop id, when the key serves several shops"))
    mirakl.add_argument(
        "--marketplace", default=None, help=_("the operator, for its reply deadline (default: the name)")
    )
    mirakl.add_argument("--no-test", action="store_true", help=_("store without trying the connection"))
    mirakl.set_defaults(func=cmd_add_api_account, api_kind="mirakl")

    edit = account_sub.add_parser("edit", help=_("change an account's settings (tested before saving)"))
    edit.add_argument("account_id", type=int, metavar="ID")
    edit.add_argument("--name", default=None, help=_("display name of the account"))
    edit.add_argument("--imap-host", default=None)
    edit.add_argument("--imap-port", type=int, default=None)
    edit.add_argument("--imap-security", choices=("tls", "starttls", "none"), default=None)
    edit.add_argument("--user", default=None, help=_("login name (IMAP and SMTP)"))
    edit.add_argument(
        "--password-env",
        default=None,
        metavar="VAR",
        help=_("environment variable that holds a new password"),
    )
    edit.add_argument("--smtp-host", default=None)
    edit.add_argument("--smtp-port", type=int, default=None)
    edit.add_argument("--smtp-security", choices=("tls", "starttls", "none"), default=None)
    edit.add_argument("--smtp-user", default=None, help=_("SMTP login if different from --user"))
    edit.add_argument("--from", dest="from_address", default=None, help=_("sender address of replies"))
    edit.add_argument("--from-name", default=None, help=_("sender name of replies"))
    edit.add_argument("--folders", default=None, help=_("comma-separated folders to sync"))
    edit.add_argument("--no-test", action="store_true", help=_("store without trying the connection"))
    edit.set_defaults(func=cmd_edit)

    remove = account_sub.add_parser("remove", help=_("remove an account (asks first)"))
    remove.add_argument("account_id", type=int, metavar="ID")
    keep = remove.add_mutually_exclusive_group()
    keep.add_argument(
        "--delete-conversations",
        dest="delete_conversations",
        action="store_const",
        const=True,
        default=None,
        help=_("delete the account's conversations too"),
    )
    keep.add_argument(
        "--keep-conversations",
        dest="delete_conversations",
        action="store_const",
        const=False,
        help=_("keep its conversations readable (nothing syncs or sends any more)"),
    )
    remove.add_argument("--yes", action="store_true", help=_("do not ask for confirmation"))
    remove.set_defaults(func=cmd_remove)

    lst = account_sub.add_parser("list", help=_("list accounts"))
    lst.add_argument("--json", action="store_true", help=_("machine-readable output"))
    lst.set_defaults(func=cmd_list, read_only_ok=True)


STEP_NAMES = {
    "dns": N_("server name"),
    "connect": N_("connection"),
    "tls": N_("encryption (TLS)"),
    "login": N_("login"),
    "folder": N_("folder"),
    "send": N_("sending"),
}


def _setup_error_text(exc: AccountSetupError) -> str:
    """ "IMAP check failed at step “login”: …" so the user knows which setting to fix."""
    server = {"imap": "IMAP", "smtp": "SMTP"}.get(exc.server)
    step = STEP_NAMES.get(exc.step)
    if server and step:
        return _("{server} check failed at step “{step}”: {message}").format(
            server=server, step=_(step), message=exc.user_message
        )
    return exc.user_message


def cmd_add_imap(args: argparse.Namespace) -> int:
    """Test (unless --no-test) then store the account; the same code path as the account dialog."""
    from inbox_app.domain.account_form import AccountForm, default_port
    from inbox_app.sync.account_setup import save_account, test_account

    password = os.environ.get(args.password_env)
    if password is None:
        raise CliError(_("The environment variable {var} is not set.").format(var=args.password_env))
    form = AccountForm(
        email=args.from_address,
        password=password,
        from_name=args.from_name,
        name=args.name,
        imap_host=args.imap_host,
        imap_port=args.imap_port or default_port("imap", args.imap_security),
        imap_security=args.imap_security,
        imap_user=args.user,
        smtp_host=args.smtp_host,
        smtp_port=args.smtp_port or default_port("smtp", args.smtp_security),
        smtp_security=args.smtp_security,
        smtp_user=args.user if args.smtp_user is None else args.smtp_user,
        folders=tuple(f.strip() for f in args.folders.split(",") if f.strip()) or ("INBOX",),
        amazon_sender=args.amazon_sender,
        imap_disabled_extensions=tuple(args.imap_disable),
        smtp_auth=args.smtp_auth != "none",
    )
    for warning in form.warnings():
        print("inbox-app: " + _("warning: {text}").format(text=warning), file=sys.stderr)
    profile = profile_from_args(args)
    try:
        if not args.no_test:
            asyncio.run(test_account(form))
        print(save_account(form))
        from inbox_app.secrets import backend_is_plaintext, plaintext_warning

        if backend_is_plaintext():
            print("inbox-app: " + _("warning: {text}").format(text=plaintext_warning()), file=sys.stderr)
    except AccountSetupError as exc:
        raise CliError(_setup_error_text(exc)) from exc
    finally:
        profile.close()
    return 0


def cmd_add_api_account(args: argparse.Namespace) -> int:
    """A marketplace account (``account add mirakl``): test the connection (unless --no-test), then store
    it with its key in the keyring. The key comes from an environment variable, never the command line."""
    from inbox_app.store.accounts import ApiAccountSettings
    from inbox_app.sync.channel_setup import (
        ChannelSetupError,
        save_channel_account,
        setup_error_text,
        test_channel_account,
    )
    from inbox_app.sync.registry import default_registry

    secret = os.environ.get(args.api_key_env)
    if not secret:
        raise CliError(_("The environment variable {var} is not set.").format(var=args.api_key_env))
    name = args.name.strip()
    if not name:
        raise CliError(_("The account needs a name."))
    settings = ApiAccountSettings(
        base_url=args.base_url.strip().rstrip("/"),
        shop_id=(args.shop_id or "").strip() or None,
        marketplace=(args.marketplace or "").strip() or None,
    )
    registry = default_registry()
    if not args.no_test:  # before the profile is opened: nothing is stored when the test fails
        try:
            asyncio.run(test_channel_account(registry, args.api_kind, name, settings, secret))
        except ChannelSetupError as exc:
            raise CliError(setup_error_text(exc)) from exc
    profile = profile_from_args(args)
    try:
        print(save_channel_account(args.api_kind, name, settings, secret))
        from inbox_app.secrets import backend_is_plaintext, plaintext_warning

        if backend_is_plaintext():
            print("inbox-app: " + _("warning: {text}").format(text=plaintext_warning()), file=sys.stderr)
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
    elif not infos:
        print(_("No accounts yet. Add one with: inbox-app account add imap …"))
    else:
        for info in infos:
            settings = info["settings"]
            address = (
                settings.get("from_address") or settings.get("base_url") or ""
                if isinstance(settings, dict)
                else ""
            )
            removed = (
                "\t" + _("(removed, conversations kept)")
                if isinstance(settings, dict) and settings.get("removed")
                else ""
            )
            reconnect = (
                "\t" + _("needs reconnecting: {reason}").format(reason=settings["needs_reconnect"])
                if isinstance(settings, dict) and settings.get("needs_reconnect")
                else ""
            )
            print(f"{info['id']}\t{info['kind']}\t{info['name']}\t{address}{removed}{reconnect}")
    return 0


def cmd_edit(args: argparse.Namespace) -> int:
    """Start from the stored account, change what was given, test (unless --no-test), store."""
    import dataclasses

    from inbox_app.domain.account_form import default_port
    from inbox_app.sync.account_setup import account_form, test_account, update_account

    profile = profile_from_args(args)
    try:
        form = account_form(args.account_id)
        changes: dict[str, object] = {}
        for attr, value in (
            ("name", args.name),
            ("imap_host", args.imap_host),
            ("imap_security", args.imap_security),
            ("imap_user", args.user),
            ("smtp_host", args.smtp_host),
            ("smtp_security", args.smtp_security),
            ("smtp_user", args.smtp_user),
            ("email", args.from_address),
            ("from_name", args.from_name),
        ):
            if value is not None:
                changes[attr] = value
        if args.imap_port is not None or args.imap_security is not None:
            changes["imap_port"] = args.imap_port or default_port("imap", args.imap_security)
        if args.smtp_port is not None or args.smtp_security is not None:
            changes["smtp_port"] = args.smtp_port or default_port("smtp", args.smtp_security)
        if args.folders is not None:
            changes["folders"] = tuple(f.strip() for f in args.folders.split(",") if f.strip()) or ("INBOX",)
        if args.password_env is not None:
            password = os.environ.get(args.password_env)
            if password is None:
                raise CliError(_("The environment variable {var} is not set.").format(var=args.password_env))
            changes["password"] = password
        form = dataclasses.replace(form, **changes)  # type: ignore[arg-type]
        if not args.no_test:
            asyncio.run(test_account(form))
        print(update_account(args.account_id, form))
    except AccountSetupError as exc:
        raise CliError(_setup_error_text(exc)) from exc
    finally:
        profile.close()
    return 0


def _ask(question: str) -> str:
    try:
        return input(question).strip().casefold()
    except EOFError:
        return ""


def cmd_remove(args: argparse.Namespace) -> int:
    """Ask (unless --yes), then remove; the conversations are deleted or kept as chosen."""
    from inbox_app.store.accounts import get_account
    from inbox_app.store.models import Conversation
    from inbox_app.sync.account_setup import remove_account

    profile = profile_from_args(args)
    try:
        account = get_account(args.account_id)
        if account is None:
            raise CliError(_("There is no account {id}.").format(id=args.account_id))
        count = Conversation.select().where(Conversation.account == account.id).count()
        delete = args.delete_conversations
        if delete is None:
            if args.yes:
                raise CliError(
                    _(
                        "Say what happens to its conversations: --delete-conversations or --keep-conversations."
                    )
                )
            answer = _ask(
                _(
                    "“{name}” has {count} conversations. Keep them readable (k), delete them (d), or cancel (c)? "
                ).format(name=account.name, count=count)
            )
            if answer[:1] not in ("k", "d"):
                print(_("Nothing was removed."))
                return 1
            delete = answer[:1] == "d"
        elif not args.yes:
            what = (
                _("and delete its {count} conversations")
                if delete
                else _("and keep its {count} conversations")
            )
            answer = _ask(
                _("Remove the account “{name}” {what}? [y/N] ").format(
                    name=account.name, what=what.format(count=count)
                )
            )
            if answer[:1] not in ("y", "j", "s", "o"):
                print(_("Nothing was removed."))
                return 1
        deleted = remove_account(account.id, delete_conversations=delete)
    except AccountSetupError as exc:
        raise CliError(_setup_error_text(exc)) from exc
    finally:
        profile.close()
    if delete:
        print(
            ngettext(
                "Account removed with its {count} conversation.",
                "Account removed with its {count} conversations.",
                deleted,
            ).format(count=deleted)
        )
    else:
        print(_("Account removed; its conversations stay readable."))
    return 0
