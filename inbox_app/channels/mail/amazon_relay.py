"""Recognise Amazon buyer-seller messages that arrive by e-mail, and pull out what the inbox needs.

Amazon has no API to read buyer messages: they come as mails from an anonymised relay alias
(``<15 letters/digits>@marketplace.amazon.<tld>``). The alias is where the reply must go, the TLD tells the
marketplace (and so the buyer's likely language), and the subject/body carry the buyer name, the order id,
the ASINs and a "no response needed" link (which is the only way to take the message out of Amazon's
response-time metric). Amazon documents none of this format, so every field is optional and every pattern is
tried defensively; a mail that does not match simply yields ``None`` fields, never an exception.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from inbox_app.channels.mail.mime import ParsedMail
from inbox_app.domain.threading import strip_reply_prefixes

__all__ = ["AMAZON_RELAY_RE", "AmazonMessage", "marketplace_for_address", "parse_amazon"]

log = logging.getLogger("inbox_app.channels.mail")
_T = TypeVar("_T")

AMAZON_RELAY_RE = re.compile(
    r"(?P<local>[a-z0-9]{15})(?:\+(?P<suffix>[a-z0-9._=-]+))?@marketplace\.amazon\."
    r"(?P<tld>[a-z]{2,3}(?:\.[a-z]{2})?)(?![a-z0-9.-])",
    re.IGNORECASE,
)

# TLD -> (language of most buyers). Marketplace is always "amazon.<tld>".
_LANGUAGE_BY_TLD = {
    "com": "en",
    "co.uk": "en",
    "ca": "en",
    "com.au": "en",
    "in": "en",
    "ie": "en",
    "sg": "en",
    "ae": "en",
    "de": "de",
    "at": "de",
    "fr": "fr",
    "com.be": "fr",
    "es": "es",
    "com.mx": "es",
    "it": "it",
    "com.br": "pt",
    "nl": "nl",
    "pl": "pl",
    "se": "sv",
    "com.tr": "tr",
    "co.jp": "ja",
    "sa": "ar",
    "eg": "ar",
}

ORDER_ID_RE = re.compile(r"(?<!\d)(\d{3}-\d{7}-\d{7})(?!\d)")
# "(Order: 111-…)", "(Bestellung: …)", "(Pedido: …)", "(Commande : …)", "(Ordine: …)", …
_SUBJECT_ORDER = re.compile(r"\(\s*[^():]{1,40}?\s*:\s*(\d{3}-\d{7}-\d{7})\s*\)")
# "Order ID 111-…:" and localized labels; the id followed by a colon at the start of a line is the marker.
_BODY_ORDER = re.compile(r"(?im)^[^\n:]{0,40}?(\d{3}-\d{7}-\d{7})\s*:")
_DISPLAY_NAME = re.compile(r"^(?P<name>.+?)\s+[-–—]\s+Amazon(?:\s+Marketplace)?\s*$", re.IGNORECASE)
_SUBJECT_NAME = (
    re.compile(r"Amazon customer\s+(?P<name>[^()]+?)\s*(?:\(|$)", re.IGNORECASE),
    re.compile(r"Amazon-Kund(?:e|in)\s+(?P<name>[^()]+?)\s*(?:\(|$)", re.IGNORECASE),
    re.compile(r"cliente de Amazon\s+(?P<name>[^()]+?)\s*(?:\(|$)", re.IGNORECASE),
    re.compile(r"client(?:e)? Amazon\s+(?P<name>[^()]+?)\s*(?:\(|$)", re.IGNORECASE),
    re.compile(r"Amazon-klant\s+(?P<name>[^()]+?)\s*(?:\(|$)", re.IGNORECASE),
    re.compile(r"klienta Amazon\s+(?P<name>[^()]+?)\s*(?:\(|$)", re.IGNORECASE),
)
_SUBJECT_TOPIC = (
    re.compile(r"^(?P<topic>.+?)\s+(?:inquiry|question|message)\s+from Amazon customer", re.IGNORECASE),
    re.compile(r"^Anfrage zu(?:r|m)?\s+(?P<topic>.+?)\s+von Amazon-Kund", re.IGNORECASE),
    re.compile(r"^Consulta (?:sobre|de)\s+(?P<topic>.+?)\s+(?:de|del) cliente de Amazon", re.IGNORECASE),
    re.compile(r"^Demande (?:concernant|de|d')\s*(?P<topic>.+?)\s+du client Amazon", re.IGNORECASE),
)
_NO_RESPONSE_URL = re.compile(
    r"https?://[^\s<>\"'\]/]{1,100}(?:/[^\s<>\"'\]/]{0,100}){0,3}?/gp/communication-manager/"
    r"no-response-needed\.html\?[^\s<>\"'\]]{0,300}?msg=[^\s<>\"'\]]{1,500}"
)
_COMM_TOKEN = re.compile(r"\s*\[commMgrTok:[^\]]*\]\s*$")
_ANY_COMM_TOKEN = re.compile(r"\[commMgrTok:[^\]]*\]")
_ASIN = re.compile(r"\bASIN\s*:?\s*([A-Z0-9]{10})\b")
# Bounded repetitions: these run on untrusted bodies and must stay linear on hostile input.
_MARKER_LINE = re.compile(r"(?m)^[ \t]{0,20}-{5,80}[ \t]{0,20}[^\n-][^\n]{0,100}?[ \t]{0,20}-{5,80}[ \t]*$")


@dataclass(frozen=True)
class AmazonMessage:
    """What an Amazon relay mail tells beyond the mail itself; any piece may be missing (None)."""

    relay_address: str
    marketplace: str
    language: str
    buyer_name: str | None
    order_id: str | None
    topic: str | None
    body_text: str
    no_response_needed_url: str | None
    asins: tuple[str, ...]


def marketplace_for_address(address: str) -> tuple[str, str] | None:
    """``("amazon.de", "de")`` for a relay alias, None for any other address."""
    match = AMAZON_RELAY_RE.fullmatch(address.strip().lower())
    if match is None:
        return None
    tld = match.group("tld").lower()
    return f"amazon.{tld}", _LANGUAGE_BY_TLD.get(tld, "en")


def _relay_of(mail: ParsedMail) -> tuple[str, str, str] | None:
    candidates = [mail.from_address, *(addr for _name, addr in mail.reply_to)]
    for address in candidates:
        found = marketplace_for_address(address or "")
        if found:
            return address.strip().lower(), found[0], found[1]
    return None


def _buyer_name(mail: ParsedMail, subject: str) -> str | None:
    display = mail.from_name.strip()
    if display:
        match = _DISPLAY_NAME.match(display)
        if match:
            return match.group("name").strip().strip('"') or None
    for pattern in _SUBJECT_NAME:
        match = pattern.search(subject)
        if match:
            name = match.group("name").strip()
            if name:
                return name
    # A reply from the buyer may carry just their name as the display name.
    if display and "amazon" not in display.casefold() and "@" not in display:
        return display
    return None


def _topic(subject: str) -> str | None:
    for pattern in _SUBJECT_TOPIC:
        match = pattern.search(subject)
        if match:
            topic = match.group("topic").strip()
            return topic or None
    return None


def _order_id(subject: str, text: str) -> str | None:
    match = _SUBJECT_ORDER.search(subject) or ORDER_ID_RE.search(subject) or _BODY_ORDER.search(text)
    if match is None:
        match = ORDER_ID_RE.search(text)
    return match.group(1) if match else None


def _message_part(text: str) -> str:
    """The buyer's words: between the Begin/End marker lines, else the whole text without the token."""
    markers = list(_MARKER_LINE.finditer(text))
    body = text[markers[0].end() : markers[1].start()] if len(markers) >= 2 else text
    body = _COMM_TOKEN.sub("", body)
    body = _ANY_COMM_TOKEN.sub("", body)
    return body.strip()


def _no_response_url(mail: ParsedMail) -> str | None:
    match = _NO_RESPONSE_URL.search(mail.text_body)
    if match is None and mail.html_body:
        match = _NO_RESPONSE_URL.search(html.unescape(mail.html_body))
    return match.group(0).rstrip(".,;)") if match else None


def _asins(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_ASIN.findall(text)))


def _attempt(fn: Callable[..., _T], *args: object) -> _T | None:
    """Run one extractor; a bug in one field costs that field only, never the message."""
    try:
        return fn(*args)
    except Exception:
        log.exception("amazon relay field extraction failed")
        return None


def parse_amazon(mail: ParsedMail) -> AmazonMessage | None:
    """Return the Amazon details if ``mail`` comes from (or replies to) a buyer relay alias, else None."""
    try:
        relay = _relay_of(mail)
    except Exception:  # defensive: a strange ParsedMail must not break the sync
        log.exception("amazon relay detection failed")
        return None
    if relay is None:
        return None
    address, marketplace, language = relay
    subject = strip_reply_prefixes(mail.subject or "")
    text = mail.text_body or ""

    body = _attempt(_message_part, text)
    asins = _attempt(_asins, text)
    return AmazonMessage(
        relay_address=address,
        marketplace=marketplace,
        language=language,
        buyer_name=_attempt(_buyer_name, mail, subject),
        order_id=_attempt(_order_id, subject, text),
        topic=_attempt(_topic, subject),
        body_text=body if isinstance(body, str) else text,
        no_response_needed_url=_attempt(_no_response_url, mail),
        asins=asins if isinstance(asins, tuple) else (),
    )
