"""Categorisation of customer messages as sellers receive them — greetings, order numbers, quoted history,
signatures, typed in a hurry — 86 of them over the ten categories in es, en, fr, de, it and pt.

Each is read as written, in CAPITALS, and without its accents (customers on phones leave them out): the rules
must give the same category every time. Complements test_categories (one message per rule family)."""

from __future__ import annotations

import unicodedata

import pytest

from inbox_app.domain.categories import DEFAULT_RULES, Category, CategoryMatcher, CategorySource, categorise

C = Category
MATCHER = CategoryMatcher(DEFAULT_RULES)

# (language, subject, first message, expected)
MESSAGES: list[tuple[str, str, str, Category]] = [
    # ---------------- es
    (
        "es",
        "RE: Pedido 171-5551234-1234567",
        "Buenas, llevo 2 semanas esperando y NADA. El número de seguimiento dice que está en reparto desde el jueves. ¿Dónde está mi pedido?\n\nSaludos,\nMarta\n\n> El 12/11 escribió Tienda:\n> Gracias por su compra",
        C.DELIVERY,
    ),
    (
        "es",
        "",
        "Hola, el repartidor dice que lo entregó pero yo no he recibido nada. Nadie ha llamado al timbre.",
        C.DELIVERY,
    ),
    (
        "es",
        "Producto dañado",
        "Me ha llegado la lámpara con el cristal roto y la caja toda abollada. Les mando foto. ¿Me envían otra?",
        C.DAMAGED,
    ),
    ("es", "", "buenas el cargador no funciona, lo enchufo y no hace nada, viene defectuoso", C.DAMAGED),
    (
        "es",
        "Artículo equivocado",
        "Pedí el modelo azul y me ha llegado el rojo. No es lo que pedí.",
        C.WRONG_ITEM,
    ),
    (
        "es",
        "",
        "Me habéis mandado otro producto distinto, no corresponde con la foto del anuncio",
        C.WRONG_ITEM,
    ),
    (
        "es",
        "Devolución pedido 402-1234",
        "Hola quisiera devolver el pedido porque no me convence, ¿me mandáis la etiqueta de devolución?",
        C.RETURN,
    ),
    ("es", "", "¿Cuándo me devolvéis el dinero? Ya os mandé el paquete de vuelta hace 15 días.", C.REFUND),
    ("es", "", "Quiero cancelar el pedido y que me reembolsen", C.REFUND),
    ("es", "", "Hola, ¿os quedan unidades en talla 38? En la web pone sin stock.", C.STOCK),
    ("es", "Cupón", "He intentado usar el cupón de bienvenida y me dice que no es válido", C.PROMO_CODE),
    ("es", "", "Me han cobrado dos veces el mismo pedido en la tarjeta, por favor revisadlo", C.PAYMENT),
    ("es", "", "El pago con bizum me da error y no puedo finalizar la compra", C.PAYMENT),
    (
        "es",
        "Factura",
        "Buenos días, ¿me podrían mandar la factura a nombre de mi empresa? Os paso el NIF.",
        C.INVOICE,
    ),
    (
        "es",
        "Consulta antes de comprar",
        "Hola, antes de hacer el pedido quería saber si este sofá cabe por una puerta de 70 cm. Gracias",
        C.PRE_SALE,
    ),
    # ---------------- en
    (
        "en",
        "Order #112-3344556",
        "Hello, my package was supposed to arrive on Friday but it still hasn't come. Tracking number says in transit for 6 days. Can you help?\n\nThanks,\nJohn",
        C.DELIVERY,
    ),
    (
        "en",
        "",
        "Courier says delivered but I never received it, nothing at my door or with neighbours.",
        C.DELIVERY,
    ),
    (
        "en",
        "Broken on arrival",
        "The glass shelf was SHATTERED when I opened the box. Photos attached.",
        C.DAMAGED,
    ),
    ("en", "", "The headphones are faulty, the left side doesn't play any sound.", C.DAMAGED),
    ("en", "", "I ordered size 10 but received a size 8. Please send the correct size.", C.WRONG_ITEM),
    ("en", "", "This isn't what I ordered, I got a completely different item.", C.WRONG_ITEM),
    (
        "en",
        "Return request",
        "Hi, I'd like to return these boots, they're too tight. How do I send them back?",
        C.RETURN,
    ),
    ("en", "", "Still waiting for my money back, you received the return two weeks ago.", C.REFUND),
    ("en", "", "Please cancel my order and refund me.", C.REFUND),
    ("en", "", "When will the grey version be back in stock? It's been out of stock for weeks.", C.STOCK),
    ("en", "", "The voucher code SAVE15 isn't being applied at checkout", C.PROMO_CODE),
    (
        "en",
        "",
        "My card was declined but the money has left my account. What's going on with the payment?",
        C.PAYMENT,
    ),
    (
        "en",
        "VAT invoice",
        "Could you please send a VAT invoice for my company? Our VAT number is GB123456789.",
        C.INVOICE,
    ),
    (
        "en",
        "Question",
        "Hi, does this drill come with batteries or do I need to buy them separately? Thinking of ordering two.",
        C.PRE_SALE,
    ),
    # ---------------- fr
    (
        "fr",
        "Commande 1234567",
        "Bonjour,\nJ'attends toujours ma commande passée il y a 10 jours. Le numéro de suivi ne fonctionne pas. Pouvez-vous me dire où en est la livraison ?\nCordialement",
        C.DELIVERY,
    ),
    ("fr", "", "Le transporteur indique colis livré mais je n'ai rien reçu !", C.DELIVERY),
    (
        "fr",
        "Produit endommagé",
        "J'ai reçu la commande mais le carton était écrasé et l'article est cabossé et ne fonctionne pas.",
        C.DAMAGED,
    ),
    ("fr", "", "L'écran est fissuré à la livraison, je vous joins des photos.", C.DAMAGED),
    (
        "fr",
        "",
        "Je n'ai pas reçu le bon article : j'avais commandé la taille L et j'ai reçu du S.",
        C.WRONG_ITEM,
    ),
    ("fr", "", "Erreur de couleur, j'ai commandé du vert et reçu du bleu.", C.WRONG_ITEM),
    ("fr", "Retour", "Bonjour, comment faire pour renvoyer l'article ? Il ne me convient pas.", C.RETURN),
    ("fr", "", "Je n'ai toujours pas été remboursé alors que vous avez reçu le retour.", C.REFUND),
    ("fr", "", "Je souhaite annuler ma commande et être remboursée.", C.REFUND),
    ("fr", "", "Quand ce produit sera-t-il de nouveau disponible ? Il est en rupture de stock.", C.STOCK),
    ("fr", "", "Mon code de réduction n'est pas accepté lors du paiement.", C.PROMO_CODE),
    ("fr", "", "J'ai été débité deux fois pour la même commande, merci de vérifier.", C.PAYMENT),
    ("fr", "Facture", "Bonjour, pourriez-vous m'envoyer une facture au nom de ma société ? Merci", C.INVOICE),
    (
        "fr",
        "",
        "Bonjour, avant de commander je voudrais savoir si cette housse est compatible avec le modèle 2022 ?",
        C.PRE_SALE,
    ),
    # ---------------- de
    (
        "de",
        "AW: Ihre Bestellung 303-1234567",
        "Guten Tag,\nmeine Bestellung ist immer noch nicht da. Laut Sendungsverfolgung liegt das Paket seit einer Woche im Verteilzentrum.\nMit freundlichen Grüßen\nKlaus",
        C.DELIVERY,
    ),
    ("de", "", "DHL sagt zugestellt, aber ich habe nichts erhalten.", C.DELIVERY),
    (
        "de",
        "Beschädigt angekommen",
        "Der Spiegel ist kaputt angekommen, das Glas ist gesprungen. Fotos anbei.",
        C.DAMAGED,
    ),
    ("de", "", "Das Gerät ist defekt, es lässt sich nicht einschalten.", C.DAMAGED),
    ("de", "", "Ich habe einen falschen Artikel erhalten, bestellt war die schwarze Variante.", C.WRONG_ITEM),
    ("de", "", "Falsche Farbe geliefert – ich wollte Grün, bekommen habe ich Blau.", C.WRONG_ITEM),
    (
        "de",
        "Bestellung 306-1921363-7762334",
        "Ich habe „Wanderschuhe“ in Größe 44 bestellt und Größe 43 bekommen. Können Sie mir die richtige Größe "
        "schicken? Die andere schicke ich natürlich zurück.\n\nMit freundlichen Grüßen\nFelix Meyer",
        C.WRONG_ITEM,
    ),
    (
        "de",
        "Rücksendung",
        "Hallo, wie kann ich die Schuhe zurückschicken? Sie passen leider nicht. Brauche ein Retourenlabel.",
        C.RETURN,
    ),
    ("de", "", "Wann bekomme ich mein Geld zurück? Die Rücksendung ist seit 2 Wochen bei Ihnen.", C.REFUND),
    ("de", "", "Bitte stornieren Sie meine Bestellung und erstatten Sie den Betrag.", C.REFUND),
    ("de", "", "Ist der Artikel bald wieder lieferbar? Derzeit nicht auf Lager.", C.STOCK),
    ("de", "", "Der Gutscheincode funktioniert nicht im Warenkorb.", C.PROMO_CODE),
    ("de", "", "Mir wurde der Betrag doppelt abgebucht, bitte prüfen Sie die Zahlung.", C.PAYMENT),
    (
        "de",
        "Rechnung",
        "Könnten Sie mir bitte eine Rechnung mit ausgewiesener MwSt. für meine Firma schicken?",
        C.INVOICE,
    ),
    (
        "de",
        "Frage zum Artikel",
        "Hallo, bevor ich bestelle: ist das Kabel auch für USB-C geeignet?",
        C.PRE_SALE,
    ),
    # ---------------- it
    (
        "it",
        "Ordine 405-1234567",
        "Buongiorno, ho ordinato 12 giorni fa e non mi è ancora arrivato niente. Il tracking è fermo. Potete verificare la spedizione?\nGrazie, Luca",
        C.DELIVERY,
    ),
    ("it", "", "Il corriere dice che è stato consegnato ma io non ho ricevuto nulla.", C.DELIVERY),
    ("it", "Prodotto rotto", "Il vaso è arrivato rotto in mille pezzi, l'imballo era rovinato.", C.DAMAGED),
    ("it", "", "Il frullatore è difettoso, non si accende.", C.DAMAGED),
    ("it", "", "Ho ricevuto la taglia sbagliata, avevo ordinato una M.", C.WRONG_ITEM),
    ("it", "", "Mi avete mandato un articolo diverso da quello ordinato.", C.WRONG_ITEM),
    ("it", "Reso", "Salve, vorrei restituire il prodotto, come posso fare il reso?", C.RETURN),
    (
        "it",
        "",
        "Non ho ancora ricevuto il rimborso, il pacco di reso vi è arrivato da due settimane.",
        C.REFUND,
    ),
    ("it", "", "Vorrei annullare l'ordine e avere il rimborso.", C.REFUND),
    ("it", "", "Quando tornerà disponibile? È esaurito da settimane.", C.STOCK),
    ("it", "", "Il coupon non funziona al momento del pagamento.", C.PROMO_CODE),
    ("it", "", "Mi è stato addebitato due volte lo stesso ordine sulla carta.", C.PAYMENT),
    (
        "it",
        "Fattura",
        "Buongiorno, mi servirebbe la fattura intestata alla mia azienda, vi mando la partita IVA.",
        C.INVOICE,
    ),
    (
        "it",
        "",
        "Salve, prima di acquistare volevo sapere se è compatibile con il modello precedente.",
        C.PRE_SALE,
    ),
    # ---------------- pt
    (
        "pt",
        "Encomenda 1234",
        "Bom dia, fiz a encomenda há duas semanas e ainda não recebi. O número de seguimento não mostra nada. Podem verificar?\nObrigado",
        C.DELIVERY,
    ),
    ("pt", "", "A transportadora diz que foi entregue mas eu não recebi nada.", C.DELIVERY),
    ("pt", "Produto danificado", "O candeeiro chegou partido e a caixa vinha toda amolgada.", C.DAMAGED),
    ("pt", "", "O aparelho veio com defeito, não liga.", C.DAMAGED),
    ("pt", "", "Enviaram-me o produto errado, encomendei o preto e veio o branco.", C.WRONG_ITEM),
    ("pt", "", "Recebi um tamanho diferente do que pedi.", C.WRONG_ITEM),
    ("pt", "Devolução", "Olá, gostaria de devolver o artigo, como faço a devolução?", C.RETURN),
    ("pt", "", "Ainda não recebi o reembolso e já devolvi o produto há 3 semanas.", C.REFUND),
    ("pt", "", "Quero cancelar a encomenda e receber o dinheiro de volta.", C.REFUND),
    ("pt", "", "Quando volta a ter stock deste artigo? Está esgotado.", C.STOCK),
    ("pt", "", "O código promocional não é aceite no checkout.", C.PROMO_CODE),
    ("pt", "", "Fui cobrada duas vezes pela mesma encomenda, o pagamento está duplicado.", C.PAYMENT),
    ("pt", "Fatura", "Bom dia, podem enviar-me a fatura com o meu NIF? Obrigado", C.INVOICE),
    ("pt", "", "Olá, antes de comprar gostava de saber se serve no modelo de 2021?", C.PRE_SALE),
]


def _without_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


VARIANTS = {"as written": lambda t: t, "capitals": str.upper, "no accents": _without_accents}


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize(
    ("language", "subject", "text", "expected"),
    MESSAGES,
    ids=[f"{m[0]}-{m[3].value}-{i}" for i, m in enumerate(MESSAGES)],
)
def test_messages_as_received_get_their_category(
    language: str, subject: str, text: str, expected: Category, variant: str
) -> None:
    change = VARIANTS[variant]
    result = categorise(MATCHER, change(subject), change(text))
    assert (result.category, result.source) == (expected, CategorySource.RULE), (
        language,
        text,
        MATCHER.scores(subject, 2),
        MATCHER.scores(text),
    )


def test_every_language_has_every_category() -> None:
    covered = {(language, expected) for language, _s, _t, expected in MESSAGES}
    for language in ("es", "en", "fr", "de", "it", "pt"):
        missing = [c.value for c in Category if c is not Category.OTHER and (language, c) not in covered]
        assert missing == [], (language, missing)
