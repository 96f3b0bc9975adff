"""``inbox-app demo``: fill a profile with the demo workspace (see :mod:`inbox_app.demo.generator`).

It refuses a profile that already holds real accounts, so demo conversations never get mixed into someone's
working inbox by a slip of the folder name, and a profile that holds the demo already, so running it twice does
not silently double the workspace; ``--force`` is the deliberate way to do either anyway.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time

from inbox_app.cli import CliError, profile_from_args
from inbox_app.i18n import _, format_number, ngettext


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("demo", help=_("fill the profile with realistic demo conversations"))
    parser.add_argument("--count", type=int, default=300, help=_("how many conversations (default 300)"))
    parser.add_argument(
        "--seed", type=int, default=1, help=_("random seed: the same seed gives the same demo")
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help=_("add the demo even if the profile holds real accounts or the demo already"),
    )
    parser.add_argument(
        "--live",
        action="store_true",
        help=_(
            "start the eBay, Kaufland, Allegro and Mirakl sandboxes on this computer, add one account each and "
            "sync from them until Ctrl+C (real sync and replies, no marketplace account needed)"
        ),
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help=_("--live: stop after this many sync rounds (default: Ctrl+C)"),
    )
    parser.add_argument(
        "--interval", type=float, default=10.0, help=_("--live: seconds between two sync rounds (default 10)")
    )
    parser.set_defaults(func=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    if args.live:
        return run_live(args)
    if args.count < 1:
        raise CliError(_("--count must be at least 1."))
    profile = profile_from_args(args)
    from inbox_app.domain.views import View, ViewKind
    from inbox_app.services.accounts import accounts
    from inbox_app.services.conversations import view_counts
    from inbox_app.services.demo import DEMO_ACCOUNT_KIND, demo_conversation_count, fill

    real = [a for a in accounts() if a.kind != DEMO_ACCOUNT_KIND]
    if real and not args.force:
        raise CliError(
            _(
                "This profile already holds {count} real account(s) ({names}); the demo would mix invented "
                "conversations into them. Use another --profile folder, or add --force to do it anyway."
            ).format(count=len(real), names=", ".join(a.name for a in real)),
            exit_code=2,
        )
    already = demo_conversation_count()
    if already and not args.force:
        raise CliError(
            _(
                "This profile already holds the demo ({count} conversations); running it again would add "
                "{more} more. Use another --profile folder, or add --force to add them anyway."
            ).format(count=format_number(already), more=format_number(args.count)),
            exit_code=2,
        )

    interactive = sys.stderr.isatty()
    step = max(1, args.count // 10)
    next_report = [step]

    def progress(done: int, total: int) -> None:
        if not interactive and done < next_report[0] and done != total:
            return
        next_report[0] = done + step
        line = _("Creating demo conversations: {done} of {total}").format(
            done=format_number(done), total=format_number(total)
        )
        sys.stderr.write(("\r" + line) if interactive else line + "\n")
        sys.stderr.flush()

    started = time.monotonic()
    created = fill(profile, count=args.count, seed=args.seed, progress=progress)
    if interactive:
        sys.stderr.write("\n")
    elapsed = time.monotonic() - started
    counts = view_counts([View(ViewKind.OVERDUE), View(ViewKind.DUE_SOON), View(ViewKind.OPEN)])
    print(
        _("Created {count} demo conversations in {seconds} s in {folder}.").format(
            count=format_number(created), seconds=format_number(round(elapsed, 1)), folder=profile.root
        )
    )
    print(
        _("Overdue: {overdue} · Due soon: {due_soon} · Open: {open}").format(
            overdue=format_number(counts["overdue"]),
            due_soon=format_number(counts["due_soon"]),
            open=format_number(counts["open"]),
        )
    )
    return 0


def run_live(args: argparse.Namespace) -> int:
    """``demo --live``: the sandboxes in this process, one account per marketplace (tested and stored like any
    other), then a sync round every ``--interval`` seconds (new messages in, queued replies out) until Ctrl+C
    or ``--rounds``. The sandboxes stop with the command; the accounts then find their marketplace offline."""
    import asyncio

    from inbox_app.services import live_demo
    from inbox_app.services.accounts import accounts
    from inbox_app.services.demo import DEMO_ACCOUNT_KIND
    from inbox_app.services.marketplace_accounts import MarketplaceSetupError
    from inbox_app.services.sync import run_once

    if args.rounds is not None and args.rounds < 1:
        raise CliError(_("--rounds must be at least 1."))
    if args.interval < 0:
        raise CliError(_("--interval cannot be negative."))
    profile = profile_from_args(args)
    try:
        real = [a for a in accounts() if a.kind != DEMO_ACCOUNT_KIND]
    finally:
        profile.close()
    if real and not args.force:
        raise CliError(
            _(
                "This profile already holds {count} account(s) ({names}); the live demo adds four marketplace "
                "accounts that only work while it runs. Use another --profile folder, or add --force."
            ).format(count=len(real), names=", ".join(a.name for a in real)),
            exit_code=2,
        )
    demo = live_demo.start()
    previous_handler = signal.getsignal(signal.SIGINT)
    try:
        try:
            forms = asyncio.run(demo.signed_in_forms())
        except MarketplaceSetupError as exc:  # a sandbox of ours refused: a bug, but say what failed
            raise CliError(exc.user_message) from exc
        profile = profile_from_args(args)
        try:
            added = demo.add_accounts(forms)
        finally:
            profile.close()
        print(
            _("Live demo: {names} run on this computer (127.0.0.1), one account each.").format(
                names=", ".join(a.name for a in added)
            ),
            flush=True,
        )
        print(
            _(
                "Answer from another terminal: inbox-app --profile {folder} reply ID --body-file FILE. "
                "Ctrl+C stops the demo."
            ).format(folder=profile.root),
            flush=True,
        )
        done = 0
        stop = _stop_on_ctrl_c()
        while (args.rounds is None or done < args.rounds) and not stop.is_set():
            if done and stop.wait(args.interval):
                break
            profile = profile_from_args(args)
            try:
                report = asyncio.run(run_once(profile.blobs, profile.root))
            finally:
                profile.close()
            done += 1
            new = sum(r.new_messages for r in report.channel_syncs.values())
            sent = sum(len(d.sent) + len(d.recovered) for d in report.deliveries.values())
            print(
                _("Sync round {round}: {messages}, {replies}.").format(
                    round=format_number(done),
                    messages=ngettext("{n} new message", "{n} new messages", new).format(
                        n=format_number(new)
                    ),
                    replies=ngettext("{n} reply sent", "{n} replies sent", sent).format(
                        n=format_number(sent)
                    ),
                ),
                flush=True,
            )
            for problem in report.problems:
                print(f"{problem.account_name}: {problem.message}", file=sys.stderr, flush=True)
        if stop.is_set():
            print(_("Live demo stopped."), flush=True)
    except KeyboardInterrupt:  # Ctrl+C before the rounds began (while the sandboxes started)
        print(_("Live demo stopped."), flush=True)
    finally:
        signal.signal(signal.SIGINT, previous_handler)
        demo.close()
    return 0


def _stop_on_ctrl_c() -> threading.Event:
    """Ctrl+C (SIGINT) asks the live demo to stop once the current round is over.

    Why not KeyboardInterrupt: ``asyncio.run`` turns a SIGINT into the cancellation of its task, and a sync
    round that handles its cancellation finishes normally, so the interrupt was lost and the demo went on
    syncing. With a handler of our own, asyncio leaves SIGINT alone; the round in progress ends cleanly (a
    reply being delivered is never cut off) and the loop stops."""
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda _signum, _frame: stop.set())
    return stop
