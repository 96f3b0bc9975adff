"""``inbox-app list | show | search``: read the inbox from a script, a support session or a check.

The JSON is built by one function (:func:`conversation_json`) for ``list`` and ``search`` and extended by
``show``, from the same store read functions the window uses; times are ISO 8601 with their offset, null
where there is none. Without ``--json`` a short table for people, with the time left in their language.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from inbox_app.cli import INT64_MAX, CliError, profile_from_args
from inbox_app.domain.conversations import ConversationDetail, ConversationSummary
from inbox_app.domain.deadlines import urgency
from inbox_app.domain.views import STATUS_VIEWS, View, ViewKind
from inbox_app.i18n import _, format_datetime, format_duration

#: Views the CLI accepts (the sidebar's fixed views).
CLI_VIEWS: tuple[ViewKind, ...] = (*STATUS_VIEWS, ViewKind.ALL)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p_list = sub.add_parser("list", help=_("list conversations of a view, deadline first"))
    p_list.add_argument(
        "--view",
        default=ViewKind.OPEN.value,
        help=_("one of: {views} (default: open)").format(views=", ".join(v.value for v in CLI_VIEWS)),
    )
    p_list.add_argument("--limit", type=int, default=None, help=_("at most this many conversations"))
    p_list.add_argument("--json", action="store_true", help=_("print JSON instead of a table"))
    p_list.set_defaults(func=run_list, read_only_ok=True)

    p_show = sub.add_parser("show", help=_("show one conversation with its messages"))
    p_show.add_argument("id", help=_("conversation id (as printed by list)"))
    p_show.add_argument("--json", action="store_true", help=_("print JSON instead of text"))
    p_show.set_defaults(func=run_show, read_only_ok=True)

    p_att = sub.add_parser(
        "attachment", help=_("save an attachment (downloaded from the marketplace if needed)")
    )
    p_att.add_argument(
        "attachment_id", type=int, metavar="ID", help=_("attachment id (as printed by show --json)")
    )
    p_att.add_argument("--to", type=Path, default=Path("."), help=_("folder to save it in (default: here)"))
    p_att.set_defaults(func=run_save_attachment)

    p_search = sub.add_parser(
        "search", help=_("search the messages with words and filters, best match first")
    )
    p_search.add_argument(
        "query",
        help=_(
            'words, "phrases" or an order id, with filters: channel: account: status: category: tag: '
            "assignee: order: from: lang: before:/after:YYYY-MM-DD is:unread|overdue|due-soon; "
            "-filter:value or -word excludes"
        ),
    )
    p_search.add_argument("--limit", type=int, default=50, help=_("at most this many conversations"))
    p_search.add_argument("--json", action="store_true", help=_("print JSON instead of a table"))
    p_search.set_defaults(func=run_search, read_only_ok=True)


# ------------------------------------------------------------------------------------------------ JSON


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 with an explicit offset (UTC), or None."""
    return None if moment is None else moment.astimezone(UTC).isoformat()


def conversation_json(summary: ConversationSummary, marketplace: str | None, now: datetime) -> dict[str, Any]:
    """The one JSON shape of a conversation row, shared by ``list``, ``search`` and ``show``."""
    return {
        "id": summary.id,
        "channel": summary.channel_kind,
        "channel_name": summary.channel_name,
        "marketplace": marketplace,
        "account": summary.account_name,
        "subject": summary.subject,
        "snippet": summary.snippet,
        "customer": summary.customer_label,
        "order_id": summary.order_id,
        "status": summary.status,
        "language": summary.language,
        "tags": list(summary.tags),
        "unread": summary.unread,
        "message_count": summary.message_count,
        "last_message_at": iso(summary.last_message_at),
        "last_inbound_at": iso(summary.last_inbound_at),
        "deadline_at": iso(summary.deadline_at),
        "urgency": urgency(summary.deadline_at, now).value,
    }


def detail_json(detail: ConversationDetail, now: datetime) -> dict[str, Any]:
    from inbox_app.cli.triage import triage_json
    from inbox_app.services import customers

    data = conversation_json(detail.summary, detail.marketplace, now)
    data.update(triage_json([detail.summary.id]).get(detail.summary.id, {}))
    data.update(
        {
            "deadline_started_at": iso(detail.deadline_started_at),
            "policy": {
                "key": detail.policy_key,
                "name": _(detail.policy_name) if detail.policy_name else None,
            },
            "no_response_needed": detail.no_response_needed,
            "extra": detail.extra,
            "customer_identities": [{"kind": k, "value": v} for k, v in detail.customer_identities],
            # The customer's other conversations across channels and accounts (services.customers).
            "other_conversations": customers.other_conversations_json(detail.summary.id),
            "notes": [
                {"author": n.author, "body": n.body, "created_at": iso(n.created_at)} for n in detail.notes
            ],
            "messages": [
                {
                    "id": m.id,
                    "direction": m.direction,
                    "author": m.author_name,
                    "author_name": m.author_name,
                    "author_role": m.author_role,
                    "remote_id": m.remote_id,
                    "author_address": m.author_address,
                    "sent_at": iso(m.sent_at),
                    "subject": m.subject,
                    "text": m.text,
                    "attachments": [
                        {"id": a.id, "name": a.name, "size": a.size, "mime_type": a.mime_type, "path": a.path}
                        for a in m.attachments
                    ],
                }
                for m in detail.messages
            ],
        }
    )
    return data


def _rows(ids: Sequence[int], now: datetime) -> list[dict[str, Any]]:
    from inbox_app.cli.triage import triage_json
    from inbox_app.services.conversations import marketplaces, summaries

    found = summaries(ids)
    markets = marketplaces(ids)
    triage = triage_json(ids)  # category, assignee, snoozed_until, tags
    return [conversation_json(found[i], markets.get(i), now) | triage.get(i, {}) for i in ids if i in found]


def _print_json(data: object) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


# ------------------------------------------------------------------------------------------ for people


def time_left(deadline_at: datetime | None, now: datetime) -> str:
    if deadline_at is None:
        return "—"
    if deadline_at <= now:
        return _("overdue {duration}").format(duration=format_duration(now - deadline_at))
    return format_duration(deadline_at - now)


def _cut(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _print_table(rows: Sequence[ConversationSummary], now: datetime) -> None:
    if not rows:
        print(_("No conversations."))
        return
    headers = (_("ID"), _("Time left"), _("Channel"), _("Customer"), _("Subject"), _("Order"))
    table = [
        (
            str(s.id),
            time_left(s.deadline_at, now),
            _cut(s.channel_name, 16),
            _cut(s.customer_label, 22),
            _cut(s.subject, 48),
            s.order_id or "",
        )
        for s in rows
    ]
    widths = [max(len(h), *(len(r[i]) for r in table)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in table:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _print_detail(detail: ConversationDetail, now: datetime) -> None:
    s = detail.summary
    print(f"#{s.id}  {s.subject}")
    print(f"{s.channel_name} · {s.customer_label}" + (f" · {s.order_id}" if s.order_id else ""))
    print(_("Status: {status}").format(status=s.status))
    if s.deadline_at is not None:
        print(
            _("Deadline: {when} ({left}) · {rule}").format(
                when=format_datetime(s.deadline_at),
                left=time_left(s.deadline_at, now),
                rule=_(detail.policy_name) if detail.policy_name else "",
            )
        )
    for m in detail.messages:
        arrow = "←" if m.direction == "in" else "→"
        print()
        role = "  " + _("(marketplace operator)") if m.author_role == "operator" else ""
        print(f"{arrow} {format_datetime(m.sent_at)}  {m.author_name}{role}")
        for line in m.text.splitlines():
            print(f"  {line}")
        for a in m.attachments:
            print(f"  📎 {a.name} ({a.size} B)")


# -------------------------------------------------------------------------------------------- commands


def _parse_view(value: str) -> View:
    allowed = {v.value: v for v in CLI_VIEWS}
    kind = allowed.get(value.strip().lower())
    if kind is None:
        raise CliError(
            _("Unknown view “{view}”. Choose one of: {views}.").format(view=value, views=", ".join(allowed))
        )
    return View(kind)


def _check_limit(limit: int | None) -> None:
    if limit is not None and limit < 1:
        raise CliError(_("--limit must be at least 1."))


def run_list(args: argparse.Namespace) -> int:
    view = _parse_view(args.view)
    _check_limit(args.limit)
    profile_from_args(args)
    from inbox_app.services.conversations import conversation_ids, summaries

    now = datetime.now(UTC)
    ids = conversation_ids(view, now)
    if args.limit is not None:
        ids = ids[: args.limit]
    if args.json:
        _print_json(_rows(ids, now))
    else:
        found = summaries(ids)
        _print_table([found[i] for i in ids if i in found], now)
    return 0


def run_show(args: argparse.Namespace) -> int:
    try:
        conversation_id = int(str(args.id).lstrip("#"))
    except ValueError:
        raise CliError(
            _("“{id}” is not a conversation id (a number, as printed by list).").format(id=args.id)
        ) from None
    if not 0 < conversation_id <= INT64_MAX:  # SQLite cannot even look such a number up (OverflowError)
        raise CliError(_("There is no conversation with id {id}.").format(id=args.id))
    profile = profile_from_args(args)
    from inbox_app.services.conversations import detail

    found = detail(conversation_id, blobs=profile.blobs)
    if found is None:
        raise CliError(_("There is no conversation with id {id}.").format(id=conversation_id))
    if args.json:  # the paths printed must be files a script can open: write them from the raw sources first
        from inbox_app.services.attachments import materialize

        materialize(
            profile.blobs, {Path(a.path).name for m in found.messages for a in m.attachments if a.path}
        )
    now = datetime.now(UTC)
    if args.json:
        _print_json(detail_json(found, now))
    else:
        _print_detail(found, now)
    return 0


def run_save_attachment(args: argparse.Namespace) -> int:
    """Save one attachment into a folder; a marketplace file is downloaded first (and kept for next time)."""
    import asyncio

    from inbox_app.services.attachments import (
        AttachmentUnavailable,
        close_worker_connection,
        save_marketplace_attachment,
    )

    profile = profile_from_args(args)

    async def run() -> Path:
        try:
            return await save_marketplace_attachment(profile.blobs, args.attachment_id, args.to)
        finally:
            await close_worker_connection()

    try:
        saved = asyncio.run(run())
    except AttachmentUnavailable as exc:
        raise CliError(exc.user_message) from exc
    except OSError as exc:
        raise CliError(_("Could not save: {error}").format(error=exc.strerror or exc)) from exc
    finally:
        profile.close()
    print(saved)
    return 0


def run_search(args: argparse.Namespace) -> int:
    _check_limit(args.limit)
    profile_from_args(args)
    from inbox_app.services.conversations import summaries
    from inbox_app.services.search import SearchQueryError, search_ids

    now = datetime.now(UTC)
    try:
        ids = search_ids(args.query, now=now, limit=args.limit)
    except SearchQueryError as exc:
        raise CliError(exc.message, exit_code=2) from exc
    if args.json:
        _print_json(_rows(ids, now))
    else:
        found = summaries(ids)
        _print_table([found[i] for i in ids if i in found], now)
    return 0
