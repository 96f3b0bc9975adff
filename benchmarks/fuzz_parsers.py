"""Fuzz the parsers with a big random budget (issue 11.10); the test run only does a small fixed one.

    PYTHONPATH=. python benchmarks/fuzz_parsers.py [--examples 20000] [--only mime,html]

Runs the properties of ``tests/fuzz/test_fuzz_parsers.py`` (same strategies, same checks) with
``INBOX_FUZZ_EXAMPLES`` examples each, randomized, and prints per parser: examples run, time, and the first
failure found (hypothesis shrinks it and prints a reproduction blob). Exit status 1 if any parser failed.

The whole ingest (real Dovecot, sync, database) has its own fuzz test, batches of 25 fuzzed mails:

    INBOX_FUZZ_INGEST_BATCHES=60 python -m pytest tests/integration/test_fuzz_ingest.py -p no:randomly
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

PROPERTIES = {
    "mime": "test_mime_parser_at_ingest_never_crashes",
    "headers": "test_header_phase_parser_never_crashes",
    "amazon": "test_amazon_relay_parser_never_crashes",
    "html": "test_sanitized_html_has_nothing_active_or_remote",
    "search": "test_search_query_parser_never_crashes",
}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--examples", type=int, default=20000, help="examples per parser")
    parser.add_argument(
        "--only", default=",".join(PROPERTIES), help="comma-separated: " + ", ".join(PROPERTIES)
    )
    args = parser.parse_args()
    os.environ["INBOX_FUZZ_EXAMPLES"] = str(args.examples)  # read when the test module is imported
    os.environ.setdefault("INBOX_APP_LANG", "en")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import logging

    logging.basicConfig(level=logging.CRITICAL)  # the properties count logged errors themselves
    from inbox_app import i18n
    from inbox_app.profile import open_profile
    from tests.fuzz import test_fuzz_parsers as fuzz

    i18n.setup("en")
    failed = 0
    print(f"{'parser':<8} {'examples':>9} {'seconds':>8}  result")
    with tempfile.TemporaryDirectory() as folder:
        profile = open_profile(Path(folder) / "profile")
        fuzz._fill_search_profile()
        try:
            for name in args.only.split(","):
                test = getattr(fuzz, PROPERTIES[name])
                started = time.perf_counter()
                result = "no failure"
                try:
                    if name == "search":
                        test(search_profile=None)
                    else:
                        test()
                except Exception as exc:
                    failed += 1
                    result = f"FAILED: {type(exc).__name__}: {str(exc)[:300]}"
                    traceback.print_exc()
                elapsed = time.perf_counter() - started
                print(f"{name:<8} {fuzz.EXAMPLES[name]:>9} {elapsed:>8.1f}  {result}", flush=True)
        finally:
            profile.close()
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
