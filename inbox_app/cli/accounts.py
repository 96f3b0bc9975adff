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
from typing import TYPE_CHECKING

from inbox_app.cli import CliError, profile_from_args
from inbox_app.domain.account_form import AccountSetupError
from inbox_app.i18n import N_, _, ngettext

if TYPE_CHECKING:
    from inbox_app.profile import Profile
    from inbox_app.services.marketplace_accounts import AllegroForm, MarketplaceForm


def _env_option(
    parser: argparse._ActionsContainer, flag: str, help_text: str, *, required: bool = True
) -> None:
    """An option that names the environment variable holding a secret: the secret itself never goes on the
    command line, where ``ps`` and shell history would see it."""
    parser.add_argument(flag, required=required, metavar="VAR", help=help_text)


def _no_test_option(parser: argparse.ArgumentParser) -> None:
    """``--no-test``, which every command that stores an account offers (for a server that is down right now)."""
    parser.add_argument("--no-test", action="store_true", help=_("store without trying the connection"))


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    account = sub.add_parser("account", help=_("set up and list accounts (mail and marketplaces)"))
    account_sub = account.add_subparsers(dest="account_command", metavar="ACTION", required=True)

    add = account_sub.add_parser("add", help=_("add an account"))
    add_sub = add.add_subparsers(dest="account_kind", metavar="KIND", required=True)
    imap = add_sub.add_parser("imap", help=_("an IMAP/SMTP mailbox"))
    imap.add_argument("--name", required=True, help=_("display name of the account"))
    imap.add_argument("--imap-host", required=True)
    imap.add_argument("--imap-port", type=int, default=None)
    imap.add_argument("--imap-security", choices=("tls", "starttls", "none"), default="tls")
    imap.add_argument("--user", required=True, help=_("login name (IMAP and SMTP)"))
    _env_option(imap, "--password-env", _("environment variable that holds the password"))
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
    _no_test_option(imap)
    imap.set_defaults(func=cmd_add_imap)

    mirakl = add_sub.add_parser("mirakl", help=_("a Mirakl marketplace shop (Carrefour, Fnac, ManoMano…)"))
    mirakl.add_argument(
        "--name", required=True, help=_("the marketplace's name, shown as the channel (e.g. “Fnac ES”)")
    )
    mirakl.add_argument(
        "--base-url", required=True, help=_("the operator's API address, e.g. https://fnac-es.mirakl.net")
    )
    _env_option(mirakl, "--api-key-env", _("environment variable that holds the shop API key"))
    mirakl.add_argument("--shop-id", default=None, help=_("the shop id, when the key serves several shops"))
    mirakl.add_argument(
        "--marketplace", default=None, help=_("the operator, for its reply deadline (default: the name)")
    )
    _no_test_option(mirakl)
    mirakl.set_defaults(func=cmd_add_mirakl)

    ebay = add_sub.add_parser("ebay", help=_("an eBay seller account (Commerce Message API)"))
    ebay.add_argument("--name", required=True, help=_("display name of the account (e.g. “eBay DE”)"))
    ebay.add_argument("--user", required=True, help=_("your eBay seller user name"))
    ebay.add_argument(
        "--client-id", required=True, help=_("the app's client id (App ID) from developer.ebay.com")
    )
    _env_option(ebay, "--client-secret-env", _("environment variable that holds the client secret (Cert ID)"))
    _env_option(ebay, "--refresh-token-env", _("environment variable that holds the seller's refresh token"))
    ebay.add_argument("--base-url", default=None, help=_("API address (default https://api.ebay.com)"))
    _no_test_option(ebay)
    ebay.set_defaults(func=cmd_add_ebay)

    kaufland = add_sub.add_parser("kaufland", help=_("a Kaufland seller account (Seller API v2)"))
    kaufland.add_argument("--name", required=True, help=_("display name of the account"))
    _env_option(kaufland, "--client-key-env", _("environment variable that holds the client key"))
    _env_option(kaufland, "--secret-key-env", _("environment variable that holds the secret key"))
    kaufland.add_argument(
        "--base-url", default=None, help=_("API address (default https://sellerapi.kaufland.com/v2)")
    )
    _no_test_option(kaufland)
    kaufland.set_defaults(func=cmd_add_kaufland)

    allegro = add_sub.add_parser("allegro", help=_("an Allegro seller account"))
    allegro.add_argument("--name", required=True, help=_("display name of the account"))
    allegro.add_argument(
        "--client-id", required=True, help=_("the app's client id from apps.developer.allegro.pl")
    )
    _env_option(allegro, "--client-secret-env", _("environment variable that holds the client secret"))
    sign_in = allegro.add_mutually_exclusive_group(required=True)
    _env_option(
        sign_in, "--refresh-token-env", _("environment variable that holds a refresh token"), required=False
    )
    sign_in.add_argument(
        "--device-flow",
        action="store_true",
        help=_("sign in now: shows a code and an address to confirm it on Allegro, and waits"),
    )
    allegro.add_argument("--base-url", default=None, help=_("API address (default https://api.allegro.pl)"))
    allegro.add_argument("--auth-url", default=None, help=_("sign-in address (default https://allegro.pl)"))
    _no_test_option(allegro)
    allegro.set_defaults(func=cmd_add_allegro)

    reconnect = account_sub.add_parser(
        "reconnect", help=_("give a marketplace account new tokens or keys (after “needs reconnecting”)")
    )
    reconnect.add_argument("account", metavar="NAME", help=_("the account's name (or id)"))
    _env_option(
        reconnect,
        "--refresh-token-env",
        _("eBay, Allegro: environment variable with a new refresh token"),
        required=False,
    )
    reconnect.add_argument(
        "--device-flow", action="store_true", help=_("Allegro: sign in again with a code shown here")
    )
    _env_option(
        reconnect,
        "--client-secret-env",
        _("eBay, Allegro: environment variable with a new client secret"),
        required=False,
    )
    _env_option(
        reconnect,
        "--client-key-env",
        _("Kaufland: environment variable with a new client key"),
        required=False,
    )
    _env_option(
        reconnect,
        "--secret-key-env",
        _("Kaufland: environment variable with a new secret key"),
        required=False,
    )
    _env_option(
        reconnect, "--api-key-env", _("Mirakl: environment variable with a new API key"), required=False
    )
    _no_test_option(reconnect)
    reconnect.set_defaults(func=cmd_reconnect)

    edit = account_sub.add_parser("edit", help=_("change an account's settings (tested before saving)"))
    edit.add_argument("account_id", type=int, metavar="ID")
    edit.add_argument("--name", default=None, help=_("display name of the account"))
    edit.add_argument("--imap-host", default=None)
    edit.add_argument("--imap-port", type=int, default=None)
    edit.add_argument("--imap-security", choices=("tls", "starttls", "none"), default=None)
    edit.add_argument("--user", default=None, help=_("login name (IMAP and SMTP)"))
    _env_option(edit, "--password-env", _("environment variable that holds a new password"), required=False)
    edit.add_argument("--smtp-host", default=None)
    edit.add_argument("--smtp-port", type=int, default=None)
    edit.add_argument("--smtp-security", choices=("tls", "starttls", "none"), default=None)
    edit.add_argument("--smtp-user", default=None, help=_("SMTP login if different from --user"))
    edit.add_argument("--from", dest="from_address", default=None, help=_("sender address of replies"))
    edit.add_argument("--from-name", default=None, help=_("sender name of replies"))
    edit.add_argument("--folders", default=None, help=_("comma-separated folders to sync"))
    edit.add_argument("--base-url", default=None, help=_("Mirakl: the operator's API address"))
    _env_option(edit, "--api-key-env", _("Mirakl: environment variable with a new API key"), required=False)
    edit.add_argument("--shop-id", default=None, help=_("Mirakl: the shop id (an empty value clears it)"))
    _no_test_option(edit)
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
    from inbox_app.services.accounts import save_account, test_account

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


def _env_secret(var: str) -> str:
    """A secret from an environment variable (never the command line, where ``ps`` and history see it)."""
    value = os.environ.get(var)
    if not value:
        raise CliError(_("The environment variable {var} is not set.").format(var=var))
    return value


def _warn_if_plaintext() -> None:
    from inbox_app.secrets import backend_is_plaintext, plaintext_warning

    if backend_is_plaintext():
        print("inbox-app: " + _("warning: {text}").format(text=plaintext_warning()), file=sys.stderr)


def _tested(form: MarketplaceForm, no_test: bool) -> MarketplaceForm:
    """The form as the connection test left it (tokens it refreshed); ``--no-test``: as given."""
    from inbox_app.services import marketplace_accounts

    if no_test:
        return form
    try:
        return asyncio.run(marketplace_accounts.test(form))
    except marketplace_accounts.MarketplaceSetupError as exc:
        raise CliError(marketplace_accounts.setup_error_text(exc)) from exc


def _add_marketplace(args: argparse.Namespace, form: MarketplaceForm) -> int:
    """Test (before the profile is opened: nothing is stored when it fails), then store; prints the id."""
    from inbox_app.services import marketplace_accounts

    if not form.name.strip():
        raise CliError(_("The account needs a name."))
    form = _tested(form, args.no_test)
    profile = profile_from_args(args)
    try:
        saved = marketplace_accounts.save(form)
    except marketplace_accounts.MarketplaceSetupError as exc:
        raise CliError(exc.user_message) from exc
    finally:
        profile.close()
    print(saved.id)
    _warn_if_plaintext()
    return 0


def cmd_add_mirakl(args: argparse.Namespace) -> int:
    """``account add mirakl``: the shop API key comes from an environment variable."""
    from inbox_app.services.marketplace_accounts import MiraklForm

    form = MiraklForm(
        name=args.name,
        base_url=args.base_url,
        api_key=_env_secret(args.api_key_env),
        shop_id=args.shop_id,
        marketplace=args.marketplace,
    )
    return _add_marketplace(args, form)


def cmd_add_ebay(args: argparse.Namespace) -> int:
    """``account add ebay``: the client secret and the seller's refresh token from environment variables."""
    from inbox_app.services.marketplace_accounts import EBAY_BASE_URL, EbayForm

    form = EbayForm(
        name=args.name,
        username=args.user,
        client_id=args.client_id,
        client_secret=_env_secret(args.client_secret_env),
        refresh_token=_env_secret(args.refresh_token_env),
        base_url=args.base_url or EBAY_BASE_URL,
    )
    return _add_marketplace(args, form)


def cmd_add_kaufland(args: argparse.Namespace) -> int:
    """``account add kaufland``: both keys from environment variables (every request is signed with them)."""
    from inbox_app.services.marketplace_accounts import KAUFLAND_BASE_URL, KauflandForm

    form = KauflandForm(
        name=args.name,
        client_key=_env_secret(args.client_key_env),
        secret_key=_env_secret(args.secret_key_env),
        base_url=args.base_url or KAUFLAND_BASE_URL,
    )
    return _add_marketplace(args, form)


def _device_sign_in(form: AllegroForm) -> AllegroForm:
    """Allegro's device flow in the terminal: print the code and the address, wait for the seller."""
    from inbox_app.i18n import format_duration
    from inbox_app.services import marketplace_accounts as svc

    async def run() -> AllegroForm:
        steps = svc.allegro_device_flow(form)
        try:
            async for step in steps:
                if isinstance(step, svc.AllegroDeviceCode):
                    import datetime

                    print(
                        _(
                            "Open {address} and enter the code {code} to let Inbox App read and answer your "
                            "Allegro messages. Waiting (the code is valid for {time})…"
                        ).format(
                            address=step.verification_uri_complete or step.verification_uri,
                            code=step.user_code,
                            time=format_duration(datetime.timedelta(seconds=step.seconds_left())),
                        ),
                        flush=True,
                    )
                else:
                    print(_("Signed in to Allegro."), flush=True)
                    return step.form
        finally:
            await steps.aclose()
        raise CliError(_("Allegro did not finish the sign-in."))

    try:
        return asyncio.run(run())
    except svc.MarketplaceSetupError as exc:
        raise CliError(exc.user_message) from exc
    except KeyboardInterrupt:
        raise CliError(_("Sign-in cancelled; nothing was stored.")) from None


def cmd_add_allegro(args: argparse.Namespace) -> int:
    """``account add allegro``: a refresh token from the environment, or sign in now (``--device-flow``)."""
    from inbox_app.services.marketplace_accounts import ALLEGRO_AUTH_URL, ALLEGRO_BASE_URL, AllegroForm

    form = AllegroForm(
        name=args.name,
        client_id=args.client_id,
        client_secret=_env_secret(args.client_secret_env),
        refresh_token=_env_secret(args.refresh_token_env) if args.refresh_token_env else "",
        base_url=args.base_url or ALLEGRO_BASE_URL,
        auth_url=args.auth_url or ALLEGRO_AUTH_URL,
    )
    if not form.name.strip():
        raise CliError(_("The account needs a name."))
    if args.device_flow:
        form = _device_sign_in(form)
    return _add_marketplace(args, form)


def cmd_reconnect(args: argparse.Namespace) -> int:
    """``account reconnect NAME``: new tokens (or keys) for a marketplace account, tested, then stored; the
    account's "needs reconnecting" state is cleared and the next sync takes it up again."""
    import dataclasses

    from inbox_app.services import marketplace_accounts as svc

    profile = profile_from_args(args)
    try:
        found = svc.find_account(args.account)
        if found is None:
            raise CliError(_("There is no account named {name}.").format(name=args.account))
        try:
            form = svc.stored_form(found.id)
        except LookupError:
            raise CliError(
                _("{name} is a mail account: change its password with inbox-app account edit.").format(
                    name=found.name
                )
            ) from None
    finally:
        profile.close()
    changes: dict[str, object] = {}
    if isinstance(form, svc.MiraklForm):
        if not args.api_key_env:
            raise CliError(_("Give the new API key with --api-key-env VAR."))
        changes["api_key"] = _env_secret(args.api_key_env)
    elif isinstance(form, svc.KauflandForm):
        if not (args.client_key_env or args.secret_key_env):
            raise CliError(_("Give the new keys with --client-key-env VAR and --secret-key-env VAR."))
        if args.client_key_env:
            changes["client_key"] = _env_secret(args.client_key_env)
        if args.secret_key_env:
            changes["secret_key"] = _env_secret(args.secret_key_env)
    else:
        if args.client_secret_env:
            changes["client_secret"] = _env_secret(args.client_secret_env)
        if args.refresh_token_env:
            changes.update(
                refresh_token=_env_secret(args.refresh_token_env), access_token="", access_expires_at=None
            )
        elif not (args.device_flow and isinstance(form, svc.AllegroForm)):
            raise CliError(
                _("Give a new refresh token with --refresh-token-env VAR.")
                if isinstance(form, svc.EbayForm)
                else _(
                    "Sign in again with --device-flow, or give a refresh token with --refresh-token-env VAR."
                )
            )
    form = dataclasses.replace(form, **changes)  # type: ignore[arg-type]
    if args.device_flow and isinstance(form, svc.AllegroForm) and not args.refresh_token_env:
        form = _device_sign_in(form)
    form = _tested(form, args.no_test)
    profile = profile_from_args(args)
    try:
        svc.update(found.id, form)
    finally:
        profile.close()
    print(_("{name} is connected again.").format(name=found.name))
    _warn_if_plaintext()
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from inbox_app.services.accounts import account_infos

    profile = profile_from_args(args)
    try:
        infos = account_infos()
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
    from inbox_app.services.accounts import account_form, get, test_account, update_account

    profile = profile_from_args(args)
    try:
        account = get(args.account_id)
        if account is None:
            raise CliError(_("There is no account {id}.").format(id=args.account_id))
        if account.kind != "imap":
            return _edit_marketplace(args, account.id, profile)
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


MAIL_ONLY_OPTIONS = (
    "imap_host",
    "imap_port",
    "imap_security",
    "user",
    "password_env",
    "smtp_host",
    "smtp_port",
    "smtp_security",
    "smtp_user",
    "from_address",
    "from_name",
    "folders",
)


def _edit_marketplace(args: argparse.Namespace, account_id: int, profile: Profile) -> int:
    """``account edit ID`` of a Mirakl account: name, base URL, API key, shop id; tested before saving. A key
    saved for the old address is not sent to a new one: a changed address needs ``--api-key-env``."""
    import dataclasses

    from inbox_app.services import marketplace_accounts as svc

    given = [f"--{o.replace('_', '-')}" for o in MAIL_ONLY_OPTIONS if getattr(args, o) is not None]
    if given:
        raise CliError(
            _("{options}: only for mail accounts.").format(
                options=", ".join(sorted(given)).replace("from-address", "from")
            )
        )
    form = svc.stored_form(account_id)
    if not isinstance(form, svc.MiraklForm):
        raise CliError(_("Change this account with: inbox-app account reconnect NAME"))
    changes: dict[str, object] = {}
    if args.name is not None:
        changes["name"] = args.name
    if args.base_url is not None:
        changes["base_url"] = args.base_url.strip().rstrip("/")
    if args.shop_id is not None:
        changes["shop_id"] = args.shop_id.strip() or None
    if args.api_key_env is not None:
        changes["api_key"] = _env_secret(args.api_key_env)
    edited = dataclasses.replace(form, **changes)  # type: ignore[arg-type]
    if edited.base_url != form.base_url and args.api_key_env is None:
        raise CliError(
            _(
                "The API key was saved for the old address; give it again for the new one with --api-key-env VAR."
            )
        )
    if not edited.api_key:
        raise CliError(_("No API key is stored for this account; give it with --api-key-env VAR."))
    profile.close()  # the test may take a while: the profile is not held meanwhile
    tested = _tested(edited, args.no_test)
    profile = profile_from_args(args)
    try:
        saved = svc.update(account_id, tested)
    finally:
        profile.close()
    print(saved.id)
    return 0


def _ask(question: str) -> str:
    try:
        return input(question).strip().casefold()
    except EOFError:
        return ""


def cmd_remove(args: argparse.Namespace) -> int:
    """Ask (unless --yes), then remove; the conversations are deleted or kept as chosen."""
    from inbox_app.services.accounts import conversation_count, get, remove_account

    profile = profile_from_args(args)
    try:
        account = get(args.account_id)
        if account is None:
            raise CliError(_("There is no account {id}.").format(id=args.account_id))
        count = conversation_count(account.id)
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
