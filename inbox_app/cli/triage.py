"""``set`` (status, snooze, category, assignee, tags on one or more conversations) and ``note``.

``set`` applies all its options to all its ids in one transaction (services.triage.apply): a script that
closes and tags 500 conversations either does all of it or, on an unknown id or category, none of it.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from inbox_app.cli import INT64_MAX, CliError, profile_from_args
from inbox_app.domain.conversations import Status
from inbox_app.i18n import _

SET_STATUSES = (Status.OPEN.value, Status.PENDING.value, Status.CLOSED.value)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p_set = sub.add_parser(
        "set", help=_("change status, snooze, category, assignee or tags of conversations")
    )
    p_set.add_argument("ids", nargs="+", metavar="ID", help=_("conversation ids (as printed by list)"))
    p_set.add_argument(
        "--status", choices=SET_STATUSES, help=_("open, pending (waiting on the customer) or closed")
    )
    p_set.add_argument(
        "--snooze-until",
        metavar="ISO8601",
        help=_("snooze until this time, e.g. 2026-12-01T09:00+01:00 (without an offset: local time)"),
    )
    p_set.add_argument(
        "--category", metavar="NAME", help=_("set the category by hand (the rules keep off it)")
    )
    who = p_set.add_mutually_exclusive_group()
    who.add_argument(
        "--assign", metavar="NAME", help=_("assign to this team member (added to the team list)")
    )
    who.add_argument("--unassign", action="store_true", help=_("remove the assignee"))
    p_set.add_argument("--tag", action="append", default=[], metavar="TAG", help=_("add a tag (repeatable)"))
    p_set.add_argument(
        "--untag", action="append", default=[], metavar="TAG", help=_("remove a tag (repeatable)")
    )
    p_set.set_defaults(func=run_set)

    p_note = sub.add_parser("note", help=_("add an internal note (never sent to the customer)"))
    p_note.add_argument("id", metavar="ID", help=_("conversation id"))
    p_note.add_argument("--text", required=True, help=_("the note"))
    p_note.set_defaults(func=run_note)


def _conversation_id(value: str) -> int:
    try:
        number = int(str(value).lstrip("#"))
    except ValueError:
        raise CliError(
            _("“{id}” is not a conversation id (a number, as printed by list).").format(id=value)
        ) from None
    if not 0 < number <= INT64_MAX:
        raise CliError(_("There is no conversation with id {id}.").format(id=value))
    return number


def _snooze_time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CliError(
            _("“{value}” is not a date and time in ISO 8601, e.g. 2026-12-01T09:00+01:00.").format(
                value=value
            )
        ) from None
    return moment if moment.tzinfo is not None else moment.astimezone()  # naive: the computer's local time


def run_set(args: argparse.Namespace) -> int:
    ids = list(dict.fromkeys(_conversation_id(v) for v in args.ids))
    if args.status and args.snooze_until:
        raise CliError(_("Use either --status or --snooze-until, not both."), exit_code=2)
    snooze = _snooze_time(args.snooze_until) if args.snooze_until else None
    if not any((args.status, snooze, args.category, args.assign, args.unassign, args.tag, args.untag)):
        raise CliError(_("Nothing to change: give at least one option (see set --help)."), exit_code=2)
    profile_from_args(args)
    from inbox_app.services import triage

    if args.category is not None and args.category not in triage.CATEGORIES:
        raise CliError(
            _("Unknown category “{name}”. Categories: {names}.").format(
                name=args.category, names=", ".join(triage.CATEGORIES)
            )
        )
    assignee = args.assign.strip() if args.assign is not None else None
    if args.assign is not None and not assignee:
        raise CliError(_("--assign needs a name (use --unassign to remove the assignee)."), exit_code=2)
    missing = [i for i in ids if i not in set(triage.existing_ids(ids))]
    if missing:
        raise CliError(
            _("There is no conversation with id {id}.").format(id=", ".join(str(i) for i in missing))
        )
    status = Status.SNOOZED if snooze is not None else Status(args.status) if args.status else None
    change = triage.Change(
        status=status,
        snoozed_until=snooze,
        category=args.category,
        assignee="" if args.unassign else assignee,
        add_tags=tuple(args.tag),
        remove_tags=tuple(args.untag),
    )
    if assignee and assignee not in triage.team():
        triage.save_team([*triage.team(), assignee])
    result = triage.apply(ids, change)
    print(_("{count} of {total} conversations changed.").format(count=result.changed, total=len(ids)))
    return 0


def run_note(args: argparse.Namespace) -> int:
    conversation_id = _conversation_id(args.id)
    text = str(args.text).strip()
    if not text:
        raise CliError(_("The note is empty."), exit_code=2)
    profile_from_args(args)
    from inbox_app.services import triage

    note_id = triage.add_note(conversation_id, text)
    if note_id is None:
        raise CliError(_("There is no conversation with id {id}.").format(id=conversation_id))
    print(_("Note {id} added.").format(id=note_id))
    return 0


def triage_json(ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The triage fields ``list --json`` and ``show --json`` add to each conversation."""
    from inbox_app.services import triage

    return {
        cid: {
            "category": f.category,
            "category_source": f.category_source,
            "assignee": f.assignee,
            "snoozed_until": f.snoozed_until.isoformat() if f.snoozed_until else None,
            "tags": list(f.tags),
        }
        for cid, f in triage.facts(ids).items()
    }
