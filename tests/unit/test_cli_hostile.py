"""Every sub-command, run for real with hostile arguments: one plain line on stderr, never a traceback.

The commands are enumerated from the argparse parser itself, so a command added later is covered without
touching this file. Each run is a subprocess (``python -m inbox_app``) over a profile with a few demo
conversations, with the same hostile value in every argument that takes one: huge and negative integers,
bytes that are not UTF-8, empty and very long strings, paths to /dev/zero, a folder and a missing file, and
"-" (standard input, fed bytes that are not UTF-8).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from inbox_app.cli import EXIT_BUG, build_parser, main

REPO = Path(__file__).resolve().parents[2]
# 0 ok, 1 refused (a clear reason), 2 bad arguments or profile, 3 offline (sync); never EXIT_BUG.
EXPECTED_EXIT = {0, 1, 2, 3}
HOSTILE: dict[str, bytes] = {
    "huge_int": b"99999999999999999999999",
    "negative": b"-5",
    "not_utf8": b"\xff\xfe\x80caf\xe9",
    "empty": b"",
    "very_long": b"x" * 20_000,
    "dev_zero": b"/dev/zero",
    "folder": b"/proc",
    "missing_file": b"/nonexistent/inbox-app/missing.txt",
    "stdin": b"-",
}
STDIN = b"Hello \xff\xfe not UTF-8 \x00\x01" * 1000


def leaf_commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[Any]:
    """(command words, its parser) for every runnable sub-command, however deeply nested."""
    found = []
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [(prefix, parser)]
    for action in subs:
        for name, sub in action.choices.items():
            found.extend(leaf_commands(sub, (*prefix, name)))
    return found


def hostile_argv(words: tuple[str, ...], parser: argparse.ArgumentParser, value: bytes) -> list[bytes]:
    numeric = value.lstrip(b"-").isdigit()
    argv = [w.encode() for w in words]
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or action.nargs == 0:
            continue
        if action.choices is not None:
            if not action.required and not action.option_strings and action.nargs != "?":
                continue
            choice = str(next(iter(action.choices))).encode()
            argv += [action.option_strings[0].encode(), choice] if action.option_strings else [choice]
            continue
        given = value if numeric or action.type is not int else b"1"
        argv += [action.option_strings[0].encode(), given] if action.option_strings else [given]
    return argv


COMMANDS = leaf_commands(build_parser())


def test_every_command_is_enumerated() -> None:
    names = {" ".join(words) for words, _parser in COMMANDS}
    assert {"show", "reply", "search", "outbox cancel", "account add imap", "restore", "sync"} <= names


def _run(profile: Path, argv: list[bytes]) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, PYTHONPATH=str(REPO), INBOX_APP_LANG="en")
    return subprocess.run(
        [sys.executable.encode(), b"-m", b"inbox_app", b"--profile", str(profile).encode(), *argv],
        input=STDIN,
        capture_output=True,
        cwd=profile.parent,  # a relative path given as an argument lands here, not in the repository
        env=env,
        timeout=120,
    )


@pytest.fixture(scope="module")
def demo_profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile") / "profile"
    result = _run(folder, [b"demo", b"--count", b"5"])
    assert result.returncode == 0, result.stderr
    return folder


def _check(result: subprocess.CompletedProcess[bytes], what: str) -> None:
    stderr = result.stderr.decode("utf-8", "replace")
    assert "Traceback" not in stderr, f"{what}\n{stderr}"
    assert "--- Logging error ---" not in stderr, what
    assert result.returncode in EXPECTED_EXIT, f"{what}: exit {result.returncode}\n{stderr[-2000:]}"
    if result.returncode != 0:
        # On stderr; a command that asked a question on stdout (account remove) answers there.
        said = stderr.strip() or result.stdout.decode("utf-8", "replace").strip()
        assert said, f"{what}: failed without a message"
        assert len(said.splitlines()) <= 12, f"{what}: a message, not a dump\n{said[:2000]}"


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_every_command_with_hostile_arguments(demo_profile: Path, kind: str) -> None:
    runs = [(words, hostile_argv(words, parser, HOSTILE[kind])) for words, parser in COMMANDS]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda run: _run(demo_profile, run[1]), runs))
    for (words, argv), result in zip(runs, results, strict=True):
        _check(result, f"{' '.join(words)} with {kind}: {[a[:60] for a in argv]!r}")


@pytest.mark.parametrize(
    "options",
    [
        [b"--profile", b"/dev/zero", b"list"],
        [b"--profile", b"/proc", b"list"],  # a folder nobody may write, even root
        [b"--profile", b"PROFILE\xff\xfe", b"list"],  # under the test's own folder
        [b"--lang", b"\xff", b"list"],
        [b"--lang", b"", b"list"],
        [b"show", b"#" + b"9" * 5000],
        [b"reply", b"1", b"--body-file", b"\xff/missing"],
    ],
    ids=[
        "profile-dev-zero",
        "profile-proc",
        "profile-not-utf8",
        "lang-not-utf8",
        "lang-empty",
        "show-5000-digits",
        "body-file-not-utf8",
    ],
)
def test_hostile_global_options(demo_profile: Path, options: list[bytes], tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO), INBOX_APP_LANG="en")
    argv = [o.replace(b"PROFILE", str(tmp_path).encode() + b"/") for o in options]
    if options[0] != b"--profile":
        argv = [b"--profile", str(demo_profile).encode(), *argv]
    result = subprocess.run(
        [sys.executable.encode(), b"-m", b"inbox_app", *argv],
        input=STDIN,
        capture_output=True,
        cwd=tmp_path,  # a relative path given as an argument lands here, not in the repository
        env=env,
        timeout=120,
    )
    _check(result, repr(options))


def test_an_unexpected_error_is_one_line_and_a_logged_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bug inside a command: one translated line naming the log file, the traceback in that file."""
    from inbox_app.cli import replies

    def broken(_args: argparse.Namespace) -> int:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(replies, "cmd_outbox_list", broken)
    code = main(["--profile", str(tmp_path / "p"), "outbox", "list"])
    err = capsys.readouterr().err
    assert code == EXIT_BUG
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert "this is a bug" in err and "ZeroDivisionError" in err
    log_file = tmp_path / "p" / "logs" / "inbox-app.log"
    assert str(log_file) in err
    logged = log_file.read_text(encoding="utf-8")
    assert "Traceback" in logged and "ZeroDivisionError: a bug" in logged and "'outbox'" in logged
    assert log_file.stat().st_mode & 0o077 == 0  # private, like the rest of the profile
