"""Categorisation of real customer messages, written as sellers receive them, in the six rule languages."""

from __future__ import annotations

import pytest

from inbox_app.domain.categories import (
    DEFAULT_RULES,
    Category,
    CategoryMatcher,
    CategorySource,
    categorise,
    fold,
    merge_rules,
    parse_keywords,
)

MATCHER = CategoryMatcher(DEFAULT_RULES)

# (subject, first message, expected category)
MESSAGES: list[tuple[str, str, Category]] = [
    # Spanish
    (
        "Pedido 404-3382716",
        "Hola, mi pedido aún no ha llegado y el seguimiento no se actualiza desde el lunes. "
        "¿Me podéis decir algo?",
        Category.DELIVERY,
    ),
    (
        "Consulta",
        "Buenas tardes, la taza llegó rota, el paquete venía golpeado. Adjunto fotos.",
        Category.DAMAGED,
    ),
    ("", "He pedido la talla M y me habéis enviado una L, la talla es incorrecta.", Category.WRONG_ITEM),
    ("Devolución", "Quiero devolver las zapatillas, me quedan pequeñas. ¿Cómo lo hago?", Category.RETURN),
    ("", "Devolví el artículo hace dos semanas y todavía no tengo el reembolso.", Category.REFUND),
    ("", "El código de descuento BLACK10 no funciona al pagar, ¿podéis revisarlo?", Category.PROMO_CODE),
    ("", "Necesito la factura con mi CIF para la empresa, por favor.", Category.INVOICE),
    ("", "¿Cuándo volveréis a tener stock de la talla 42? Está agotada.", Category.STOCK),
    # English
    (
        "Where is my parcel?",
        "Hi, I ordered 10 days ago and the tracking hasn't moved since Monday.",
        Category.DELIVERY,
    ),
    ("", "The kettle arrived with a cracked lid and it doesn't work at all.", Category.DAMAGED),
    ("", "You sent me the wrong colour, I ordered black and got navy.", Category.WRONG_ITEM),
    ("", "Hello, my discount code doesn't work at checkout, it says invalid.", Category.PROMO_CODE),
    ("", "I was charged twice for the same order, please check my PayPal.", Category.PAYMENT),
    ("", "Could you send me an invoice with VAT for order 302-1234567?", Category.INVOICE),
    ("", "Before buying: is this charger compatible with the iPhone 15?", Category.PRE_SALE),
    ("", "I returned the jacket last week, when will I get my refund?", Category.REFUND),
    # French
    (
        "Colis non reçu",
        "Bonjour, je n'ai toujours pas reçu mon colis, le suivi indique qu'il est bloqué.",
        Category.DELIVERY,
    ),
    ("", "Le vase est arrivé cassé, le carton était abîmé.", Category.DAMAGED),
    (
        "",
        "Bonjour, je souhaite retourner l'article, comment obtenir l'étiquette de retour ?",
        Category.RETURN,
    ),
    ("", "Pouvez-vous m'envoyer la facture de ma commande ? Merci.", Category.INVOICE),
    ("", "Mon code promo ne fonctionne pas sur votre boutique.", Category.PROMO_CODE),
    # German
    (
        "Bestellung",
        "Hallo, mein Paket ist noch nicht angekommen. Die Sendungsverfolgung zeigt seit Tagen nichts.",
        Category.DELIVERY,
    ),
    (
        "Teekanne zerbrochen",
        "Die Teekanne kam zerbrochen an, die Verpackung war beschädigt.",
        Category.DAMAGED,
    ),
    ("", "Sie haben mir die falsche Größe geschickt, ich hatte 38 bestellt.", Category.WRONG_ITEM),
    ("", "Ich brauche bitte eine Rechnung mit ausgewiesener Mehrwertsteuer.", Category.INVOICE),
    ("", "Wann ist der Artikel wieder verfügbar? Er ist ausverkauft.", Category.STOCK),
    ("", "Ich möchte die Bestellung stornieren und mein Geld zurück.", Category.REFUND),
    # Italian
    ("", "Buongiorno, il pacco non è ancora arrivato e il tracciamento non si aggiorna.", Category.DELIVERY),
    ("", "Il prodotto è arrivato danneggiato, la scatola era rotta.", Category.DAMAGED),
    ("", "Vorrei fare il reso delle scarpe, sono troppo piccole.", Category.RETURN),
    ("", "Il codice sconto non viene accettato, potete aiutarmi?", Category.PROMO_CODE),
    ("", "Mi serve la fattura per la partita IVA, grazie.", Category.INVOICE),
    # Portuguese
    ("", "Olá, a minha encomenda ainda não chegou e o rastreio não atualiza.", Category.DELIVERY),
    ("", "O copo chegou partido e a caixa estava amassada.", Category.DAMAGED),
    ("", "Recebi o tamanho errado, pedi M e veio XL.", Category.WRONG_ITEM),
    ("", "Fui cobrado duas vezes no cartão, podem verificar o pagamento?", Category.PAYMENT),
    ("", "Gostaria de comprar, mas é compatível com a versão anterior?", Category.PRE_SALE),
    ("", "Quero o reembolso, o produto foi devolvido há um mês.", Category.REFUND),
    # Nothing to go on
    ("Hola", "Muchas gracias por todo, un saludo.", Category.OTHER),
]


@pytest.mark.parametrize(("subject", "text", "expected"), MESSAGES)
def test_real_messages_get_their_category(subject: str, text: str, expected: Category) -> None:
    result = categorise(MATCHER, subject, text)
    assert result.category is expected, (subject, text, MATCHER.scores(subject, 2), MATCHER.scores(text))
    assert result.source is CategorySource.RULE


def test_case_accents_and_plurals_do_not_matter() -> None:
    assert MATCHER.best("", "LOS PAQUETES NO HAN LLEGADO") is Category.DELIVERY  # plural, upper case
    assert MATCHER.best("", "producto danado") is Category.DAMAGED  # accent left out by the customer
    assert MATCHER.best("", "Zwei Pakete fehlen noch") is not None
    assert fold("Größe Dañado L’article") == "grosse danado l article"


def test_marketplace_reason_wins_over_the_words() -> None:
    text = "Mi pedido no ha llegado"
    kaufland = categorise(MATCHER, "", text, marketplace_category="damaged")
    assert (kaufland.category, kaufland.source) == (Category.DAMAGED, CategorySource.MARKETPLACE)
    mirakl = categorise(MATCHER, "", text, marketplace_reason="Article endommagé")
    assert (mirakl.category, mirakl.source) == (Category.DAMAGED, CategorySource.MARKETPLACE)
    # An unhelpful reason ("other", or words no rule knows) leaves the keywords to decide.
    assert categorise(MATCHER, "", text, marketplace_category="other").source is CategorySource.RULE
    generic = categorise(MATCHER, "", text, marketplace_reason="Autre demande")
    assert (generic.category, generic.source) == (Category.DELIVERY, CategorySource.RULE)


def test_edited_rules_replace_a_language_and_bad_settings_are_ignored() -> None:
    rules = merge_rules({"stock": {"es": ["preventa*"]}, "nonsense": {"es": ["x"]}, "refund": "broken"})
    matcher = CategoryMatcher(rules)
    assert matcher.best("", "¿Hay preventas de este modelo?") is Category.STOCK
    assert matcher.best("", "Está agotado") is None  # the Spanish stock words were replaced
    assert merge_rules(["not", "a", "dict"]) == merge_rules(None)
    assert parse_keywords("a, b\n c ,,\n") == ("a", "b", "c")
