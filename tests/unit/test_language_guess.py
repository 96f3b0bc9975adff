"""The buyer's language from the first lines of a mail (py3langid, restricted to marketplace languages)."""

from __future__ import annotations

import pytest

from inbox_app.sync.mail_parsing import guess_language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Hello, my parcel has not arrived yet. Could you please tell me where it is? Thank you.", "en"),
        ("Hallo, mein Paket ist noch nicht angekommen. Können Sie mir bitte sagen, wo es ist? Danke.", "de"),
        ("Bonjour, mon colis n'est toujours pas arrivé. Pouvez-vous me dire où il se trouve ? Merci.", "fr"),
        ("Hola, mi paquete todavía no ha llegado. ¿Podrían decirme dónde está? Muchas gracias.", "es"),
        ("Buongiorno, il mio pacco non è ancora arrivato. Potete dirmi dove si trova? Grazie mille.", "it"),
        (
            "Dzień dobry, moja paczka jeszcze nie dotarła. Czy mogą Państwo sprawdzić, gdzie jest? Dziękuję.",
            "pl",
        ),
    ],
)
def test_common_buyer_languages(text: str, language: str) -> None:
    assert guess_language(text) == language


def test_quoted_history_and_short_text_do_not_decide() -> None:
    quoted = "> Sehr geehrte Damen und Herren, vielen Dank für Ihre Bestellung bei uns im Shop.\n" * 5
    assert guess_language(quoted + "Thanks, but the parcel is still missing. Where is it, please?") == "en"
    assert guess_language("Ok, thanks!") is None  # too short to tell
    assert guess_language(quoted) is None  # only quoted lines: nothing the buyer wrote


def test_only_the_opening_is_read() -> None:
    # The first 200 characters decide; a long German signature block after them does not.
    opening = "Hello, the jacket I received is the wrong size, I ordered a medium and got a small one. " * 3
    assert guess_language(opening + "Mit freundlichen Grüßen und einen schönen Tag noch " * 50) == "en"
