"""Throughput of the MIME parser on the test samples (the import budget: 20,000 mails in 24 s with storage).

    python benchmarks/mime_parse_rate.py [--rounds 30]

Moved out of the unit tests: speed is measured here, by hand, never by a timed test.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from inbox_app.channels.mail.mime import parse_message  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    raws = [p.read_bytes() for p in sorted((ROOT / "tests" / "data" / "mail").glob("*.eml"))]
    started = time.perf_counter()
    for _ in range(args.rounds):
        for raw in raws:
            parse_message(raw)
    rate = args.rounds * len(raws) / (time.perf_counter() - started)
    print(f"parse_message: {rate:.0f} mails/s on {len(raws)} samples × {args.rounds} rounds")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
