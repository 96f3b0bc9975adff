"""The ``inbox-app`` command: the window when run bare, headless commands otherwise.

Each sub-command lives in its own module under ``inbox_app.cli`` and registers itself in :data:`COMMANDS`;
all of them run over the same services as the window (``open_profile`` and the store). Errors a person can fix
(no such conversation, bad profile, offline) are printed to stderr in plain words with exit status 1 or 2;
anything else is a bug and keeps its traceback in the log.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from inbox_app.i18n import _, language_is_available, unknown_language_message
from inbox_app.i18n import setup as setup_i18n
from inbox_app.profile import Profile

# module name → it defines register(subparsers) which adds its parsers and sets `func` on each.
COMMAND_MODULES = ("conversations", "demo", "accounts", "replies", "sync", "backups", "reports")


class CliError(Exception):
    """An error the user can act on; printed without a traceback."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def profile_from_args(args: argparse.Namespace) -> Profile:
    """Open the profile named by ``--profile`` (or the default), turning storage problems into CliError."""
    from inbox_app.profile import open_profile
    from inbox_app.store.migrations import SchemaTooNewError
    from inbox_app.store.profile_check import ProfileProblem

    try:
        return open_profile(args.profile)
    except ProfileProblem as problem:
        if problem.can_open_read_only and getattr(args, "read_only_ok", False):
            # A command that only reads works on a read-only profile; it says so on stderr, once.
            print(
                "inbox-app: " + _("The profile is read-only; it is shown as it is, nothing is changed."),
                file=sys.stderr,
            )
            return open_profile(args.profile, read_only=True)
        raise CliError(problem_hint(problem), exit_code=2) from problem
    except SchemaTooNewError as exc:
        raise CliError(str(exc), exit_code=2) from exc
    except OSError as exc:
        raise CliError(
            _("Cannot open the profile folder: {error}").format(error=exc.strerror or exc), 2
        ) from exc


def problem_hint(problem: object) -> str:
    """A profile problem's message followed by the command that gets out of it."""
    from inbox_app.store.profile_check import ProfileProblem

    assert isinstance(problem, ProfileProblem)
    lines = [problem.message]
    if problem.is_damaged and problem.newest_backup is not None:
        lines.append(
            _("Restore the newest backup with: inbox-app restore   (all backups: inbox-app restore --list)")
        )
    elif problem.can_open_read_only:
        lines.append(_("Commands that only read (list, show, search, account list, outbox list) still work."))
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inbox-app",
        description=_("A unified inbox for e-commerce sellers. Without a command, opens the window."),
    )
    parser.add_argument(
        "--profile", type=Path, default=None, help=_("profile folder (database, attachments)")
    )
    parser.add_argument("--lang", default=None, help=_("interface language, e.g. es or de_DE"))
    parser.add_argument("-v", "--verbose", action="store_true", help=_("log more"))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"inbox_app.cli.{name}")
        except ModuleNotFoundError as exc:  # a command module not shipped in this build
            if exc.name == f"inbox_app.cli.{name}":
                continue
            raise
        register: Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None] = module.register
        register(sub)
    return parser


def _lang_from_args(args: list[str]) -> str | None:
    """The value of ``--lang xx`` or ``--lang=xx`` (the last one wins, as argparse does), None without."""
    lang = None
    for idx, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--lang" and idx + 1 < len(args):
            lang = args[idx + 1]
        elif arg.startswith("--lang="):
            lang = arg.partition("=")[2]
    return lang


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    # Translations first so --help is in the user's language; --lang is read before full parsing.
    lang = _lang_from_args(args_list)
    lang_ok = lang is None or language_is_available(lang)
    setup_i18n(lang if lang_ok else None)
    parser = build_parser()
    args = parser.parse_args(args_list)
    if not lang_ok and args.command is not None:  # the window says so in a dialog (run_gui)
        print(f"inbox-app: {unknown_language_message(str(lang))}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command is None:
        from inbox_app.app import run_gui

        return run_gui(args.profile, lang)
    try:
        return int(args.func(args))
    except CliError as exc:
        print(f"inbox-app: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `inbox-app list | head`: the reader left, which is not an error
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
