"""How fast the IMAP channel pulls a mailbox from a real Dovecot on loopback.

Loads N mixed messages (short plain text, HTML newsletters/marketplace notifications, messages with PDF or
image attachments; ~15 kB average like the 20k/302 MB mailbox in STYLE.md) straight into a throwaway
Dovecot's Maildir, then times, through ``ImapConnection`` exactly as the sync engine uses it:

- the first SELECT (Dovecot indexes the new files),
- ``fetch_headers`` over all UIDs,
- ``fetch_bodies`` over all UIDs (BODY.PEEK[], 500 per FETCH), checking every byte arrived.

Run as root (Dovecot switches to uid 5000):  python benchmarks/imap_fetch_throughput.py [--count 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inbox_app.channels.mail.imap import ImapConnection, ImapSettings
from inbox_app.channels.mail.security import Security
from tests.servers.dovecot import DovecotServer

WORDS = [
    "order",
    "parcel",
    "delivery",
    "refund",
    "return",
    "invoice",
    "tracking",
    "seller",
    "buyer",
    "shipped",
    "damaged",
    "size",
    "colour",
    "Bestellung",
    "Lieferung",
    "Rechnung",
    "Rücksendung",
    "commande",
    "livraison",
    "remboursement",
    "pedido",
    "envío",
]


def _text(rng: random.Random, words: int) -> str:
    lines, line = [], []
    for _ in range(words):
        line.append(rng.choice(WORDS))
        if len(line) == 12:
            lines.append(" ".join(line))
            line = []
    lines.append(" ".join(line))
    return "\n".join(lines) + "\n"


def make_message(n: int, rng: random.Random) -> bytes:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = f"Buyer {n} <buyer{n}@marketplace.example>"
    msg["To"] = "seller@shop.example"
    msg["Subject"] = f"Question about order {100000 + n}: {rng.choice(WORDS)}"
    msg["Date"] = f"Mon, 23 Nov 2026 {n % 24:02d}:{n % 60:02d}:00 +0000"
    msg["Message-ID"] = f"<bench{n}@marketplace.example>"
    kind = rng.random()
    if kind < 0.70:  # plain question, 1-5 kB
        msg.set_content(_text(rng, rng.randint(150, 700)))
    elif kind < 0.90:  # HTML notification with a text part, 10-30 kB
        text = _text(rng, rng.randint(300, 900))
        msg.set_content(text)
        html = "<html><body>" + "".join(f"<p style='margin:0'>{line}</p>" for line in text.split("\n"))
        msg.add_alternative(html * rng.randint(2, 4) + "</body></html>", subtype="html")
    else:  # with a PDF or photo attachment, 40-150 kB
        msg.set_content(_text(rng, rng.randint(50, 200)))
        blob = rng.randbytes(rng.randint(30_000, 110_000))
        if rng.random() < 0.5:
            msg.add_attachment(blob, maintype="application", subtype="pdf", filename=f"invoice-{n}.pdf")
        else:
            msg.add_attachment(blob, maintype="image", subtype="jpeg", filename=f"photo-{n}.jpg")
    return msg.as_bytes()


async def measure(server: DovecotServer, user: str, password: str, expected: dict[bytes, int]) -> None:
    settings = ImapSettings(server.host, server.port, Security.NONE, user, password, timeout=60)
    async with ImapConnection(settings) as conn:
        t0 = time.perf_counter()
        status = await conn.select("INBOX", readonly=True)
        t_select = time.perf_counter() - t0
        uids = await conn.all_uids()
        assert len(uids) == status.exists == len(expected), (len(uids), status.exists)

        t0 = time.perf_counter()
        headers = await conn.fetch_headers(uids)
        t_headers = time.perf_counter() - t0
        assert len(headers) == len(uids)

        t0 = time.perf_counter()
        bodies = await conn.fetch_bodies(uids)
        t_bodies = time.perf_counter() - t0

    total = sum(len(body) for _uid, body in bodies)
    by_id = {b.split(b"Message-ID: ", 1)[1].split(b"\r\n", 1)[0]: len(b) for _u, b in bodies}
    assert len(bodies) == len(uids)
    assert by_id == expected, "some bodies differ from what was loaded"
    n = len(bodies)
    print(f"messages                 {n}  ({total / 1e6:.1f} MB, {total / n / 1e3:.1f} kB average)")
    print(f"first SELECT (indexing)  {t_select * 1000:.0f} ms")
    print(f"fetch_headers            {t_headers:.2f} s   {n / t_headers:,.0f} msg/s")
    print(
        f"fetch_bodies             {t_bodies:.2f} s   {n / t_bodies:,.0f} msg/s   {total / t_bodies / 1e6:.1f} MB/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    messages = [make_message(n, rng) for n in range(args.count)]
    expected = {m.split(b"Message-ID: ", 1)[1].split(b"\r\n", 1)[0]: len(m) for m in messages}
    with DovecotServer() as server:
        user, password = server.new_user("bench")
        t0 = time.perf_counter()
        server.bulk_load(user, messages)
        print(f"bulk load into Maildir   {time.perf_counter() - t0:.2f} s")
        asyncio.run(measure(server, user, password, expected))


if __name__ == "__main__":
    main()
