"""Amazon buyer-message recognition on sample mails in several languages, and defensive behaviour."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inbox_app.channels.mail.amazon_relay import (
    AMAZON_RELAY_RE,
    AmazonMessage,
    marketplace_for_address,
    parse_amazon,
)
from inbox_app.channels.mail.mime import ParsedMail, parse_message

DATA = Path(__file__).resolve().parent.parent / "data" / "mail"


def amazon(name: str) -> AmazonMessage:
    result = parse_amazon(parse_message((DATA / name).read_bytes()))
    assert result is not None
    return result


def test_english_inquiry() -> None:
    msg = amazon("amazon_inquiry_en.eml")
    assert msg.relay_address == "8k3vq2mzx7tbw4h@marketplace.amazon.com"
    assert (msg.marketplace, msg.language) == ("amazon.com", "en")
    assert msg.buyer_name == "John Smith"
    assert msg.order_id == "111-2223334-5556667"
    assert msg.topic == "Shipping"
    assert msg.body_text.startswith("Hello, my order was supposed to arrive yesterday")
    assert msg.body_text.endswith("Thanks,\nJohn")
    assert "commMgrTok" not in msg.body_text
    assert msg.no_response_needed_url == (
        "https://sellercentral.amazon.com/gp/communication-manager/no-response-needed.html"
        "?msg=A1B2C3D4E5F6G7&t=seller"
    )
    assert msg.asins == ("B07XJ8C8F5", "B01N5IB20Q")


def test_german_inquiry() -> None:
    msg = amazon("amazon_inquiry_de.eml")
    assert (msg.marketplace, msg.language) == ("amazon.de", "de")
    assert msg.buyer_name == "Max Müller"
    assert msg.order_id == "302-1234567-7654321"
    assert msg.topic == "Lieferung"
    assert msg.body_text.startswith("Guten Tag, wann wird meine Bestellung versendet?")
    assert "Nachricht" not in msg.body_text
    assert msg.no_response_needed_url is not None and msg.no_response_needed_url.endswith(
        "msg=XYZ987654&t=seller"
    )
    assert msg.asins == ("B08L5WRMZJ",)


def test_spanish_inquiry() -> None:
    msg = amazon("amazon_inquiry_es.eml")
    assert (msg.marketplace, msg.language) == ("amazon.es", "es")
    assert msg.buyer_name == "María García"
    assert msg.order_id == "403-9876543-1234567"
    assert msg.body_text.startswith("Hola, el producto llegó dañado.")
    assert msg.no_response_needed_url is None


def test_french_inquiry_multipart() -> None:
    msg = amazon("amazon_inquiry_fr.eml")
    assert (msg.marketplace, msg.language) == ("amazon.fr", "fr")
    assert msg.buyer_name == "Jean Dupont"
    assert msg.order_id == "171-5555555-1212121"
    assert msg.body_text == "Bonjour, puis-je modifier l'adresse de livraison ? Merci.\nJean"
    assert msg.no_response_needed_url is not None and msg.no_response_needed_url.endswith("msg=FRmsg42")


def test_buyer_reply_with_plus_suffix() -> None:
    msg = amazon("amazon_reply_re.eml")
    assert msg.relay_address == "8k3vq2mzx7tbw4h+a1b2@marketplace.amazon.com"
    assert msg.buyer_name == "John Smith"
    assert msg.order_id == "111-2223334-5556667"
    assert msg.body_text == "Got it, thank you! It arrived today."


@pytest.mark.parametrize("name", ["shop_plain.eml", "auto_reply.eml", "missing_headers.eml"])
def test_other_mail_is_not_amazon(name: str) -> None:
    assert parse_amazon(parse_message((DATA / name).read_bytes())) is None


def _mail(**changes: object) -> ParsedMail:
    base = parse_message(b"From: x@example.com\r\nSubject: s\r\n\r\nbody")
    return replace(base, **changes)  # type: ignore[arg-type]  # test helper: field names checked at runtime


def test_relay_in_reply_to_header_is_recognised() -> None:
    mail = _mail(
        from_address="donotreply@amazon.co.uk",
        reply_to=(("", "abcdefghij12345@marketplace.amazon.co.uk"),),
        subject="Question",
        text_body="no markers at all [commMgrTok:XYZ]",
    )
    msg = parse_amazon(mail)
    assert msg is not None
    assert (msg.marketplace, msg.language) == ("amazon.co.uk", "en")
    assert msg.body_text == "no markers at all"
    assert msg.buyer_name is None and msg.order_id is None and msg.topic is None
    assert msg.asins == ()


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("abcdefghij12345@marketplace.amazon.de", ("amazon.de", "de")),
        ("abcdefghij12345@marketplace.amazon.com.br", ("amazon.com.br", "pt")),
        ("abcdefghij12345@marketplace.amazon.nl", ("amazon.nl", "nl")),
        ("abcdefghij12345@marketplace.amazon.pl", ("amazon.pl", "pl")),
        ("abcdefghij12345@marketplace.amazon.se", ("amazon.se", "sv")),
        ("abcdefghij12345@marketplace.amazon.it", ("amazon.it", "it")),
        ("abcdefghij12345+x1@marketplace.amazon.fr", ("amazon.fr", "fr")),
        ("ABCDEFGHIJ12345@Marketplace.Amazon.CO.UK", ("amazon.co.uk", "en")),
        ("abcdefghij12345@marketplace.amazon.xx", ("amazon.xx", "en")),
        ("short@marketplace.amazon.de", None),
        ("abcdefghij123456@marketplace.amazon.de", None),
        ("abcdefghij12345@marketplace.amazon.de.evil.example", None),
        ("abcdefghij12345@amazon.de", None),
        ("", None),
    ],
)
def test_marketplace_for_address(address: str, expected: tuple[str, str] | None) -> None:
    assert marketplace_for_address(address) == expected


def test_relay_regex_finds_alias_in_text() -> None:
    match = AMAZON_RELAY_RE.search("Reply to: abcdefghij12345@marketplace.amazon.es, thanks")
    assert match is not None and match.group("tld") == "es"


@pytest.mark.parametrize(
    ("subject", "order"),
    [
        (
            "Anfrage zu Rücksendung von Amazon-Kunde Eva (Bestellung: 028-1111111-2222222)",
            "028-1111111-2222222",
        ),
        ("Consulta de cliente de Amazon Ana (Pedido: 405-1111111-2222222)", "405-1111111-2222222"),
        ("Demande du client Amazon Luc (Commande : 171-1111111-2222222)", "171-1111111-2222222"),
        ("Richiesta dal cliente Amazon Gio (Ordine: 406-1111111-2222222)", "406-1111111-2222222"),
        (
            "AW: RE: Fwd: Question from Amazon customer Kim (Order: 114-1111111-2222222)",
            "114-1111111-2222222",
        ),
        ("Order 1234-1111111-2222222 is not an order id", None),
    ],
)
def test_order_id_from_subjects(subject: str, order: str | None) -> None:
    msg = parse_amazon(
        _mail(from_address="abcdefghij12345@marketplace.amazon.de", subject=subject, text_body="hi")
    )
    assert msg is not None and msg.order_id == order


def test_names_from_subjects_in_languages() -> None:
    def name(subject: str) -> str | None:
        msg = parse_amazon(
            _mail(from_address="abcdefghij12345@marketplace.amazon.de", from_name="", subject=subject)
        )
        assert msg is not None
        return msg.buyer_name

    assert name("Anfrage zu Lieferung von Amazon-Kunde Eva Braun (Bestellung: 028-1111111-2222222)") == (
        "Eva Braun"
    )
    assert name("Consulta de cliente de Amazon Ana Ruiz (Pedido: 405-1111111-2222222)") == "Ana Ruiz"
    assert name("Demande de renseignements du client Amazon Luc Martin") == "Luc Martin"
    assert name("Something else") is None


@given(st.text(max_size=300), st.text(max_size=80), st.text(max_size=80))
def test_never_raises_on_garbage(body: str, subject: str, display: str) -> None:
    mail = _mail(
        from_address="abcdefghij12345@marketplace.amazon.de",
        from_name=display,
        subject=subject,
        text_body=body,
        html_body=body,
    )
    msg = parse_amazon(mail)
    assert msg is not None
    assert isinstance(msg.body_text, str)
