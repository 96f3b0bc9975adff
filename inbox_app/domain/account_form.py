"""What the user typed into "Add mail account", checked and completed before anything touches the network.

Why a plain dataclass in ``domain``: the dialog (``ui``) and the code that tests and stores an account
(``sync.account_setup``) must agree on one shape without the UI importing the sync layer. The dialog builds an
``AccountForm``, the injected ``test_connection``/``save`` functions take it.

Most people only know their address and password, so :meth:`AccountForm.guess_servers` fills the usual
settings (a few big providers by name, otherwise ``imap.<domain>:993`` and ``smtp.<domain>:465``, both
SSL/TLS). :meth:`AccountForm.validate` returns translated problems; :meth:`AccountForm.field_problems` says
which field each belongs to, so the dialog can point at it.

Unencrypted connections are accepted for this computer only (tests, local bridges such as Proton Bridge):
a password sent in clear text over a network can be read by anyone on the way. The same rule is enforced in
``channels.mail.security``; it is repeated here (no I/O, name-based) so the form can explain it up front.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from inbox_app.i18n import _

SECURITY_TLS = "tls"  # encrypted from the first byte (IMAPS 993, SMTPS 465)
SECURITY_STARTTLS = "starttls"  # plain connect, then upgrade (143, 587)
SECURITY_NONE = "none"  # loopback only
SECURITY_VALUES = (SECURITY_TLS, SECURITY_STARTTLS, SECURITY_NONE)

# (imap host, imap port, imap security, smtp host, smtp port, smtp security) of big providers whose servers
# do not follow the imap.<domain> pattern or whose SMTP wants STARTTLS on 587.
_KNOWN_PROVIDERS: dict[str, tuple[str, int, str, str, int, str]] = {
    "gmail.com": ("imap.gmail.com", 993, "tls", "smtp.gmail.com", 465, "tls"),
    "googlemail.com": ("imap.gmail.com", 993, "tls", "smtp.gmail.com", 465, "tls"),
    "outlook.com": ("outlook.office365.com", 993, "tls", "smtp-mail.outlook.com", 587, "starttls"),
    "hotmail.com": ("outlook.office365.com", 993, "tls", "smtp-mail.outlook.com", 587, "starttls"),
    "live.com": ("outlook.office365.com", 993, "tls", "smtp-mail.outlook.com", 587, "starttls"),
    "icloud.com": ("imap.mail.me.com", 993, "tls", "smtp.mail.me.com", 587, "starttls"),
    "me.com": ("imap.mail.me.com", 993, "tls", "smtp.mail.me.com", 587, "starttls"),
    "yahoo.com": ("imap.mail.yahoo.com", 993, "tls", "smtp.mail.yahoo.com", 465, "tls"),
    "gmx.de": ("imap.gmx.net", 993, "tls", "mail.gmx.net", 465, "tls"),
    "gmx.net": ("imap.gmx.net", 993, "tls", "mail.gmx.net", 465, "tls"),
    "web.de": ("imap.web.de", 993, "tls", "smtp.web.de", 587, "starttls"),
    "t-online.de": ("secureimap.t-online.de", 993, "tls", "securesmtp.t-online.de", 465, "tls"),
}

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_HOST_RE = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.:-]+)$")


class AccountSetupError(Exception):
    """Testing or saving an account failed in a way the user can fix.

    ``server`` is "imap", "smtp" or "" (not tied to one server); ``step`` is where it broke: "form" (the
    input), "dns" (server name), "connect" (host/port/firewall), "tls" (security setting or certificate),
    "login" (user or password), "folder", "send", "keyring". ``user_message`` is translated; ``detail`` is the
    technical cause in English for logs (never a password).
    """

    def __init__(self, user_message: str, *, server: str = "", step: str = "", detail: str = "") -> None:
        super().__init__(user_message)
        self.user_message = user_message
        self.server = server
        self.step = step
        self.detail = detail


def default_port(protocol: str, security: str) -> int:
    """The usual port of ``protocol`` ("imap" or "smtp") with ``security``."""
    if protocol == "imap":
        return 993 if security == SECURITY_TLS else 143
    return 465 if security == SECURITY_TLS else 587


def is_loopback_host(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and "localhost" (the name itself, not what DNS says about it)."""
    name = host.strip().rstrip(".").lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


_LAN_SUFFIXES = (".local", ".lan", ".internal", ".home.arpa", ".localdomain", ".intranet", ".corp")


def is_local_network_host(host: str) -> bool:
    """True for this computer and hosts of the local network: private/link-local IP addresses, names without
    a dot ("relay") and the usual private suffixes (".local", ".lan", ".internal", ".home.arpa")."""
    name = host.strip().rstrip(".").lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if not name:
        return False
    if is_loopback_host(name):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return "." not in name or name.endswith(_LAN_SUFFIXES)
    return address.is_private or address.is_link_local


def email_domain(email: str) -> str:
    """The part after the last "@", lower-cased; "" when there is none."""
    local, at, domain = email.strip().rpartition("@")
    return domain.strip().rstrip(".").lower() if at and local else ""


@dataclass
class AccountForm:
    """The fields of the account dialog. Empty users mean "the e-mail address"; an empty ``smtp_password``
    means "the same password as IMAP" (the usual case)."""

    email: str = ""
    password: str = field(default="", repr=False)
    from_name: str = ""
    name: str = ""  # shown in the sidebar; empty: the e-mail address
    imap_host: str = ""
    imap_port: int = 993
    imap_security: str = SECURITY_TLS
    imap_user: str = ""
    smtp_host: str = ""
    smtp_port: int = 465
    smtp_security: str = SECURITY_TLS
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    folders: tuple[str, ...] = ("INBOX",)
    amazon_sender: bool = False  # this address is registered with Amazon for buyer-seller messaging
    # IMAP extensions not to use although offered (e.g. "QRESYNC" on a server whose support is broken).
    imap_disabled_extensions: tuple[str, ...] = ()
    # False: send without logging in (a shop's local relay, a smarthost that trusts the LAN).
    smtp_auth: bool = True

    # ------------------------------------------------------------------ derived values
    @property
    def account_name(self) -> str:
        return self.name.strip() or self.email.strip()

    @property
    def effective_imap_user(self) -> str:
        return self.imap_user.strip() or self.email.strip()

    @property
    def effective_smtp_user(self) -> str:
        """The SMTP login; "" when sending without authentication."""
        if not self.smtp_auth:
            return ""
        return self.smtp_user.strip() or self.effective_imap_user

    @property
    def effective_smtp_password(self) -> str:
        if not self.smtp_auth:
            return ""
        return self.smtp_password or self.password

    @property
    def effective_folders(self) -> tuple[str, ...]:
        cleaned = tuple(dict.fromkeys(f.strip() for f in self.folders if f.strip()))
        return cleaned or ("INBOX",)

    # ------------------------------------------------------------------ guessing
    def guess_servers(self, email: str | None = None) -> None:
        """Fill hosts, ports, security and users from the address (``email`` replaces ``self.email``).

        Leaves the servers alone when the address has no domain yet, so typing "shop@" does not wipe them.
        """
        if email is not None:
            self.email = email.strip()
        domain = email_domain(self.email)
        if not domain:
            return
        known = _KNOWN_PROVIDERS.get(domain)
        if known is not None:
            ihost, iport, isec, shost, sport, ssec = known
        else:
            ihost, iport, isec = f"imap.{domain}", 993, SECURITY_TLS
            shost, sport, ssec = f"smtp.{domain}", 465, SECURITY_TLS
        self.imap_host, self.imap_port, self.imap_security = ihost, iport, isec
        self.smtp_host, self.smtp_port, self.smtp_security = shost, sport, ssec
        self.imap_user = self.email
        self.smtp_user = self.email

    # ------------------------------------------------------------------ checking
    def field_problems(self) -> dict[str, str]:
        """Field name → translated problem, in the order the fields appear in the dialog."""
        problems: dict[str, str] = {}
        email = self.email.strip()
        if not email:
            problems["email"] = _("Enter your e-mail address.")
        elif not _EMAIL_RE.match(email):
            problems["email"] = _("“{email}” is not an e-mail address (like shop@example.com).").format(
                email=email
            )
        if not self.password:
            problems["password"] = _("Enter the password of your mailbox.")
        for protocol, label in (("imap", _("incoming mail (IMAP)")), ("smtp", _("outgoing mail (SMTP)"))):
            host = str(getattr(self, f"{protocol}_host")).strip()
            port = int(getattr(self, f"{protocol}_port"))
            security = str(getattr(self, f"{protocol}_security"))
            if not host:
                problems[f"{protocol}_host"] = _("Enter the server name for {server}.").format(server=label)
            elif not _HOST_RE.match(host):
                problems[f"{protocol}_host"] = _("“{host}” is not a valid server name.").format(host=host)
            if not 1 <= port <= 65535:
                problems[f"{protocol}_port"] = _("The port for {server} must be between 1 and 65535.").format(
                    server=label
                )
            if security not in SECURITY_VALUES:
                problems[f"{protocol}_security"] = _("Choose a security setting for {server}.").format(
                    server=label
                )
            elif (
                security == SECURITY_NONE
                and host
                and not is_loopback_host(host)
                # Without a login no password crosses the network: a relay on the local network may be plain.
                and not (protocol == "smtp" and not self.smtp_auth and is_local_network_host(host))
            ):
                problems[f"{protocol}_security"] = insecure_explanation(host)
        return problems

    def warnings(self) -> list[str]:
        """Translated doubts that do not stop a test or a save."""
        host = self.smtp_host.strip()
        if not self.smtp_auth and host and not is_local_network_host(host):
            return [
                _(
                    "{host} is not on this computer or the local network: a server on the internet that "
                    "sends without a login is usually refused by the recipients' servers. Use it only if "
                    "your provider told you so."
                ).format(host=host)
            ]
        return []

    def validate(self) -> list[str]:
        """Translated problems that stop a test or a save; empty when the form is complete."""
        return list(self.field_problems().values())


def insecure_explanation(host: str) -> str:
    """Why "no encryption" is refused for ``host`` (translated)."""
    return _(
        "Unencrypted connections are only allowed to this computer: over a network anyone on the way could "
        "read your password. Choose SSL/TLS or STARTTLS for {host}."
    ).format(host=host)
