"""The ``inbox-app`` command: the window when run bare, headless commands otherwise.

Each sub-command lives in its own module under ``inbox_app.cli`` and registers itself in :data:`COMMANDS`;
all of them run over the same services as the window (``open_profile`` and the store). Errors a person can fix
(no such conversation, bad profile, offline) are printed to stderr in plain words with exit status 1 or 2;
anything else is a bug: :func:`main` prints one line in the user's language saying where the details are,
writes the traceback to the profile's log file (``<profile>/logs/inbox-app.log``, private) and exits with
:data:`EXIT_BUG`. No traceback ever reaches the terminal, also not from a library's ``log.exception``: the
terminal gets one line per log record, the file the whole record.

Arguments are checked once for all commands before any runs (:func:`check_arguments`): a number SQLite cannot
store (``show 99999999999999999999999``) and text that is not valid UTF-8 (``--name $'\\xff'``: Python keeps
such argv bytes as lone surrogates, which can be neither stored nor printed) are refused with exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from inbox_app.i18n import _, language_is_available, unknown_language_message
from inbox_app.i18n import setup as setup_i18n
from inbox_app.profile import Profile

# module name → it defines register(subparsers) which adds its parsers and sets `func` on each.
COMMAND_MODULES = ("conversations", "demo", "accounts", "replies", "sync", "backups", "reports", "triage")

EXIT_BUG = 70  # EX_SOFTWARE: an unexpected error (a bug); the details are in the log file
INT64_MAX = 2**63 - 1  # the largest integer SQLite stores
LOG_DIR_NAME = "logs"
LOG_FILE_NAME = "inbox-app.log"
log = logging.getLogger("inbox_app.cli")


class CliError(Exception):
    """An error the user can act on; printed without a traceback."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def profile_from_args(args: argparse.Namespace) -> Profile:
    """Open the profile named by ``--profile`` (or the default), turning storage problems into CliError."""
    from inbox_app.profile import open_profile
    from inbox_app.services.profiles import ProfileProblem, SchemaTooNewError

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
    from inbox_app.services.profiles import ProfileProblem

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


def _argument_name(dest: str) -> str:
    return (
        dest
        if dest in {"conversation_id", "item_id", "account_id", "query"}
        else "--" + dest.replace("_", "-")
    )


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse values no command can use, whatever the command (see the module docs)."""
    for dest, value in sorted(vars(args).items()):
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            if isinstance(item, bool):
                continue
            if isinstance(item, int) and not -INT64_MAX <= item <= INT64_MAX:
                raise CliError(
                    _("{argument}: the number {value} is too large.").format(
                        argument=_argument_name(dest),
                        value=str(item)[:30] + ("…" if len(str(item)) > 30 else ""),
                    ),
                    2,
                )
            if isinstance(item, str) and _has_surrogates(item):
                raise CliError(
                    _("{argument}: the text is not valid UTF-8.").format(argument=_argument_name(dest)), 2
                )


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class _OneLineFormatter(logging.Formatter):
    """For the terminal: the message only, never the traceback (that goes to the log file)."""

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        try:
            return super().format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved


class _PrivateFileHandler(logging.FileHandler):
    """The profile's log file, created on the first record only, private (0700 folder, 0600 file)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, encoding="utf-8", delay=True)
        self.failed = False

    def _open(self):  # logging.FileHandler's own (untyped) hook
        folder = Path(self.baseFilename).parent
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        return open(fd, "a", encoding="utf-8", errors="backslashreplace")  # the handler closes it

    def emit(self, record: logging.LogRecord) -> None:
        if self.failed:
            return
        try:  # FileHandler opens the file outside its own error handling: a read-only profile would raise
            super().emit(record)
        except Exception:
            self.failed = True

    def handleError(self, record: logging.LogRecord) -> None:
        self.failed = True  # a log file that cannot be written must not print a traceback of its own

    def flush(self) -> None:
        try:  # a full disk fails the buffered write here, at exit: the user was already told plainly
            super().flush()
        except OSError:
            self.failed = True

    def close(self) -> None:
        try:
            super().close()
        except OSError:
            self.failed = True


def log_file_path(profile: Path | None) -> Path:
    """Where the CLI writes its log for this ``--profile`` (the default profile's when None)."""
    from inbox_app.profile import default_profile_dir

    root = (profile or default_profile_dir()).expanduser()
    return root / LOG_DIR_NAME / LOG_FILE_NAME


def _setup_logging(verbose: bool, profile: Path | None) -> _PrivateFileHandler:
    root = logging.getLogger()
    if not root.handlers:  # as logging.basicConfig: an embedding program's (or pytest's) handlers stay
        terminal = logging.StreamHandler(sys.stderr)
        terminal.setFormatter(_OneLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(terminal)
        root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    handler = _PrivateFileHandler(log_file_path(profile))
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    return handler


def _report_bug(exc: BaseException, handler: _PrivateFileHandler, command: str | None) -> None:
    """One line on stderr in the user's language; the traceback in the log file."""
    # Straight to the file: the terminal gets the one line below, not a log line as well.
    record = log.makeRecord(
        log.name,
        logging.ERROR,
        __file__,
        0,
        "unexpected error in the %r command",
        (command or "window",),
        (type(exc), exc, exc.__traceback__),
    )
    handler.handle(record)
    handler.flush()
    what = type(exc).__name__
    if handler.failed or not Path(handler.baseFilename).exists():
        details = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        print(
            "inbox-app: "
            + _("Something went wrong ({error}); this is a bug. The log file could not be written.").format(
                error=details[:200]
            ),
            file=sys.stderr,
        )
        return
    print(
        "inbox-app: "
        + _("Something went wrong ({error}); this is a bug. The details are in {path}").format(
            error=what, path=handler.baseFilename
        ),
        file=sys.stderr,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    # Translations first so --help is in the user's language; --lang is read before full parsing.
    lang = _lang_from_args(args_list)
    lang_ok = lang is None or (not _has_surrogates(lang) and language_is_available(lang))
    setup_i18n(lang if lang_ok else None)
    parser = build_parser()
    args = parser.parse_args(args_list)
    if not lang_ok and args.command is not None:  # the window says so in a dialog (run_gui)
        print(f"inbox-app: {unknown_language_message(ascii(lang)[1:-1])}", file=sys.stderr)
        return 2
    handler = _setup_logging(args.verbose, args.profile)
    try:
        check_arguments(args)
        if args.command is None:
            from inbox_app.app import run_gui

            return run_gui(args.profile, lang)
        return int(args.func(args))
    except CliError as exc:
        print(f"inbox-app: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `inbox-app list | head`: the reader left, which is not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except MemoryError as exc:
        _report_bug(exc, handler, args.command)
        return EXIT_BUG
    except Exception as exc:  # a bug: one line for the user, the traceback in the log file
        _report_bug(exc, handler, args.command)
        return EXIT_BUG
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()


if __name__ == "__main__":
    sys.exit(main())
