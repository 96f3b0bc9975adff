"""Which conversation does a new message belong to? Pure logic; the lookups come from a ThreadIndex.

Order of evidence, strongest first:

1. the message's own Message-ID is already known (e.g. the copy of a mail we sent, seen again in "Sent");
2. ``In-Reply-To``;
3. ``References``, newest first (the last id is the direct parent, the first the thread root);
4. the same normalized subject with at least one shared participant within a time window (many webshops,
   marketplace relays and phone mailers drop the reply headers).

Step 4 never runs for generic subjects ("", "hello", "question", "order"…): two different buyers asking
"Question" must not be glued together. Participants are compared without ``+tags``
(``abc+x@marketplace.amazon.de`` is the same buyer as ``abc@…``) and without the seller's own addresses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

__all__ = [
    "GENERIC_SUBJECTS",
    "ThreadIndex",
    "canonical_address",
    "find_thread",
    "is_generic_subject",
    "normalize_subject",
    "participants_of",
    "strip_reply_prefixes",
]

# Reply/forward prefixes of many mailers and languages, optionally counted ("Re[2]:", "AW(3):"),
# with the French space before the colon and the full-width colon.
_PREFIX = re.compile(
    r"^\s*(?:re|fwd?|aw|wg|antw|antwort|rv|tr|r|sv|vs|vl|odp|enc|res|ynt|ref|rif|doorst|"
    r"Απ|ΑΠ|Σχετ|ΣΧΕΤ|回复|回覆|转发|轉寄|答复|답장|전달|返信|転送)"
    r"\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*",
    re.IGNORECASE,
)
_TAG = re.compile(r"^\s*\[([^\]]*)\]\s*")
_SPACES = re.compile(r"\s+")
_HAS_DIGIT = re.compile(r"\d")

GENERIC_SUBJECTS = frozenset(
    {
        "", "hello", "hi", "hey", "hallo", "hola", "bonjour", "ciao", "salut", "guten tag", "good morning",
        "question", "questions", "frage", "fragen", "pregunta", "consulta", "domanda", "vraag", "pytanie",
        "order", "orders", "my order", "bestellung", "meine bestellung", "pedido", "commande", "ordine",
        "bestelling", "zamówienie", "inquiry", "enquiry", "anfrage", "request", "help", "hilfe", "ayuda",
        "aide", "aiuto", "info", "information", "informationen", "contact", "kontakt", "support",
        "no subject", "(no subject)", "kein betreff", "(kein betreff)", "sin asunto", "(sin asunto)",
        "sans objet", "(sans objet)", "nessun oggetto", "thanks", "thank you", "danke", "gracias", "merci",
        "grazie", "test", "message", "nachricht", "mensaje", "urgent", "dringend", "problem", "problema",
        "problème", "delivery", "lieferung", "shipping", "versand", "return", "rücksendung", "refund",
        "invoice", "rechnung", "factura", "facture", "re", "fw", "fwd",
    }
)  # fmt: skip


def strip_reply_prefixes(subject: str) -> str:
    """Remove leading "Re:", "AW:", "Fwd:"… (repeated, mixed, before or after list tags); keep case."""
    text = subject or ""
    while True:
        match = _PREFIX.match(text)
        if match:
            text = text[match.end() :]
            continue
        tag = _TAG.match(text)
        # "[list] Re: x" — look past a leading tag for more prefixes, but keep the tag itself.
        if tag and _PREFIX.match(text, tag.end()):
            rest = _PREFIX.sub("", text[tag.end() :], count=1)
            text = text[: tag.end()] + rest
            continue
        return _SPACES.sub(" ", text).strip()


def normalize_subject(subject: str) -> str:
    """Subject key for threading: no reply/forward prefixes, no list/spam tags, casefolded.

    Tags with a digit (``[#12345]``, ``[Ticket 42]``) are kept: they identify a ticket, so two tickets with
    the same text must stay apart. Tags without one (``[shop-list]``, ``[SPAM]``) are dropped.
    """
    text = strip_reply_prefixes(subject or "")
    kept: list[str] = []
    while True:
        tag = _TAG.match(text)
        if not tag:
            break
        if _HAS_DIGIT.search(tag.group(1)):
            kept.append(f"[{_SPACES.sub(' ', tag.group(1)).strip()}]")
        text = strip_reply_prefixes(text[tag.end() :])
    rest = _SPACES.sub(" ", text).strip()
    return " ".join([*kept, rest] if rest else kept).casefold()


def is_generic_subject(normalized_subject: str) -> bool:
    """True when a subject says too little to join two mails by subject alone."""
    text = normalized_subject.strip(" .!?¿¡:;,-–—_*#\"'()").strip()
    return len(text) < 4 or text in GENERIC_SUBJECTS


def canonical_address(address: str) -> str:
    """Lowercased address without a ``+tag`` in the local part, for comparing participants."""
    addr = (address or "").strip().strip("<>").lower()
    local, at, domain = addr.rpartition("@")
    if at and "+" in local:
        local = local.split("+", 1)[0]
        return f"{local}@{domain}" if local else addr
    return addr


def _address_of(item: tuple[str, str] | str) -> str:
    return item if isinstance(item, str) else item[1]


def participants_of(
    from_address: str | None,
    to: Iterable[tuple[str, str] | str],
    cc: Iterable[tuple[str, str] | str],
    own_addresses: Iterable[str],
) -> frozenset[str]:
    """Everyone in the conversation except the seller: canonical, lowercased addresses.

    ``to``/``cc`` accept ``(name, address)`` pairs (as ParsedMail has them) or bare addresses.
    """
    own = {canonical_address(a) for a in own_addresses}
    everyone = [from_address or "", *(_address_of(x) for x in to), *(_address_of(x) for x in cc)]
    found = {canonical_address(a) for a in everyone}
    return frozenset(a for a in found if a and "@" in a and a not in own)


class ThreadIndex(Protocol):
    """Lookups the threading needs; the store implements them with indexed queries."""

    def find_by_message_ids(self, ids: Sequence[str]) -> int | None:
        """Thread id of the first id in ``ids`` (in the given order of preference) that is known."""
        ...

    def find_by_subject(
        self, normalized_subject: str, participants: frozenset[str], since: datetime
    ) -> int | None:
        """Newest thread with this normalized subject, active since ``since``, sharing a participant."""
        ...


def _clean_id(value: str | None) -> str:
    return (value or "").strip().strip("<>").strip()


def find_thread(
    index: ThreadIndex,
    *,
    message_id: str | None,
    in_reply_to: str | None,
    references: Sequence[str],
    subject: str,
    participants: frozenset[str],
    date: datetime | None,
    subject_window: timedelta = timedelta(days=30),
    normalized_subject: str | None = None,
) -> int | None:
    """Thread id for a new message, or None to start a new thread (see the module docstring for the order).

    Subject matching needs the message date (the window ends there); without a date it is skipped rather
    than guessed, as is a generic subject or a message without other participants. ``normalized_subject``
    saves normalizing ``subject`` again when the caller has done it.
    """
    own_id = _clean_id(message_id)
    if own_id:
        found = index.find_by_message_ids([own_id])
        if found is not None:
            return found
    parent = _clean_id(in_reply_to)
    if parent:
        found = index.find_by_message_ids([parent])
        if found is not None:
            return found
    refs: list[str] = []
    for ref in reversed(references):
        cleaned = _clean_id(ref)
        if cleaned and cleaned != parent and cleaned != own_id and cleaned not in refs:
            refs.append(cleaned)
    if refs:
        found = index.find_by_message_ids(refs)
        if found is not None:
            return found
    normalized = normalize_subject(subject) if normalized_subject is None else normalized_subject
    if date is None or not participants or is_generic_subject(normalized):
        return None
    return index.find_by_subject(normalized, participants, date - subject_window)
