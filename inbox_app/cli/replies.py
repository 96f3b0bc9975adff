"""``inbox-app reply ID --body-file F [--close]`` and ``outbox list|cancel``: answer from a terminal.

``reply`` only queues (the row is durable the moment it returns); ``sync --once`` delivers. That split is what
makes scripted replies safe: a crash or a dead network never loses a queued reply, and it is never sent twice.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any, TextIO

from inbox_app.cli import CliError, profile_from_args
from inbox_app.domain.channel_limits import MAX_BODY_CHARS
from inbox_app.i18n import _, format_number


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    reply = sub.add_parser("reply", help=_("queue a reply to a conversation (sent by the next sync)"))
    reply.add_argument("conversation_id", type=int, metavar="ID")
    reply.add_argument(
        "--body-file", required=True, type=Path, help=_("file with the reply text ('-' for stdin)")
    )
    reply.add_argument(
        "--close", action="store_true", help=_("close the conversation once the reply is sent")
    )
    reply.add_argument(
        "--attach",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help=_("attach this file (repeat for several); checked against the channel's limits"),
    )
    reply.set_defaults(func=cmd_reply)

    box = sub.add_parser("outbox", help=_("replies waiting to be sent"))
    box_sub = box.add_subparsers(dest="outbox_command", metavar="ACTION", required=True)
    lst = box_sub.add_parser("list", help=_("list queued, failed and sent replies"))
    lst.add_argument("--json", action="store_true", help=_("machine-readable output"))
    lst.add_argument("--all", action="store_true", help=_("include sent and cancelled replies"))
    lst.set_defaults(func=cmd_outbox_list, read_only_ok=True)
    cancel = box_sub.add_parser("cancel", help=_("cancel a reply that has not started sending"))
    cancel.add_argument("item_id", type=int, metavar="ID")
    cancel.set_defaults(func=cmd_outbox_cancel)
    again = box_sub.add_parser(
        "send-again", help=_("queue a copy of a sent reply whose delivery was not confirmed")
    )
    again.add_argument("item_id", type=int, metavar="ID")
    again.set_defaults(func=cmd_outbox_send_again)
    anyway = box_sub.add_parser(
        "send-anyway", help=_("send a reply held because the conversation changed since it was written")
    )
    anyway.add_argument("item_id", type=int, metavar="ID")
    anyway.set_defaults(func=cmd_outbox_send_anyway)


def _read_limited(stream: TextIO, limit: int) -> str:
    """At most ``limit`` characters from ``stream``: one more than any channel takes is enough to refuse."""
    parts: list[str] = []
    left = limit
    while left > 0:
        chunk = stream.read(min(left, 1 << 16))
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return "".join(parts)


def read_body(path: Path, limit: int = MAX_BODY_CHARS) -> str:
    """The reply text from ``path`` ('-': stdin) as UTF-8, refusing early what no channel could send.

    Never reads more than ``limit`` + 1 characters, so ``--body-file /dev/zero`` or a 100 MB file is refused
    at once instead of filling the memory; a binary file (NUL bytes), text that is not UTF-8, a folder or a
    missing file each get their own plain message.
    """
    import sys

    try:
        if str(path) == "-":
            binary = getattr(sys.stdin, "buffer", None)
            if binary is None:  # stdin replaced by a text stream (an embedding program): read it as is
                text = _read_limited(sys.stdin, limit + 1)
            else:
                wrapper = io.TextIOWrapper(binary, encoding="utf-8", errors="strict", newline=None)
                try:
                    text = _read_limited(wrapper, limit + 1)
                finally:
                    wrapper.detach()  # sys.stdin still owns the buffer
            where = _("standard input")
        else:
            with path.open(encoding="utf-8", errors="strict") as handle:
                text = _read_limited(handle, limit + 1)
            where = str(path)
    except IsADirectoryError as exc:
        raise CliError(_("{path} is a folder, not a file.").format(path=path)) from exc
    except OSError as exc:
        raise CliError(_("Cannot read {path}: {error}").format(path=path, error=exc.strerror or exc)) from exc
    except UnicodeDecodeError as exc:
        shown = _("standard input") if str(path) == "-" else str(path)
        raise CliError(
            _("{path} is not UTF-8 text (byte {offset} cannot be read); save it as UTF-8.").format(
                path=shown, offset=exc.start
            )
        ) from exc
    if len(text) > limit:
        raise CliError(
            _("The reply in {path} is too long: no channel takes more than {n} characters.").format(
                path=where, n=format_number(limit)
            )
        )
    if "\x00" in text:
        raise CliError(_("{path} contains NUL bytes: it is a binary file, not a reply.").format(path=where))
    return text


def cmd_reply(args: argparse.Namespace) -> int:
    from inbox_app.services.replies import ReplyError, ReplyNotSaved, queue_reply

    body = read_body(args.body_file)
    files = _read_attachments(args.attach)
    profile = profile_from_args(args)
    try:
        attachments = _check_and_keep(profile, args.conversation_id, body, files)
        queued = queue_reply(
            args.conversation_id, body, close_when_sent=args.close, attachments=attachments, actor="cli"
        )
        print(queued.outbox_id)
    except ReplyError as exc:
        raise CliError(exc.user_message) from exc
    except ReplyNotSaved as exc:
        if exc.disk_full:
            raise CliError(_("The disk is full: the reply was not queued.")) from exc
        raise exc.__cause__ or exc from None  # a bug: reported as one (exit status 70)
    finally:
        profile.close()
    return 0


def _read_attachments(paths: list[Path]) -> list[tuple[str, bytes]]:
    files: list[tuple[str, bytes]] = []
    for path in paths:
        try:
            files.append((path.name, path.read_bytes()))
        except OSError as exc:
            raise CliError(
                _("Cannot read {path}: {error}").format(path=path, error=exc.strerror or exc)
            ) from exc
    return files


def _check_and_keep(
    profile: Any, conversation_id: int, body: str, files: list[tuple[str, bytes]]
) -> list[dict[str, object]]:
    """Refuse a reply its channel would refuse (length, files), before anything is queued; then keep the
    files in the profile's blob store and return the outbox's attachment entries."""
    from inbox_app.services.replies import keep_attachment, reply_problems

    problems = reply_problems(conversation_id, body, [(n, len(d)) for n, d in files])
    if problems:
        raise CliError("\n".join(problems))
    return [keep_attachment(profile.blobs, name, data) for name, data in files]


def cmd_outbox_list(args: argparse.Namespace) -> int:
    from inbox_app.services.outbox import item_infos

    profile = profile_from_args(args)
    try:
        infos = item_infos(include_done=args.all)
    finally:
        profile.close()
    if args.json:
        print(json.dumps(infos, ensure_ascii=False, indent=2))
    elif not infos:
        print(_("No replies in the outbox."))
    else:
        for info in infos:
            state = _("sent, unconfirmed") if info["unconfirmed"] else info["state"]
            if info["demo"] and info["state"] == "queued":
                state = _("demo account: not sent")
            if info["held_reason"]:
                state = _("held: {reason}").format(reason=info["held_reason"])
            print(f"{info['id']}\t{state}\t{', '.join(info['recipients'])}\t{info['subject']}")
    return 0


def cmd_outbox_send_anyway(args: argparse.Namespace) -> int:
    from inbox_app.services import outbox

    profile = profile_from_args(args)
    try:
        if not outbox.exists(args.item_id):
            raise CliError(_("There is no outbox item {id}.").format(id=args.item_id))
        if not outbox.send_anyway(args.item_id, actor="cli"):
            raise CliError(
                _("Outbox item {id} is not held; there is nothing to release.").format(id=args.item_id)
            )
    finally:
        profile.close()
    print(_("Released: outbox item {id} is sent by the next sync.").format(id=args.item_id))
    return 0


def cmd_outbox_cancel(args: argparse.Namespace) -> int:
    from inbox_app.services import outbox

    profile = profile_from_args(args)
    try:
        if not outbox.exists(args.item_id):
            raise CliError(_("There is no outbox item {id}.").format(id=args.item_id))
        if not outbox.cancel(args.item_id, actor="cli"):
            raise CliError(
                _("Outbox item {id} is already being sent or done; it cannot be cancelled.").format(
                    id=args.item_id
                )
            )
    finally:
        profile.close()
    print(_("Cancelled."))
    return 0


def cmd_outbox_send_again(args: argparse.Namespace) -> int:
    from inbox_app.services import outbox

    profile = profile_from_args(args)
    try:
        if not outbox.exists(args.item_id):
            raise CliError(_("There is no outbox item {id}.").format(id=args.item_id))
        try:
            copy_id = outbox.send_again(args.item_id, actor="cli")
        except outbox.QueueRefused as exc:  # e.g. queued by an older version to an unusable address
            raise CliError(exc.user_message) from exc
        if copy_id is None:
            raise CliError(
                _("Outbox item {id} is not a sent reply with an unconfirmed delivery.").format(
                    id=args.item_id
                )
            )
    finally:
        profile.close()
    print(_("Queued again as outbox item {id}.").format(id=copy_id))
    return 0
