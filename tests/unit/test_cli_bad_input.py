"""Issue 11.7 and 11.9 through the real command line: each bad input gets its own plain sentence, fast.

Run as ``python -m inbox_app`` subprocesses over a small demo profile.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run(profile: Path, *args: str | bytes, stdin: bytes = b"") -> tuple[int, str, str, float]:
    env = dict(os.environ, PYTHONPATH=str(REPO), INBOX_APP_LANG="en")
    argv = [a if isinstance(a, bytes) else a.encode() for a in args]
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable.encode(), b"-m", b"inbox_app", b"--profile", str(profile).encode(), *argv],
        input=stdin,
        capture_output=True,
        cwd=profile.parent,
        env=env,
        timeout=120,
    )
    elapsed = time.monotonic() - started
    return done.returncode, done.stdout.decode(), done.stderr.decode("utf-8", "replace"), elapsed


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    profile = tmp_path_factory.mktemp("bad-input") / "profile"
    code, _out, err, _t = run(profile, "demo", "--count", "12")
    assert code == 0, err
    return profile


def queued(profile: Path) -> str:
    code, out, err, _t = run(profile, "outbox", "list")
    assert code == 0, err
    return out


def test_reply_from_dev_zero_is_refused_at_once(demo: Path) -> None:
    code, _out, err, elapsed = run(demo, "reply", "1", "--body-file", "/dev/zero")
    assert code == 1
    assert err.strip() == (
        "inbox-app: The reply in /dev/zero is too long: no channel takes more than 1,000,000 characters."
    )
    assert elapsed < 20  # it used to read until the kernel killed it (24 GB)
    assert "No replies in the outbox." in queued(demo)


def test_a_100_mb_body_is_refused(demo: Path, tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    with big.open("w", encoding="utf-8") as handle:
        for _ in range(100):
            handle.write("x" * (1024 * 1024))
    code, _out, err, _t = run(demo, "reply", "1", "--body-file", str(big))
    assert code == 1 and "too long" in err and "Traceback" not in err
    code, _out, err, _t = run(demo, "reply", "1", "--body-file", "-", stdin=b"y" * (100 * 1024 * 1024))
    assert code == 1 and "standard input is too long" in err
    assert "No replies in the outbox." in queued(demo)


def test_a_body_within_mail_limits_but_over_the_channels_is_refused_by_the_channel(demo: Path) -> None:
    """The demo's Mirakl conversation takes 50,000 characters: 60,000 are refused naming Mirakl."""
    code, out, err, _t = run(demo, "list", "--json")
    mirakl = [row["id"] for row in json.loads(out) if row["channel"] == "mirakl"]
    if not mirakl:
        pytest.fail("the demo has no Mirakl conversation to test with")
    code, _out, err, _t = run(demo, "reply", str(mirakl[0]), "--body-file", "-", stdin=b"z" * 60_000)
    assert code == 1
    assert "60,000 characters, Mirakl accepts at most 50,000" in err


def test_non_utf8_stdin_and_nul_bytes_are_refused_plainly(demo: Path) -> None:
    code, _out, err, _t = run(demo, "reply", "1", "--body-file", "-", stdin=b"Hola \xf1and\xfa")
    assert code == 1
    assert (
        err.strip()
        == "inbox-app: standard input is not UTF-8 text (byte 5 cannot be read); save it as UTF-8."
    )
    code, _out, err, _t = run(demo, "reply", "1", "--body-file", "-", stdin=b"PK\x03\x04\x00\x00binary")
    assert code == 1 and "NUL bytes" in err


def test_non_utf8_name_is_refused_before_anything_is_stored(demo: Path) -> None:
    code, _out, err, _t = run(
        demo,
        *["account", "add", "imap", "--name", b"Shop \xff", "--imap-host", "127.0.0.1", "--user", "u",
          "--password-env", "NO_SUCH_VARIABLE", "--smtp-host", "127.0.0.1", "--from", "a@shop.example"],
    )  # fmt: skip
    assert code == 2
    assert err.strip() == "inbox-app: --name: the text is not valid UTF-8."
    code, out, err, _t = run(demo, "account", "list")
    assert code == 0 and "Shop" not in out.replace("Demo shop", "")


@pytest.mark.parametrize("value", ["99999999999999999999999", "-99999999999999999999999"])
def test_huge_ids_are_refused_plainly(demo: Path, value: str) -> None:
    code, _out, err, _t = run(demo, "show", value)
    assert code == 1 and err.strip() == f"inbox-app: There is no conversation with id {value}."
    code, _out, err, _t = run(demo, "outbox", "cancel", "--", value)
    assert code == 2 and "is too large" in err and "Traceback" not in err
