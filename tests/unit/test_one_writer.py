"""One writer (issue 12.4): the bulk and the single path of ``store.writer.StoreWriter`` store the same rows.

The same realistic mails (greetings, quoted replies, an auto-reply, HTML-only, an Amazon relay mail, several
languages, outbound replies, a reply threaded by References alone, a mail answered elsewhere) go once through
``store.ingest`` (one message at a time, as the demo and the outbox store them) and once through ``MailStore``
exactly the way ``sync.mail_sync`` drives it (a header batch with placeholder bodies, then a body batch). The
same Mirakl threads (customer, shop and operator messages, an attachment, HTML, the vendor's deadline clock and
"no reply needed") go once in one bulk batch, as a first sync brings them, and once row by row, a message at a
time, as incremental syncs bring them. Each path writes into a fresh profile built by the real initialisation
code; every conversation, message, customer, identity, attachment, event and raw source row must be equal,
apart from row ids and insertion times; and ``inbound_stored`` hears of every inbound message exactly once.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from inbox_app import i18n
from inbox_app.channels.mail.mime import parse_message
from inbox_app.domain.conversations import Direction, IncomingMessage, snippet_of
from inbox_app.domain.message_ids import norm_id
from inbox_app.profile import open_profile
from inbox_app.store import ingest
from inbox_app.store.channel_threads import (
    AttachmentRecord,
    ChannelTarget,
    MessageRecord,
    ThreadRecord,
    store_thread_batch,
)
from inbox_app.store.db import database_proxy
from inbox_app.store.mail_models import MailStore, create_mail_tables
from inbox_app.store.models import Account
from inbox_app.store.writer import StoreWriter

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
    references: str | None = None,
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
        *([f"References: {references}"] if references else []),
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
                Mail(
                    Direction.OUT,
                    _mail(
                        SELLER,
                        "claire@example.fr",
                        "Re: Taille",
                        "Bonjour Madame Martin,\nbien sûr, voici l'étiquette de retour.",
                        at=T0 + timedelta(hours=3, minutes=30),
                        message_id="<r3@shop.example>",
                    ),
                ),
                Mail(
                    Direction.IN,
                    _mail(
                        "Claire Martin <claire@example.fr>",
                        SELLER,
                        "Re: Taille",
                        "Merci, c'est parti ce matin.",
                        at=T0 + timedelta(hours=3, minutes=50),
                        message_id="<c2@example.fr>",
                        references="<c1@example.fr> <r3@shop.example>",  # a mailer without In-Reply-To
                    ),
                    is_read=False,
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
                    remote_id=norm_id(p.message_id),  # as the mail sync and the outbox keep it
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
                    remote_id=norm_id(p.message_id),  # as the mail sync and the outbox keep it
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
        "attachment": [
            clean(r, message_id=message_key[r["message_id"]]) for r in _rows("attachment", "message_id")
        ],
        "event": [
            clean(r, conversation=conversation_key[r["conversation"]], message=message_key[r["message"]])
            for r in _rows("event", "id")
            if r["kind"] in ("received", "replied")
        ],
    }


def _mirakl_threads() -> list[ThreadRecord]:
    def msg(remote_id: str, role: str, text: str, at: datetime, *, html: str | None = None) -> MessageRecord:
        shop = role == "shop"
        return MessageRecord(
            IncomingMessage(
                direction=Direction.OUT if shop else Direction.IN,
                sent_at=at,
                text=text,
                html=html,
                author_name={"customer": "Marie Dubois", "operator": "Fnac Darty", "shop": "Shop"}[role],
                author_address=f"{role}-id",
                subject="Commande FD-1001",
                remote_id=remote_id,
                recipients=("Shop",) if not shop else ("customer",),
                is_read=shop,
                raw=json.dumps({"id": remote_id, "body": text}).encode(),
            ),
            author_role=role,
            attachments=(AttachmentRecord(f"att-{remote_id}", "photo colis.jpg", 48_213, "image/jpeg"),)
            if remote_id == "m-1"
            else (),
        )

    t = T0 + timedelta(days=2)
    return [
        ThreadRecord(
            remote_id="th-1",
            subject="Commande FD-1001",
            created_at=t,
            order_id="FD-1001-A",
            customer_key="cust-77",
            customer_name="Marie Dubois",
            reply_needed_since=t + timedelta(hours=3),
            raw='{"id": "th-1"}',
            extra={"offer_id": "OF-9"},
            messages=(
                msg("m-1", "customer", "Bonjour,\nle colis est arrivé abîmé, voici une photo.", t),
                msg("m-2", "shop", "Nous sommes désolés, un échange part demain.", t + timedelta(hours=1)),
                msg(
                    "m-3",
                    "operator",
                    "Le client attend toujours une réponse.",
                    t + timedelta(hours=3),
                    html="<p>Le client attend <b>toujours</b> une réponse.<script>x()</script></p>",
                ),
            ),
        ),
        ThreadRecord(
            remote_id="th-2",
            subject="Question produit",
            created_at=t + timedelta(hours=4),
            customer_key="cust-78",
            customer_name="Luis Ortega",
            messages=(
                msg("m-4", "customer", "¿Es compatible con el modelo X?", t + timedelta(hours=4)),
                msg("m-5", "shop", "Sí, es compatible.", t + timedelta(hours=5)),
                msg("m-6", "customer", "¡Gracias! Lo pido hoy.", t + timedelta(hours=6)),
            ),
        ),
    ]


def _mirakl_bulk(account: Account) -> None:
    """As a first sync brings them: every thread, every message, in one batch."""
    store_thread_batch(_target(account), _mirakl_threads(), "cursor-1")


def _mirakl_single(account: Account) -> None:
    """As incremental syncs bring them: a message at a time, row by row; the first listing of the second
    thread says no reply is needed, a later one no longer does (the final state is what the bulk path sees)."""
    for thread in _mirakl_threads():
        for count in range(1, len(thread.messages) + 1):
            listed = dataclasses.replace(
                thread,
                messages=thread.messages[:count],
                no_reply_needed=thread.remote_id == "th-2" and count == 1,
            )
            store_thread_batch(_target(account), [listed], f"cursor-{count}", bulk=False)


def _target(account: Account) -> ChannelTarget:
    return ChannelTarget(account.id, "mirakl", "Fnac Darty", "fnac")


_REAL_HOOK = StoreWriter.inbound_stored


def _fill(
    root: Path, mail: Any, mirakl: Any, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, list[dict[str, Any]]], list[int], list[int]]:
    """Both channels through one path into a fresh profile: the rows, the ids ``inbound_stored`` was called
    with, and the ids of the inbound messages stored."""
    heard: list[int] = []

    def spy(self: StoreWriter, ids: Sequence[int]) -> None:
        heard.extend(ids)
        _REAL_HOOK(self, ids)  # the real hook still runs: its categories are among the columns compared

    monkeypatch.setattr(StoreWriter, "inbound_stored", spy)
    prof = open_profile(root)
    try:
        mail(Account.create(kind="imap", name="Shop mailbox"), _threads())
        mirakl(Account.create(kind="mirakl", name="Fnac Darty"))
        inbound = [r["id"] for r in _rows("message", "id") if r["direction"] == "in"]
        return _dump(), heard, inbound
    finally:
        prof.close()


def test_bulk_and_single_writers_store_equal_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    i18n.setup("en")
    single, heard_single, inbound_single = _fill(
        tmp_path / "single", _single_path, _mirakl_single, monkeypatch
    )
    bulk, heard_bulk, inbound_bulk = _fill(tmp_path / "bulk", _bulk_path, _mirakl_bulk, monkeypatch)
    assert len(single["message"]) == 12 + 6 and len(single["conversation"]) == 5 + 2
    assert len(single["attachment"]) == 1 and len(single["customer"]) == 5 + 2
    for table in single:
        assert bulk[table] == single[table], table
    snippets = [c["snippet"] for c in single["conversation"]]
    assert snippets == [
        "Danke, ist heute gekommen!",
        "El pedido no ha llegado todavía. ¿Me pueden ayudar?",
        "Merci, c'est parti ce matin.",
        "I am out of the office until Monday.",
        "Hallo!",
        "Le client attend toujours une réponse.",
        "¡Gracias! Lo pido hoy.",
    ]
    html_only = parse_message(_threads()[2].mails[0].raw).text_body
    assert html_only.startswith("Bonjour") and snippet_of(html_only).startswith("la taille 38")
    by_remote = {m["remote_id"]: m for m in single["message"]}
    # Threading facts as stored: References without In-Reply-To, the Amazon relay, the marketplace thread.
    assert by_remote["<c2@example.fr>"]["in_reply_to"] is None
    assert json.loads(by_remote["<c2@example.fr>"]["references"]) == ["<c1@example.fr>", "<r3@shop.example>"]
    assert by_remote["<w2@example.de>"]["in_reply_to"] == "<r1@shop.example>"  # one stored form
    assert single["conversation"][1]["order_id"] == "404-3382716-1234567"
    th1, th2 = single["conversation"][5:]
    assert (
        th1["remote_id"] == "th-1" and th1["deadline_at"] is not None and th1["extra"]["offer_id"] == "OF-9"
    )
    assert th2["remote_id"] == "th-2" and th2["deadline_at"] is None  # the vendor's clock is not running
    assert th2["no_response_needed"] == 0 and "vendor_no_reply" not in th2["extra"]
    assert (
        "<script>" not in by_remote["m-3"]["html_body"] and "<b>toujours</b>" in by_remote["m-3"]["html_body"]
    )
    assert single["attachment"][0]["remote_url"] == "att-m-1"
    # The hook hears of every inbound message once, when its text is stored (a mail's after its body).
    assert len(inbound_single) == len(inbound_bulk) == 9 + 4
    assert sorted(heard_single) == inbound_single and sorted(heard_bulk) == inbound_bulk


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
