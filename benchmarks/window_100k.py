"""Measure the 100k-conversation profile: start-up to a painted window, scrolling, memory, search latency.

Run ``benchmarks/fill_100k.py`` first, then ``python benchmarks/window_100k.py [PROFILE_DIR]``.

* Window: a fresh interpreter (so imports count) builds the real ``MainWindow`` and ``MainController`` as
  ``app.run_gui`` does (without the sync engine), shows it offscreen and reports, measured from just before
  the process was spawned: the first paint of the window, the first paint of the list with rows (its first
  page), and when every id of the view was in the list. Then the time to scroll the list to the end (until
  the last row is painted), the peak RSS and the CPU time the process used until then (the machine may be
  shared: wall time alone can mislead).
* Search: ``store.search.search_conversation_ids`` in this process, ≥ 50 runs per query, p50/p95, for a rare
  word, a mid-frequency word, a word in about half of all messages, an order id and a two-word query (the
  words are chosen from the database's own FTS vocabulary so the shape is right for any seed).

Targets: window painted < 1 s (100,000 and 1,000,000 conversations), search p95 < 50 ms, RSS < 300 MB.
``--window-only`` skips the search part.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DEFAULT_DIR = Path("/tmp/inbox-bench-100k")
RUNS = 60


# ------------------------------------------------------------------------------------------ the window


def child(profile_dir: Path, spawned_at: float) -> int:
    """Runs in the fresh interpreter: build, show, wait for paints, scroll, report JSON on stdout."""
    import resource

    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication

    from inbox_app import i18n
    from inbox_app.profile import open_profile

    i18n.setup("en")
    app = QApplication([])
    profile = open_profile(profile_dir)
    from inbox_app.ui.controller import MainController
    from inbox_app.ui.main_window import MainWindow

    window = MainWindow()
    controller = MainController(profile, window=window)
    listing = window.conversation_list
    marks: dict[str, float] = {}
    cpu: dict[str, float] = {}  # process CPU time (all threads) at the same moments
    state = {"shown": False, "loaded": False, "scrolling": False}

    def after_paint(key: str) -> None:
        # An event filter sees the paint event *before* the widget paints: note the time once the event loop
        # comes back, i.e. when the paint (and the row loading it triggered) has finished.
        QTimer.singleShot(
            0, lambda: (marks.setdefault(key, time.time()), cpu.setdefault(key, time.process_time()))
        )

    class PaintWatch(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() != QEvent.Type.Paint:
                return False
            if watched is window:
                after_paint("window_painted")
            elif watched is listing.viewport():
                model = listing.model()
                rows = model.rowCount() if model is not None else 0
                if rows and state["shown"]:
                    after_paint("list_painted")
                if rows and state["loaded"]:
                    after_paint("all_painted")
                    if state["scrolling"] and listing.rowAt(0) >= rows - 100:
                        after_paint("scrolled")
            return False

    watch = PaintWatch()
    window.installEventFilter(watch)
    listing.viewport().installEventFilter(watch)

    def on_shown() -> None:
        state["shown"] = True
        marks.setdefault("rows_shown", time.time())
        listing.viewport().update()

    def on_loaded() -> None:
        on_shown()
        state["loaded"] = True
        marks.setdefault("ids_loaded", time.time())
        listing.viewport().update()

    rows_shown = getattr(controller, "rows_shown", None)  # (a version without a first page has none)
    if rows_shown is not None:
        rows_shown.connect(on_shown)
    controller.ids_loaded.connect(on_loaded)
    controller.start()
    window.show()

    def poll() -> None:
        if "all_painted" in marks and not state["scrolling"]:
            state["scrolling"] = True
            marks["scroll_start"] = time.time()
            listing.scrollToBottom()
            listing.viewport().update()
        if "scrolled" in marks:
            finish()

    def finish() -> None:
        timer.stop()
        rows = listing.model().rowCount() if listing.model() is not None else 0
        usage = resource.getrusage(resource.RUSAGE_SELF)
        rss_mb = usage.ru_maxrss / 1024
        result = {
            "rows": rows,
            "window_painted_s": marks.get("window_painted", 0) - spawned_at,
            "list_painted_s": marks.get("list_painted", 0) - spawned_at,
            "ids_loaded_s": marks.get("ids_loaded", 0) - spawned_at,
            "all_painted_s": marks.get("all_painted", 0) - spawned_at,
            "scroll_to_end_s": marks.get("scrolled", 0) - marks.get("scroll_start", 0),
            "peak_rss_mb": rss_mb,
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "cpu_at_window_painted_s": cpu.get("window_painted", 0),
            "cpu_at_list_painted_s": cpu.get("list_painted", 0),
        }
        print(json.dumps(result))
        controller.shutdown()
        app.quit()

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(poll)
    timer.start()
    QTimer.singleShot(60_000, finish)  # never hang a benchmark run
    app.exec()
    profile.close()
    return 0


def measure_window(profile_dir: Path) -> dict[str, Any]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", INBOX_APP_LANG="en", PYTHONPATH=str(REPO))
    spawned_at = time.time()
    result = subprocess.run(
        [sys.executable, __file__, "--child", str(profile_dir), str(spawned_at)],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    if result.returncode != 0 or not result.stdout.strip():
        raise SystemExit(f"window child failed:\n{result.stderr}")
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


# ---------------------------------------------------------------------------------------------- search


def pick_queries() -> dict[str, str]:
    """A rare word, a mid-frequency word, a word in about half of all messages, an order id, two words."""
    from inbox_app.store.db import database_proxy
    from inbox_app.store.models import Conversation, Message

    db = database_proxy.obj
    total = Message.select().count()
    db.execute_sql(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.bench_vocab USING fts5vocab(main, message_fts, 'row')"
    )
    vocab = [
        (term, docs)
        for term, docs in db.execute_sql("SELECT term, doc FROM temp.bench_vocab").fetchall()
        if term.isalpha() and len(term) >= 5
    ]

    def closest(share: float) -> str:
        return min(vocab, key=lambda item: abs(item[1] - share * total))[0]

    rare = min((item for item in vocab if item[1] >= 3), key=lambda item: item[1])[0]
    mid = closest(0.03)
    half = closest(0.5)
    order_id = (
        Conversation.select(Conversation.order_id)
        .where(Conversation.order_id.contains("-") & Conversation.order_id.is_null(False))
        .order_by(Conversation.created_at.desc())
        .scalar()
    )
    # Two words that occur together: the mid-frequency word and another fairly common word of one message.
    docs = dict(vocab)
    (sample,) = db.execute_sql(
        "SELECT text_body FROM message WHERE id = (SELECT rowid FROM message_fts WHERE message_fts MATCH ? LIMIT 1)",
        (f'"{mid}"',),
    ).fetchone()
    companions = [
        w
        for w in re.findall(r"\w+", sample.lower())
        if w != mid and 0.01 * total <= docs.get(w, 0) <= 0.2 * total
    ]
    second = companions[0] if companions else closest(0.05)
    return {
        f"rare word ({rare})": rare,
        f"mid-frequency word ({mid})": mid,
        f"word in ~half the messages ({half})": half,
        f"order id ({order_id})": str(order_id),
        f"two words ({mid} {second})": f"{mid} {second}",
    }


def measure_search(profile_dir: Path) -> dict[str, dict[str, float]]:
    from inbox_app.profile import open_profile
    from inbox_app.store.search import search_conversation_ids

    profile = open_profile(profile_dir)
    try:
        out: dict[str, dict[str, float]] = {}
        for label, query in pick_queries().items():
            search_conversation_ids(query)  # warm the page cache once
            times = []
            hits = 0
            for _ in range(RUNS):
                started = time.perf_counter()
                hits = len(search_conversation_ids(query))
                times.append((time.perf_counter() - started) * 1000)
            times.sort()
            out[label] = {
                "p50_ms": statistics.median(times),
                "p95_ms": times[int(0.95 * (len(times) - 1))],
                "hits": hits,
            }
        return out
    finally:
        profile.close()


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        return child(Path(sys.argv[2]), float(sys.argv[3]))
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("profile", nargs="?", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--window-only", action="store_true", help="measure the window, not the search")
    args = parser.parse_args()
    if not (args.profile / "inbox.sqlite3").exists():
        print(f"no profile at {args.profile}: run benchmarks/fill_100k.py first", file=sys.stderr)
        return 2
    window = measure_window(args.profile)
    search = {} if args.window_only else measure_search(args.profile)
    if args.json:
        print(json.dumps({"window": window, "search": search}, indent=2))
        return 0
    print(f"rows in the first view:        {window['rows']:,}")
    print(f"window first painted:          {window['window_painted_s']:.2f} s after spawn  (target < 1 s)")
    print(f"list painted with its rows:    {window['list_painted_s']:.2f} s after spawn")
    print(f"every id of the view listed:   {window['ids_loaded_s']:.2f} s after spawn")
    print(
        f"scroll list to the end:        {window['scroll_to_end_s'] * 1000:.0f} ms (once every id is listed)"
    )
    print(f"peak RSS:                      {window['peak_rss_mb']:.0f} MB  (target < 300 MB)")
    print(
        f"CPU time of the window process: {window['cpu_s']:.2f} s "
        f"({window['cpu_at_window_painted_s']:.2f} s until the window was painted)"
    )
    if not search:
        return 0
    print(f"search ({RUNS} runs each)         p50      p95    hits   (target p95 < 50 ms)")
    for label, figures in search.items():
        print(f"  {label:40s} {figures['p50_ms']:7.2f} {figures['p95_ms']:8.2f} {figures['hits']:7.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
