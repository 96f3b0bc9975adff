"""What a customer writes about, as one of a fixed set of categories, from keyword rules per language.

Pure: no database, no Qt. The store (``store.triage``) feeds it a conversation's subject, its first inbound
text and the marketplace's own reason, and stores the answer with its source:

* ``manual`` — the seller chose it; nothing here ever overrides it (the store does not even ask);
* ``marketplace`` — the vendor said why the buyer wrote (Kaufland ``open_reason``/``topic``, a Mirakl
  ``REASON_CODE`` topic): more reliable than guessing from the words, so it wins over the keywords;
* ``rule`` — the keyword rules below (the seller can edit them in Settings → Categories).

Keywords are written lower-case; matching ignores case and accents, so ``"dañado"`` also finds "DANADO" and
"dañado". A keyword matches whole words, with a short plural or gender ending allowed (``paquete`` finds
"paquetes", ``paket`` finds "Pakete"); a ``*`` at the end of a word matches any ending (``reembols*``:
"reembolso", "reembolsar"). Each match counts one point, a match in the subject two (the subject usually
names the problem); the category with most points wins, ties go to the more specific one
(:data:`TIE_ORDER`: "my discount code doesn't work" is about the code, not a broken product).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from inbox_app.i18n import N_


class Category(StrEnum):
    DELIVERY = "delivery"
    DAMAGED = "damaged"
    WRONG_ITEM = "wrong_item"
    RETURN = "return"
    REFUND = "refund"
    STOCK = "stock"
    PROMO_CODE = "promo_code"
    PAYMENT = "payment"
    INVOICE = "invoice"
    PRE_SALE = "pre_sale"
    OTHER = "other"


class CategorySource(StrEnum):
    RULE = "rule"
    MARKETPLACE = "marketplace"
    MANUAL = "manual"


CATEGORY_LABELS: dict[str, str] = {
    Category.DELIVERY: N_("Delivery"),
    Category.DAMAGED: N_("Damaged"),
    Category.WRONG_ITEM: N_("Wrong item"),
    Category.RETURN: N_("Return"),
    Category.REFUND: N_("Refund"),
    Category.STOCK: N_("Stock"),
    Category.PROMO_CODE: N_("Promo code"),
    Category.PAYMENT: N_("Payment"),
    Category.INVOICE: N_("Invoice"),
    Category.PRE_SALE: N_("Pre-sale question"),
    Category.OTHER: N_("Other"),
}

#: The languages the default rules cover (the Settings page lists one column per language).
RULE_LANGUAGES: tuple[str, ...] = ("es", "en", "fr", "de", "it", "pt")

#: Equal scores go to the first of these: the narrower topic (a code, a bill, a payment, the wrong item) before
#: the broad ones that customers mention in passing (delivery, refund, return). Refund before delivery: "still no
#: refund, you received the return" asks for money, whatever the parcel words around it.
TIE_ORDER: tuple[Category, ...] = (
    Category.PROMO_CODE,
    Category.INVOICE,
    Category.PAYMENT,
    Category.WRONG_ITEM,
    Category.DAMAGED,
    Category.STOCK,
    Category.PRE_SALE,
    Category.REFUND,
    Category.DELIVERY,
    Category.RETURN,
)

Rules = Mapping[str, Mapping[str, Sequence[str]]]  # category → language → keywords

DEFAULT_RULES: dict[str, dict[str, tuple[str, ...]]] = {
    Category.DELIVERY: {
        "es": (
            "no ha llegado",
            "no me ha llegado",
            "no llega",
            "no lleg*",
            "seguimiento",
            "envio",
            "entrega",
            "paquete",
            "retras*",
            "transportista",
            "mensajer*",
            "donde esta mi pedido",
            "donde esta mi paquete",
            "perdid*",
            "no he recibido",
            "no lo he recibido",
            "repartidor",
            "entregado",
        ),
        "en": (
            "not arrived",
            "hasn t arrived",
            "has not arrived",
            "not received",
            "haven t received",
            "didn t receive",
            "did not receive",
            "never received",
            "where is my order",
            "where is my parcel",
            "where is my package",
            "tracking",
            "delivery",
            "deliver*",
            "shipping",
            "shipment",
            "parcel",
            "package",
            "courier",
            "lost",
            "still waiting",
            "late",
        ),
        "fr": (
            "pas recu",
            "jamais recu",
            "colis",
            "livraison",
            "livre",
            "livree",
            "suivi",
            "retard*",
            "transporteur",
            "ou en est ma commande",
            "ou est mon colis",
            "perdu",
            "expedi*",
        ),
        "de": (
            "nicht angekommen",
            "nicht erhalten",
            "nicht geliefert",
            "paket",
            "lieferung",
            "geliefert",
            "sendung",
            "sendungsverfolgung",
            "tracking",
            "verspat*",
            "wo bleibt",
            "zustell*",
            "versand*",
            "verloren",
            "zugestellt",
            "nichts erhalten",
        ),
        "it": (
            "non e arrivato",
            "non e ancora arrivato",
            "non ho ricevuto",
            "pacco",
            "pacchi",
            "spedizion*",
            "consegn*",
            "tracciamento",
            "tracking",
            "ritard*",
            "corriere",
            "dov e il mio pacco",
            "dov e il mio ordine",
            "smarrit*",
        ),
        "pt": (
            "nao chegou",
            "nao recebi",
            "entrega",
            "envio",
            "rastreio",
            "rastreamento",
            "atras*",
            "transportadora",
            "extraviad*",
            "onde esta a minha encomenda",
            "onde esta o meu pedido",
        ),
    },
    Category.DAMAGED: {
        "es": (
            "roto",
            "rota",
            "rotos",
            "rotas",
            "danad*",
            "defectuos*",
            "no funciona",
            "dejo de funcionar",
            "golpead*",
            "rayad*",
            "estropead*",
            "averiad*",
            "mal estado",
            "rompi*",
        ),
        "en": (
            "damaged",
            "damage",
            "broken",
            "cracked",
            "defective",
            "faulty",
            "doesn t work",
            "does not work",
            "not working",
            "stopped working",
            "scratched",
            "dented",
            "smashed",
            "shattered",
            "torn",
        ),
        "fr": (
            "casse",
            "cassee",
            "casses",
            "endommag*",
            "abime*",
            "defectueu*",
            "ne fonctionne pas",
            "ne marche pas",
            "fissur*",
            "raye",
            "rayee",
            "en panne",
            "brise*",
            "mauvais etat",
        ),
        "de": (
            "beschadigt*",
            "kaputt",
            "defekt*",
            "zerbrochen",
            "gebrochen",
            "funktioniert nicht",
            "geht nicht",
            "zerkratzt",
            "gerissen",
            "zersprungen",
            "riss",
            "bruch",
            "beschadigung",
        ),
        "it": (
            "rott*",
            "danneggiat*",
            "difettos*",
            "non funziona",
            "graffiat*",
            "ammaccat*",
            "rovinat*",
            "guast*",
            "spaccat*",
            "rotta",
            "crepat*",
        ),
        "pt": (
            "partid*",
            "quebrad*",
            "danificad*",
            "defeituos*",
            "avariad*",
            "nao funciona",
            "riscad*",
            "estragad*",
            "amassad*",
            "defeito*",
            "nao liga",
        ),
    },
    Category.WRONG_ITEM: {
        "es": (
            "equivocad*",
            "incorrect*",
            "no es lo que pedi",
            "no corresponde",
            "otro modelo",
            "en lugar de",
            "en vez de",
            "talla diferente",
            "color diferente",
            "producto diferente",
            "falta una pieza",
            "faltan piezas",
            "me falta",
        ),
        "en": (
            "wrong item",
            "wrong size",
            "wrong colour",
            "wrong color",
            "wrong product",
            "wrong model",
            "wrong one",
            "wrong",
            "not what i ordered",
            "different item",
            "instead of",
            "not as described",
            "missing part",
            "missing piece",
            "missing item",
            "correct size",
            "correct colour",
            "correct color",
            "correct item",
        ),
        "fr": (
            "mauvais*",
            "pas ce que j ai commande",
            "ne correspond pas",
            "au lieu de",
            "erreur de taille",
            "article different",
            "il manque",
            "erreur",
            "n ai pas recu le bon",
            "le bon article",
            "la bonne taille",
            "la bonne couleur",
        ),
        "de": (
            "falsch*",
            "statt",
            "anstatt",
            "nicht bestellt",
            "nicht wie beschrieben",
            "fehlt",
            "fehlen*",
            "verwechselt",
            "richtige grosse",
            "richtige farbe",
            "richtigen artikel",
        ),
        "it": ("sbagliat*", "non corrisponde", "diverso da", "al posto di", "invece di", "manca", "mancano"),
        "pt": ("errad*", "nao corresponde", "diferente do", "em vez de", "no lugar de", "falta", "faltam"),
    },
    Category.RETURN: {
        "es": ("devol*", "devuelt*", "devuelv*", "devolver*", "cambiarlo", "cambiarla", "desistimiento"),
        "en": ("return*", "send it back", "send back", "exchange*", "rma"),
        "fr": ("retour*", "renvoy*", "renvoi*", "echange*", "retractation", "retourner"),
        "de": (
            "rucksend*",
            "zuruckschick*",
            "zurucksend*",
            "retour*",
            "umtausch*",
            "widerruf*",
            "zuruckgeben",
        ),
        "it": ("reso", "resi", "restitu*", "rimandare", "rispedire", "recesso", "sostituzione"),
        "pt": ("devolu*", "devolv*", "troca", "trocar", "arrependimento"),
    },
    Category.REFUND: {
        "es": (
            "reembols*",
            "mi dinero",
            "cancelar*",
            "cancelacion",
            "anular*",
            "abono",
            "devuelvan el dinero",
            "devolv* el dinero",
        ),
        "en": ("refund*", "money back", "reimburs*", "cancel*", "chargeback"),
        "fr": ("rembours*", "annul*", "mon argent"),
        "de": ("erstatt*", "ruckerstatt*", "geld zuruck", "stornier*", "storno", "gutschrift"),
        "it": ("rimbors*", "annull*", "soldi indietro", "i miei soldi"),
        "pt": ("reembols*", "estorno", "cancelar*", "cancelamento", "meu dinheiro", "dinheiro de volta"),
    },
    Category.STOCK: {
        "es": ("stock", "disponib*", "agotad*", "existencias", "reponer*", "repondr*"),
        "en": (
            "in stock",
            "out of stock",
            "back in stock",
            "available",
            "availability",
            "restock*",
            "sold out",
        ),
        "fr": ("en stock", "rupture", "disponib*", "reapprovision*", "epuise*"),
        "de": (
            "auf lager",
            "lagerbestand",
            "verfugbar*",
            "ausverkauft",
            "nachschub",
            "wieder da",
            "lieferbar",
        ),
        "it": ("disponibil*", "esaurit*", "magazzino", "scorte", "in stock"),
        "pt": ("estoque", "em stock", "disponivel", "disponibilidade", "esgotad*"),
    },
    Category.PROMO_CODE: {
        "es": (
            "codigo de descuento",
            "codigo promocional",
            "cupon*",
            "descuento*",
            "promocion*",
            "codigo promo*",
        ),
        "en": ("promo code", "promo*", "discount*", "coupon*", "voucher*"),
        "fr": ("code promo*", "bon de reduction", "reduction*", "remise", "coupon*"),
        "de": ("rabatt*", "gutschein*", "aktionscode", "coupon*"),
        "it": ("codice sconto", "sconto", "sconti", "buono sconto", "coupon*", "promozion*"),
        "pt": ("codigo de desconto", "desconto*", "cupom", "cupao", "promocional", "promocao"),
    },
    Category.PAYMENT: {
        "es": ("pago", "pagos", "cobrad*", "cobro", "tarjeta", "paypal", "transferencia", "dos veces"),
        "en": (
            "payment*",
            "charged",
            "charged twice",
            "card declined",
            "credit card",
            "paypal",
            "bank transfer",
            "klarna",
            "pay",
        ),
        "fr": ("paiement*", "preleve*", "carte bancaire", "paypal", "virement", "debite*", "deux fois"),
        "de": (
            "zahlung*",
            "bezahl*",
            "abgebucht",
            "kreditkarte",
            "paypal",
            "uberweisung",
            "klarna",
            "zweimal",
            "mahnung",
        ),
        "it": ("pagament*", "addebitat*", "carta di credito", "paypal", "bonifico", "due volte"),
        "pt": ("pagamento*", "cobrad*", "cartao", "paypal", "transferencia", "boleto", "duas vezes"),
    },
    Category.INVOICE: {
        "es": ("factura*", "facturacion", "cif", "nif"),
        "en": ("invoice*", "receipt*", "vat", "tax number"),
        "fr": ("facture*", "tva", "justificatif"),
        "de": ("rechnung*", "quittung", "ust", "mehrwertsteuer", "beleg"),
        "it": ("fattura*", "ricevuta", "partita iva", "iva"),
        "pt": ("fatura*", "factura*", "nota fiscal", "recibo", "nif", "iva"),
    },
    Category.PRE_SALE: {
        "es": (
            "antes de comprar",
            "quisiera comprar",
            "me gustaria comprar",
            "compatible*",
            "medidas",
            "hacen envios",
            "garantia",
        ),
        "en": (
            "before buying",
            "before i buy",
            "before ordering",
            "would like to buy",
            "thinking of buying",
            "compatible",
            "dimensions",
            "do you ship",
            "is it possible",
            "warranty",
            "thinking of ordering",
            "before i order",
            "does it come with",
            "come with",
        ),
        "fr": (
            "avant d acheter",
            "avant de commander",
            "je voudrais acheter",
            "compatible*",
            "dimensions",
            "est il possible",
            "livrez vous",
            "garantie",
        ),
        "de": (
            "vor dem kauf",
            "vor der bestellung",
            "mochte kaufen",
            "kompatibel",
            "masse",
            "abmessungen",
            "liefern sie",
            "ist es moglich",
            "garantie",
            "bevor ich bestelle",
            "bevor ich kaufe",
            "geeignet",
        ),
        "it": (
            "prima di acquistare",
            "prima di ordinare",
            "vorrei acquistare",
            "compatibil*",
            "dimensioni",
            "spedite",
            "garanzia",
        ),
        "pt": (
            "antes de comprar",
            "gostaria de comprar",
            "compativel",
            "medidas",
            "dimensoes",
            "enviam",
            "garantia",
        ),
    },
}

_APOSTROPHE_TABLE = str.maketrans({"'": " ", "’": " ", "`": " ", "´": " "})
_COMBINING = re.compile(r"[\u0300-\u036f]")
_WORDS = re.compile(r"\w+")
_WORDS_OR_STAR = re.compile(r"\w+\*?")
_MEMO_LIMIT = 100_000  # words remembered per matcher (a few MB at most)
_MAX_HITS = 40  # keywords read per text: more never changed the winner in real mail, only cost time
_NOTHING: tuple[str | None, tuple[()]] = (None, ())  # a word that starts no keyword
#: Plural and gender endings tolerated after a keyword written without ``*``.
ENDINGS: tuple[str, ...] = ("s", "es", "e", "en", "n", "er", "a", "as", "os")


def fold(text: str) -> str:
    """Lower-case, accent-free, apostrophes as spaces: the form both keywords and texts are compared in."""
    if text.isascii():  # most mail in English, and much of the rest: no accents to take off
        return text.lower().translate(_APOSTROPHE_TABLE)
    text = unicodedata.normalize("NFKD", text.casefold())
    return _COMBINING.sub("", text).translate(_APOSTROPHE_TABLE)


@dataclass(frozen=True)
class _Keyword:
    category: str
    words: tuple[tuple[str, bool], ...]  # (folded word, is a prefix: written with a trailing "*")


def _word_matches(token: str, word: str, prefix: bool, last: bool) -> bool:
    if prefix:
        return token.startswith(word)
    if token == word:
        return True
    return last and token.startswith(word) and token[len(word) :] in ENDINGS


@dataclass(frozen=True)
class Match:
    category: Category
    source: CategorySource


class CategoryMatcher:
    """The rules as dictionaries keyed by a keyword's first word: a text is split into words once and each
    word is looked up, instead of trying hundreds of patterns at every character (a regular expression of all
    keywords made categorising a 20,000-mail first sync cost more than a third of it)."""

    def __init__(self, rules: Rules) -> None:
        self._exact: dict[str, list[_Keyword]] = {}  # first word (a whole word) → keywords starting with it
        self._prefix: dict[str, list[_Keyword]] = {}  # first word written with "*" → keywords
        for category in Category:
            if category is Category.OTHER:
                continue
            for keywords in rules.get(category.value, {}).values():
                for keyword in keywords:
                    words = tuple(
                        (w.rstrip("*"), w.endswith("*")) for w in _WORDS_OR_STAR.findall(fold(keyword))
                    )
                    words = tuple(w for w in words if w[0])
                    if not words:
                        continue
                    entry = _Keyword(category.value, words)
                    first, prefix = words[0]
                    if prefix:
                        self._prefix.setdefault(first, []).append(entry)
                    else:
                        self._exact.setdefault(first, []).append(entry)
        self._prefix_sizes = sorted({len(p) for p in self._prefix})
        self._seen: dict[str, tuple[str | None, tuple[_Keyword, ...]]] = {}
        for table in (self._exact, self._prefix):
            for entries in table.values():
                entries.sort(key=lambda k: len(k.words), reverse=True)  # the longest phrase first

    def _entry(self, token: str) -> tuple[str | None, tuple[_Keyword, ...]]:
        """What may start at a word: the category of a one-word keyword it is (None: none), and the longer
        keywords that start with it, longest first. Memoised per word, since a language uses few words often:
        most words cost one dictionary lookup."""
        cached = self._seen.get(token)
        if cached is not None:
            return cached
        found = list(self._exact.get(token, ()))
        for ending in ENDINGS:
            if token.endswith(ending) and len(token) > len(ending):
                found += [k for k in self._exact.get(token[: -len(ending)], ()) if len(k.words) == 1]
        for size in self._prefix_sizes:
            if size > len(token):
                break
            found += self._prefix.get(token[:size], ())
        single = next((k.category for k in found if len(k.words) == 1), None)
        longer = tuple(
            sorted((k for k in found if len(k.words) > 1), key=lambda k: len(k.words), reverse=True)
        )
        result = (single, longer) if single or longer else _NOTHING
        self._seen[token] = result
        return result

    def scores(self, text: str, weight: int = 1, into: dict[str, int] | None = None) -> dict[str, int]:
        """Category → points: ``weight`` per keyword found (the longest at each place, none overlapping)."""
        found = {} if into is None else into
        if not text:
            return found
        tokens = _WORDS.findall(fold(text))
        count = len(tokens)
        seen = self._seen
        unique = set(tokens)
        missing = unique.difference(seen)  # set operations in C: only new words are worked out
        if len(seen) + len(missing) > _MEMO_LIMIT:
            seen.clear()
            missing = unique
        for token in missing:
            self._entry(token)
        skip_to = 0
        hits = [(i, e) for i, t in enumerate(tokens) if (e := seen[t]) is not _NOTHING]
        for position, entry in hits[:_MAX_HITS]:
            if position < skip_to:
                continue
            single, longer = entry
            category = single
            step = 1
            for keyword in longer:
                size = len(keyword.words)
                if position + size <= count and all(
                    _word_matches(tokens[position + n], word, prefix, n == size - 1)
                    for n, (word, prefix) in enumerate(keyword.words[1:], start=1)
                ):
                    category, step = keyword.category, size
                    break
            if category is not None:
                found[category] = found.get(category, 0) + weight
            skip_to = position + step
        return found

    def best(self, subject: str, text: str) -> Category | None:
        """The category the words point to, or None when no keyword matched."""
        scores = self.scores(subject, weight=2)
        self.scores(text, into=scores)
        if not scores:
            return None
        top = max(scores.values())
        return next(c for c in TIE_ORDER if scores.get(c.value) == top)


def categorise(
    matcher: CategoryMatcher,
    subject: str,
    text: str,
    *,
    marketplace_category: str | None = None,
    marketplace_reason: str | None = None,
) -> Match:
    """The category of a conversation that nobody categorised by hand.

    ``marketplace_category``: the vendor's reason already mapped to a category (Kaufland); ``marketplace_reason``:
    the vendor's reason as words (a Mirakl reason-code label), read with the same keyword rules.
    """
    if marketplace_category and marketplace_category in CATEGORY_LABELS and marketplace_category != "other":
        return Match(Category(marketplace_category), CategorySource.MARKETPLACE)
    if marketplace_reason:
        by_reason = matcher.best(marketplace_reason, "")
        if by_reason is not None:
            return Match(by_reason, CategorySource.MARKETPLACE)
    return Match(matcher.best(subject, text) or Category.OTHER, CategorySource.RULE)


def merge_rules(stored: object) -> dict[str, dict[str, tuple[str, ...]]]:
    """The defaults with the seller's edits laid over them (category → language → keywords).

    Whatever is malformed in ``stored`` (a setting edited by hand, an older format) is ignored, never raised:
    a broken rule must not stop mail from being stored.
    """
    merged = {cat: dict(langs) for cat, langs in DEFAULT_RULES.items()}
    if not isinstance(stored, dict):
        return merged
    for category, languages in stored.items():
        if category not in CATEGORY_LABELS or category == "other" or not isinstance(languages, dict):
            continue
        for language, keywords in languages.items():
            if isinstance(language, str) and isinstance(keywords, list | tuple):
                merged.setdefault(category, {})[language] = tuple(
                    str(k).strip() for k in keywords if isinstance(k, str) and k.strip()
                )
    return merged


def parse_keywords(text: str) -> tuple[str, ...]:
    """Keywords typed in the Settings page, one per line or comma-separated."""
    return tuple(k.strip() for k in re.split(r"[,\n]", text) if k.strip())
