"""One writer (issue 12.4): the bulk writer of the mail sync and the single-message writer store the same rows.

The same realistic mails (greetings, quoted replies, an auto-reply, HTML-only, an Amazon relay mail, several
languages, outbound replies, a mail answered elsewhere) go once through ``store.ingest`` (one message at a time,
as the demo, the outbox and the marketplace channels store them) and once through ``MailStore`` exactly the way
``sync.mail_sync`` drives it (a header batch with placeholder bodies, then a body batch), each into a fresh
profile built by the real initialisation code. Every conversation, message, customer, identity, event and raw
source row must be equal, apart from row ids and insertion times.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from inbox_app import i18n
from inbox_app.channels.mail.mime import parse_message
from inbox_app.domain.conversations import Direction, IncomingMessage, snippet_of
from inbox_app.profile import open_profile
from inbox_app.store import ingest
from inbox_app.store.db import database_proxy
from inbox_app.store.mail_models import MailStore, create_mail_tables
from inbox_app.store.models import Account

SELLER = "seller@shop.example"
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _mail(
    sender: str,
    to: str,
    subject: str,
    body: str,
    *,
    at: datetime,
    message_id: str,
    in_reply_to: str | None = None,
    html: bool = False,
    headers: tuple[str, ...] = (),
) -> bytes:
    lines = [
        f"From: {sender}",
        f"To: {to}",
        f"Subject: {subject}",
        f"Date: {at.strftime('%a, %d %b %Y %H:%M:%S +0000')}",
        f"Message-ID: {message_id}",
        *([f"In-Reply-To: {in_reply_to}", f"References: {in_reply_to}"] if in_reply_to else []),
        *headers,
        "MIME-Version: 1.0",
        f"Content-Type: text/{'html' if html else 'plain'}; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n" + body.replace("\n", "\r\n") + "\r\n").encode()


@dataclass
class Mail:
    direction: Direction
    raw: bytes
    is_read: bool = True
    is_answered: bool = False


@dataclass
class Thread:
    kind: str  # channel kind: email or amazon
    marketplace: str | None
    customer: tuple[str, str, str | None, str | None]  # identity kind, value, name, language
    subject: str
    language: str | None
    order_id: str | None = None
    extra: dict[str, object] = field(default_factory=dict)
    mails: list[Mail] = field(default_factory=list)


def _threads() -> list[Thread]:
    weber = "Klaus Weber <k.weber@example.de>"
    relay = "3x9kq7vbn2lmw4t@marketplace.amazon.es"
    return [
        Thread(
            "email",
            None,
            ("email", "K.Weber@Example.de", "Klaus Weber", None),
            "Paket nicht angekommen",
            "de",
            mails=[
                Mail(
                    Direction.IN,
                    _mail(
                        weber,
                        SELLER,
                        "Paket nicht angekommen",
                        "Hallo Herr Weber,\nmein Paket ist immer noch nicht angekommen.\nViele Grüße\nKlaus Weber",
                        at=T0,
                        message_id="<w1@example.de>",
                    ),
                    is_read=False,
                ),
                Mail(
                    Direction.OUT,
                    _mail(
                        SELLER,
                        weber,
                        "Re: Paket nicht angekommen",
                        "Guten Tag Herr Weber,\n\ndas Paket ist unterwegs, Sendungsnummer 00340434.\n\n"
                        "> Hallo Herr Weber,\n> mein Paket ist immer noch nicht angekommen.",
                        at=T0 + timedelta(hours=2),
                        message_id="<r1@shop.example>",
                        in_reply_to="<w1@example.de>",
                    ),
                ),
                Mail(
                    Direction.IN,
                    _mail(
                        weber,
                        SELLER,
                        "AW: Re: Paket nicht angekommen",
                        "> das Paket ist unterwegs, Sendungsnummer 00340434.\nDanke, ist heute gekommen!",
                        at=T0 + timedelta(days=1),
                        message_id="<w2@example.de>",
                        in_reply_to="<r1@shop.example>",
                    ),
                    is_read=False,
                ),
            ],
        ),
        Thread(
            "amazon",
            "amazon.es",
            ("amazon_alias", relay, "Lucía Fernández", "es"),
            "Consulta del cliente sobre el pedido 404-3382716-1234567",
            "es",
            order_id="404-3382716-1234567",
            extra={"marketplace": "amazon.es"},
            mails=[
                Mail(
                    Direction.IN,
                    _mail(
                        f"Lucía Fernández - Amazon Marketplace <{relay}>",
                        SELLER,
                        "Consulta del cliente sobre el pedido 404-3382716-1234567",
                        "------------- Mensaje: -------------\n\nBuenos días:\n"
                        "El pedido no ha llegado todavía. ¿Me pueden ayudar?\n\n"
                        "------------- Fin del mensaje -------------",
                        at=T0 + timedelta(hours=1),
                        message_id="<a1@amazon.es>",
                    ),
                    is_read=False,
                ),
            ],
        ),
        Thread(
            "email",
            None,
            ("email", "claire@example.fr", "Claire Martin", None),
            "Taille",
            "fr",
            mails=[
                Mail(
                    Direction.IN,
                    _mail(
                        "Claire Martin <claire@example.fr>",
                        SELLER,
                        "Taille",
                        "<html><body><p>Bonjour,</p><p>la taille 38 ne convient pas, puis-je échanger ?</p>"
                        '<img src="https://tracker.example/p.gif"></body></html>',
                        at=T0 + timedelta(hours=3),
                        message_id="<c1@example.fr>",
                        html=True,
                    ),
                ),
            ],
        ),
        Thread(
            "email",
            None,
            ("email", "tom@example.co.uk", "", None),
            "Return the lamp",
            "en",
            mails=[
                Mail(
                    Direction.IN,
                    _mail(
                        "tom@example.co.uk",
                        SELLER,
                        "Return the lamp",
                        "Hi there!\nCan I still return the lamp I bought last month?",
                        at=T0 + timedelta(hours=4),
                        message_id="<t1@example.co.uk>",
                    ),
                ),
                Mail(
                    Direction.OUT,
                    _mail(
                        SELLER,
                        "tom@example.co.uk",
                        "Re: Return the lamp",
                        "Yes, within 30 days. The label is attached.",
                        at=T0 + timedelta(hours=5),
                        message_id="<r2@shop.example>",
                        in_reply_to="<t1@example.co.uk>",
                    ),
                ),
                Mail(
                    Direction.IN,
                    _mail(
                        "tom@example.co.uk",
                        SELLER,
                        "Automatic reply: Re: Return the lamp",
                        "I am out of the office until Monday.",
                        at=T0 + timedelta(hours=5, minutes=1),
                        message_id="<t2@example.co.uk>",
                        in_reply_to="<r2@shop.example>",
                        headers=("Auto-Submitted: auto-replied",),
                    ),
                    is_read=False,
                ),
            ],
        ),
        Thread(
            "email",
            None,
            ("email", "giulia@example.it", "Giulia Rossi", None),
            "Prodotto rotto",
            "it",
            mails=[
                Mail(
                    Direction.IN,
                    _mail(
                        "Giulia Rossi <giulia@example.it>",
                        SELLER,
                        "Prodotto rotto",
                        "Buongiorno,\nil prodotto è arrivato rotto.",
                        at=T0 + timedelta(hours=6),
                        message_id="<g1@example.it>",
                    ),
                    is_answered=True,  # answered from another mail client
                ),
                Mail(
                    Direction.IN,
                    _mail(
                        "Giulia Rossi <giulia@example.it>",
                        SELLER,
                        "Re: Prodotto rotto",
                        "Hallo!",  # only a greeting: it stays the list line
                        at=T0 + timedelta(hours=7),
                        message_id="<g2@example.it>",
                    ),
                    is_read=False,
                ),
            ],
        ),
    ]


def _single_path(account: Account, threads: list[Thread]) -> None:
    for thread in threads:
        channel = ingest.ensure_channel(
            account, thread.kind, f"{thread.kind} {thread.marketplace}", thread.marketplace
        )
        kind, value, name, language = thread.customer
        customer = ingest.ensure_customer(kind, value, name or None, language)
        parsed = [parse_message(m.raw) for m in thread.mails]
        conversation = ingest.create_conversation(
            account,
            channel,
            remote_id=None,
            subject=thread.subject,
            customer=customer,
            order_id=thread.order_id,
            language=thread.language,
            created_at=parsed[0].date,
            extra=thread.extra,
        )
        for mail, p in zip(thread.mails, parsed, strict=True):
            assert p.date is not None
            ingest.add_message(
                conversation,
                IncomingMessage(
                    direction=mail.direction,
                    sent_at=p.date,
                    text=p.text_body,
                    html=p.html_body,
                    author_name=p.from_name,
                    author_address=p.from_address,
                    subject=p.subject,
                    remote_id=p.message_id,
                    recipients=tuple(a for _n, a in (*p.to, *p.cc)),
                    in_reply_to=p.in_reply_to,
                    references=p.references,
                    is_read=mail.is_read,
                    is_answered=mail.is_answered,
                    is_auto_reply=p.is_auto_reply,
                    problems=p.problems,
                    raw=mail.raw,
                    extra={"copy_key": p.message_id},
                ),
            )


def _bulk_path(account: Account, threads: list[Thread]) -> None:
    """As ``sync.mail_sync`` does it: headers first (placeholder text), then the bodies, then the languages."""
    create_mail_tables(database_proxy.obj)
    store = MailStore(account.id)
    written: list[tuple[int, int, Mail, Any, Thread]] = []
    with store.bulk_transaction():
        store.begin_batch()
        for thread in threads:
            kind, value, name, language = thread.customer
            store.prefetch_customers(kind, [value])
            channel_id = store.channel_id(
                account, thread.kind, f"{thread.kind} {thread.marketplace}", thread.marketplace
            )
            parsed = [parse_message(m.raw) for m in thread.mails]
            assert parsed[0].date is not None
            conversation_id = store.create_conversation(
                channel_id=channel_id,
                subject=thread.subject,
                customer=store.customer(kind, value, name or None, language),
                order_id=thread.order_id,
                language=thread.language if thread.kind == "amazon" else None,
                created_at=parsed[0].date,
                extra=thread.extra,
            )
            for mail, p in zip(thread.mails, parsed, strict=True):
                assert p.date is not None
                message_id = store.insert_message(
                    conversation_id=conversation_id,
                    direction=mail.direction.value,
                    remote_id=p.message_id,
                    author_name=p.from_name,
                    author_address=p.from_address,
                    recipients=[a for _n, a in (*p.to, *p.cc)],
                    subject=p.subject,
                    sent_at=p.date,
                    text="…",
                    in_reply_to=p.in_reply_to,
                    is_read=mail.is_read,
                    is_answered=mail.is_answered,
                    extra={"body_pending": True, "copy_key": p.message_id},
                )
                written.append((message_id, conversation_id, mail, p, thread))
        store.flush_batch()
        store.refresh({conv for _m, conv, *_rest in written})
    with store.bulk_transaction():
        for message_id, conversation_id, mail, p, _thread in written:
            store.store_body(
                message_id,
                text=p.text_body,
                html=p.html_body,
                references=p.references,
                in_reply_to=p.in_reply_to,
                is_auto_reply=p.is_auto_reply,
                problems=p.problems,
                extra={"copy_key": p.message_id},
                raw=mail.raw,
                conversation_id=conversation_id,
            )
        assert store.flush_bodies() == []
        store.refresh_after_bodies({conv for _m, conv, *_rest in written})
        for _m, conversation_id, _mail, _p, thread in written:
            if thread.language and thread.kind != "amazon":
                store.set_conversation_language(conversation_id, thread.language)


# Columns that say when or under which id a row was inserted, not what it holds.
_INSERTION = {"id", "received_at", "created_at"}


def _rows(table: str, order: str) -> list[dict[str, Any]]:
    cursor = database_proxy.obj.execute_sql(f"SELECT * FROM {table} ORDER BY {order}")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _dump() -> dict[str, list[dict[str, Any]]]:
    """Every row the writers produce, ids replaced by what they point to (the same in both profiles)."""
    customers = {r["id"]: r for r in _rows("customer", "id")}
    identities = _rows("customer_identity", "id")
    identity_of = {r["customer_id"]: (r["kind"], r["value"]) for r in identities}
    channels = {r["id"]: (r["kind"], r["marketplace"], r["name"]) for r in _rows("channel", "id")}
    conversations = _rows("conversation", "id")
    conversation_key = {r["id"]: (r["subject"], r["created_at"]) for r in conversations}
    messages = _rows("message", "id")
    message_key = {r["id"]: r["remote_id"] for r in messages}

    def clean(row: dict[str, Any], **refs: Any) -> dict[str, Any]:
        out = {k: v for k, v in row.items() if k not in _INSERTION and k not in refs}
        for name, value in refs.items():
            out[name] = value
        if isinstance(out.get("extra"), str):
            out["extra"] = json.loads(out["extra"])
        return out

    return {
        "customer": sorted(
            (clean(r, id_of=identity_of[r["id"]]) for r in customers.values()), key=lambda r: r["id_of"]
        ),
        "customer_identity": [clean(r, customer_id=customers[r["customer_id"]]["name"]) for r in identities],
        "conversation": [
            clean(
                r,
                channel_id=channels[r["channel_id"]],
                customer_id=identity_of.get(r["customer_id"]),
                account_id=None,
            )
            for r in conversations
        ],
        "message": [clean(r, conversation_id=conversation_key[r["conversation_id"]]) for r in messages],
        "message_source": [
            clean(r, message_id=message_key[r["message_id"]]) for r in _rows("message_source", "message_id")
        ],
        "event": [
            clean(r, conversation=conversation_key[r["conversation"]], message=message_key[r["message"]])
            for r in _rows("event", "id")
            if r["kind"] in ("received", "replied")
        ],
    }


def _fill(root: Path, path: Any) -> dict[str, list[dict[str, Any]]]:
    prof = open_profile(root)
    try:
        account = Account.create(kind="imap", name="Shop mailbox")
        path(account, _threads())
        return _dump()
    finally:
        prof.close()


def test_bulk_and_single_writers_store_equal_rows(tmp_path: Path) -> None:
    i18n.setup("en")
    single = _fill(tmp_path / "single", _single_path)
    bulk = _fill(tmp_path / "bulk", _bulk_path)
    assert len(single["message"]) == 10 and len(single["conversation"]) == 5
    for table in single:
        assert bulk[table] == single[table], table
    snippets = [c["snippet"] for c in single["conversation"]]
    assert snippets == [
        "Danke, ist heute gekommen!",
        "El pedido no ha llegado todavía. ¿Me pueden ayudar?",
        snippet_of(parse_message(_threads()[2].mails[0].raw).text_body),
        "I am out of the office until Monday.",
        "Hallo!",
    ]
    assert "Bonjour" not in snippets[2] and snippets[2].startswith("la taille 38")


def test_snippet_skips_a_greeting_and_quotes_but_keeps_a_greeting_alone() -> None:
    assert (
        snippet_of("Hallo Herr Weber,\nmein Paket ist nicht angekommen.")
        == "mein Paket ist nicht angekommen."
    )
    assert snippet_of("> old text\n\n  Buenos días:\n  ¿Dónde está?") == "¿Dónde está?"
    assert snippet_of("------------- Message: -------------\n\nHello,\nWhere is it?") == "Where is it?"
    assert snippet_of("Hallo!") == "Hallo!"
    assert snippet_of("") == ""
    assert snippet_of("x" * 500) == "x" * 160
