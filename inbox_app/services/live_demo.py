"""The live demo: every marketplace's loopback sandbox in the background, one account per channel, real sync.

A newcomer without any marketplace account sees the real thing: the eBay, Kaufland, Allegro and Mirakl
sandboxes (``inbox_app.sandboxes``: the same imitations of the vendors' published APIs the tests use) listen on
127.0.0.1, each holds a few buyer conversations in the sellers' languages, and an account per channel is set up
through the ordinary path (tested, then stored with its tokens in the keyring). The engine then syncs them and
delivers replies to them like to any marketplace. The sandboxes live as long as :class:`LiveDemo` (the process):
the accounts then report their marketplace as unreachable until the demo runs again.

Steps (so a window can run them on its worker and show progress): :func:`start` (no database), then
``await demo.signed_in_forms()`` (tests each account), then ``demo.add_accounts(forms)``; ``demo.close()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from inbox_app.sandboxes.allegro import AllegroSandbox
from inbox_app.sandboxes.ebay import EbaySandbox
from inbox_app.sandboxes.kaufland import KauflandSandbox
from inbox_app.sandboxes.mirakl import MiraklSandbox
from inbox_app.services import marketplace_accounts as svc

__all__ = ["LIVE_DEMO_NAMES", "LiveDemo", "start"]

#: The demo accounts' names (also how a profile holding the live demo is recognised).
LIVE_DEMO_NAMES = ("eBay DE (demo)", "Kaufland DE (demo)", "Allegro (demo)", "Fnac ES (demo)")


@dataclass
class LiveDemo:
    """The running sandboxes and the accounts made for them."""

    ebay: EbaySandbox
    kaufland: KauflandSandbox
    allegro: AllegroSandbox
    mirakl: MiraklSandbox
    accounts: list[svc.SavedAccount] = field(default_factory=list)

    def forms(self) -> list[svc.MarketplaceForm]:
        """One account form per sandbox, with the credentials each sandbox issued."""
        ebay_name, kaufland_name, allegro_name, mirakl_name = LIVE_DEMO_NAMES
        return [
            svc.EbayForm(
                ebay_name,
                self.ebay.seller,
                self.ebay.client_id,
                self.ebay.client_secret,
                self.ebay.refresh_token,
                base_url=self.ebay.base_url,
            ),
            svc.KauflandForm(
                kaufland_name, self.kaufland.client_key, self.kaufland.secret_key, self.kaufland.base_url
            ),
            svc.AllegroForm(
                allegro_name,
                self.allegro.client_id,
                self.allegro.client_secret,
                str(self.allegro.issue_tokens()["refresh_token"]),
                base_url=self.allegro.base_url,
                auth_url=self.allegro.base_url,
            ),
            svc.MiraklForm(mirakl_name, self.mirakl.base_url, self.mirakl.api_key, self.mirakl.shop_id),
        ]

    async def signed_in_forms(self) -> list[svc.MarketplaceForm]:
        """Each form tested against its sandbox (the tokens the test ended with are the ones to store)."""
        return [await svc.test(form) for form in self.forms()]

    def add_accounts(self, forms: list[svc.MarketplaceForm]) -> list[svc.SavedAccount]:
        self.accounts = [svc.save(form) for form in forms]
        return self.accounts

    def close(self) -> None:
        for sandbox in (self.ebay, self.kaufland, self.allegro, self.mirakl):
            sandbox.close()


def _seed(demo: LiveDemo) -> None:
    """A few conversations per marketplace, as a seller's morning looks (several languages, an order, the
    marketplace's own messages, one already answered)."""
    ebay = demo.ebay
    hours = timedelta(hours=1)
    now = ebay.now()
    conv = ebay.add_conversation(title="Lieferzeit nach Österreich?", buyer="kaeufer_max", at=now - 5 * hours)
    ebay.add_message(conv.id, "Hallo, wie lange dauert der Versand nach Wien? Ich bräuchte es bis Freitag.")
    conv = ebay.add_conversation(title="Combined shipping", buyer="anna_b_uk", at=now - 9 * hours)
    ebay.add_message(conv.id, "Hi! Can you combine shipping if I buy both lamps?", at=now - 9 * hours)
    ebay.add_message(
        conv.id, "Yes, of course: add both to the basket and we refund the difference.", from_seller=True
    )
    conv = ebay.add_conversation(type="FROM_EBAY", title="Ihr Artikel wurde verkauft", at=now - 2 * hours)
    ebay.add_message(
        conv.id, "Glückwunsch! Ihr Artikel „Stehlampe Messing“ wurde verkauft. Bitte versenden Sie ihn."
    )

    kaufland = demo.kaufland
    ticket = kaufland.add_ticket(open_reason="product_not_delivered", order_id="MPWMHD2", at=now - 30 * hours)
    kaufland.add_message(ticket.id, "Guten Tag, mein Paket ist seit einer Woche unterwegs. Wo ist es?")
    ticket = kaufland.add_ticket(
        open_reason="product_defect", order_id="MPX81KQ", buyer=("Petr", "Svoboda"), storefront="cz"
    )
    kaufland.add_message(ticket.id, "Dobrý den, lampa nesvítí. Můžete poslat náhradu?")
    kaufland.add_message(
        ticket.id, "Wir haben den Verkäufer um eine Lösung gebeten.", role="customer_service"
    )

    allegro = demo.allegro
    thread = allegro.add_thread(login="kupujacy_jan")
    allegro.add_message(
        thread.id,
        "Dzień dobry, kiedy wyślecie paczkę? Zamówiłem w poniedziałek.",
        order_id="29f3a1c0-order-demo",
        offer_id="7700012345",
        subject="Wysyłka",
    )
    thread = allegro.add_thread(login="ola_k")
    allegro.add_message(thread.id, "Czy lampa jest dostępna w kolorze czarnym?", offer_id="7700054321")

    mirakl = demo.mirakl
    fnac = mirakl.add_thread(topic="Colis non reçu", order_id="ORD-8823-A", customer_name="Marie Lefèvre")
    mirakl.add_message(fnac.id, "Bonjour, je n'ai toujours pas reçu mon colis. Pouvez-vous vérifier ?")
    mirakl.add_message(fnac.id, "Nous avons demandé au vendeur de répondre sous 48 h.", sender="OPERATOR")
    es = mirakl.add_thread(topic="¿Factura?", order_id="ORD-9120-B", customer_name="Lucía Fernández")
    mirakl.add_message(es.id, "Hola, ¿me pueden enviar la factura del pedido?")


def start() -> LiveDemo:
    """Start the four sandboxes on 127.0.0.1 (random ports) and fill them with conversations."""
    started: list[EbaySandbox | KauflandSandbox | AllegroSandbox | MiraklSandbox] = []
    try:
        ebay = EbaySandbox().start()
        started.append(ebay)
        kaufland = KauflandSandbox().start()
        started.append(kaufland)
        allegro = AllegroSandbox().start()
        started.append(allegro)
        mirakl = MiraklSandbox(operator_name=LIVE_DEMO_NAMES[3]).start()
        started.append(mirakl)
    except BaseException:
        for sandbox in started:
            sandbox.close()
        raise
    demo = LiveDemo(ebay, kaufland, allegro, mirakl)
    _seed(demo)
    return demo
