"""``inbox-app sync --once``: fetch every mail account and deliver the outbox, for cron and scripts.

Exit status: 0 when every account synced (or another copy of the app is syncing this profile: then this one
does nothing and says so), 3 when no server could be reached (offline: try again later),
1 when some account failed for another reason (wrong password, missing folder…), with the reason printed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from inbox_app.cli import CliError, profile_from_args
from inbox_app.i18n import _, ngettext

EXIT_OFFLINE = 3


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sync = sub.add_parser("sync", help=_("fetch new mail and send queued replies"))
    sync.add_argument(
        "--once", action="store_true", help=_("one pass, then exit (the default without a window)")
    )
    sync.add_argument("--quiet", action="store_true", help=_("print only problems"))
    sync.set_defaults(func=cmd_sync)


def cmd_sync(args: argparse.Namespace) -> int:
    from inbox_app.services.sync import run_once

    profile = profile_from_args(args)
    try:
        report = asyncio.run(run_once(profile.blobs, profile.root))
    finally:
        profile.close()
    if report.elsewhere:  # not a failure: the copy that is syncing also delivers what is queued
        print(_("Another Inbox App is syncing this profile; it will send the queued replies. Nothing to do."))
        return 0
    if not report.accounts:
        raise CliError(_("No mail account is set up. Add one with: inbox-app account add imap …"))
    new = sum(r.new_messages for r in report.syncs.values())
    new += sum(r.new_messages for r in report.channel_syncs.values())
    bodies = sum(r.bodies for r in report.syncs.values())
    sent = sum(len(d.sent) + len(d.recovered) + len(d.unconfirmed) for d in report.deliveries.values())
    queued = sum(len(d.retry) for d in report.deliveries.values())
    if not args.quiet:
        print(
            ngettext("{n} new message", "{n} new messages", new).format(n=new)
            + ", "
            + ngettext("{n} body fetched", "{n} bodies fetched", bodies).format(n=bodies)
            + ", "
            + ngettext("{n} reply sent", "{n} replies sent", sent).format(n=sent)
            + (
                ", " + ngettext("{n} reply waiting", "{n} replies waiting", queued).format(n=queued)
                if queued
                else ""
            )
        )
    unconfirmed = [i for d in report.deliveries.values() for i in d.unconfirmed]
    if unconfirmed:  # not an error, but the seller must decide: the customer may not have it
        print(
            ngettext(
                "Delivery of reply {ids} was not confirmed; if the customer did not get it: "
                "inbox-app outbox send-again ID",
                "Delivery of replies {ids} was not confirmed; if a customer did not get one: "
                "inbox-app outbox send-again ID",
                len(unconfirmed),
            ).format(ids=", ".join(map(str, unconfirmed))),
            file=sys.stderr,
        )
    for problem in report.problems:
        print(f"{problem.account_name}: {problem.message}", file=sys.stderr)
    if report.offline:
        print(
            _("Offline: no mail server could be reached. Queued replies stay queued; run sync again later."),
            file=sys.stderr,
        )
        return EXIT_OFFLINE
    return 1 if report.problems else 0
