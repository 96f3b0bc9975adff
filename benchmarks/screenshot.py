"""Screenshots of the main window at given sizes, without a display (Qt's offscreen platform).

    python benchmarks/screenshot.py PROFILE_DIR OUT_DIR [--sizes 1366x768,1920x1080] [--count 300] [--lang de]

An empty profile is filled first: with the demo generator (``inbox_app.demo.generator.generate``) when it
exists, otherwise with ~50 demo-like conversations added through ``store.ingest`` (the same path a channel
uses). Prints the paths of the PNG files it wrote.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inbox_app.profile import Profile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# (channel kind, marketplace, channel name, customer, language, subject, text, order id)
_SAMPLES = [
    ("amazon", "amazon.es", "Amazon.es", "Lucía Fernández", "es", "¿Dónde está mi paquete?",
     "Hola, hice el pedido hace 8 días y el seguimiento no se mueve. ¿Pueden revisarlo?", "404-3382716-5561921"),
    ("amazon", "amazon.de", "Amazon.de", "Jana Becker", "de", "Teekanne zerbrochen angekommen",
     "Guten Tag, die Teekanne kam leider zerbrochen an. Fotos anbei. Bitte um Ersatz.", "302-1187263-0091723"),
    ("mirakl", "fnac", "Fnac", "Marie Lefèvre", "fr", "Colis non reçu",
     "Bonjour, je n'ai toujours pas reçu mon colis. Pouvez-vous me donner le numéro de suivi ?", "ORD-882311"),
    ("email", None, "shop@example.com", "Paolo Rossi", "it", "Fattura dell'ordine",
     "Buongiorno, potreste inviarmi la fattura con partita IVA? Grazie.", "10452"),
    ("ebay", None, "eBay", "Tom Hughes", "en", "Item not as described",
     "The lamp I received is a different colour than in the listing. Can I return it?", "12-10234-55821"),
    ("kaufland", None, "Kaufland", "Stefan Wolf", "de", "Lieferzeit Rückfrage",
     "Hallo, wann wird die Bestellung voraussichtlich versendet?", "KL-77120931"),
    ("allegro", None, "Allegro", "Anna Nowak", "pl", "Pytanie o zwrot",
     "Dzień dobry, chciałabym zwrócić produkt. Jak to zrobić?", "AL-5523190"),
    ("amazon", "amazon.fr", "Amazon.fr", "Julien Moreau", "fr", "Demande de retour",
     "Bonjour, l'article ne correspond pas à ma commande. Comment faire un retour ?", "171-5523001-8812003"),
    ("amazon", "amazon.it", "Amazon.it", "Giulia Bianchi", "it", "Prodotto difettoso",
     "Salve, il macinino non funziona dopo due giorni. Cosa posso fare?", "405-7712093-1123344"),
    ("email", None, "shop@example.com", "Ben Carter", "en", "Wholesale enquiry",
     "Hi, we run a café chain and would like to order 40 grinders. Do you offer volume pricing?", None),
]  # fmt: skip


def _fill_with_ingest(count: int, seed: int) -> None:
    """~``count`` conversations through store.ingest, with deadlines spread around "now"."""
    from inbox_app.domain.conversations import Direction, IncomingMessage, Status
    from inbox_app.store.ingest import (
        add_message,
        create_conversation,
        ensure_channel,
        ensure_customer,
        set_status,
    )
    from inbox_app.store.models import Account, ConversationTag, Tag

    rng = random.Random(seed)
    account = Account.create(kind="demo", name="Demo shop")
    tags = [Tag.create(name=name) for name in ("damaged", "return", "invoice", "shipping")]
    now = datetime.now(UTC)
    for i in range(count):
        kind, market, channel_name, customer, lang, subject, text, order = _SAMPLES[i % len(_SAMPLES)]
        channel = ensure_channel(account, kind, channel_name, market)
        if i >= len(_SAMPLES):
            customer = f"{customer.split()[0]} {chr(65 + i % 26)}."
        address = f"{customer.split()[0].lower()}.{i}@example.com"
        person = ensure_customer("email", address, customer, lang)
        conv = create_conversation(
            account, channel, remote_id=None, subject=subject, customer=person, order_id=order, language=lang
        )
        received = now - timedelta(minutes=rng.randint(20, 60 * 40))
        add_message(
            conv,
            IncomingMessage(
                direction=Direction.IN,
                sent_at=received,
                text=text,
                author_name=customer,
                author_address=address,
                subject=subject,
                remote_id=f"<demo-{i}-1@example.com>",
                is_read=rng.random() < 0.4,
            ),
        )
        if rng.random() < 0.25:
            add_message(
                conv,
                IncomingMessage(
                    direction=Direction.OUT,
                    sent_at=received + timedelta(minutes=rng.randint(10, 200)),
                    text="Thank you for your message, we are looking into it and will get back to you shortly.",
                    author_name="Demo shop",
                    remote_id=f"<demo-{i}-2@example.com>",
                ),
            )
            if rng.random() < 0.6:
                add_message(
                    conv,
                    IncomingMessage(
                        direction=Direction.IN,
                        sent_at=received + timedelta(minutes=rng.randint(220, 600)),
                        text="Any news? It still has not moved.",
                        author_name=customer,
                        author_address=address,
                        remote_id=f"<demo-{i}-3@example.com>",
                        is_read=False,
                    ),
                )
        if rng.random() < 0.3:
            ConversationTag.create(conversation=conv, tag=rng.choice(tags))
        roll = rng.random()
        if roll < 0.08:
            set_status(conv, Status.PENDING)
        elif roll < 0.14:
            set_status(conv, Status.CLOSED)


def fill(profile: Profile, count: int, seed: int) -> str:
    try:
        from inbox_app.demo.generator import generate
    except ImportError:
        _fill_with_ingest(min(count, 50), seed)
        return "ingest"
    generate(profile, count=count, seed=seed)
    return "demo generator"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("profile", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--sizes", default="1366x768,1920x1080")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--lang", default="en", help="interface language (the file names carry it)")
    args = parser.parse_args(argv)

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(["inbox-screenshot"])
    from inbox_app import i18n

    i18n.setup(args.lang)
    from inbox_app.domain.views import View, ViewKind
    from inbox_app.profile import open_profile
    from inbox_app.store.conversations import conversation_ids
    from inbox_app.ui.controller import MainController

    profile = open_profile(args.profile)
    if not conversation_ids(View(ViewKind.ALL)):
        how = fill(profile, args.count, args.seed)
        print(f"filled {args.profile} via {how}")
    args.out.mkdir(parents=True, exist_ok=True)
    (profile.root / "ui.ini").unlink(missing_ok=True)  # default layout, not the last run's

    controller = MainController(profile, confirm=lambda _t, _x: False)
    controller.start()

    def settle() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            app.processEvents()
            if not controller.runner.busy():
                for _ in range(10):
                    app.processEvents()
                return

    written = []
    for size in args.sizes.split(","):
        width, height = (int(v) for v in size.lower().split("x"))
        window = controller.window
        window.resize(width, height)
        window.show()
        settle()
        listing = window.conversation_list
        listing.select_row(1 if controller.model.rowCount() > 1 else 0)
        settle()
        path = args.out / f"main-{args.lang}-{width}x{height}.png"
        window.grab().save(str(path))
        written.append(path)
    controller.save_settings()
    controller.shutdown()
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
