"""Passwords that land in keyrings.alt's plain-text file are announced: once in the window, on stderr in the CLI.

The tests run with ``PYTHON_KEYRING_BACKEND=keyrings.alt.file.PlaintextKeyring`` (tests/conftest.py), which is
exactly what keyring chooses by itself on a machine without a keyring service.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from inbox_app.secrets import backend_is_plaintext
from tests.damage_helpers import REPO, run_cli


def add_account(folder: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), INBOX_APP_LANG="en", SHOP_PW="secret")
    return subprocess.run(
        [
            sys.executable, "-m", "inbox_app", "--profile", str(folder), "account", "add", "imap",
            "--name", "Shop", "--user", "shop@example.com", "--password-env", "SHOP_PW",
            "--from", "shop@example.com", "--imap-host", "imap.example.com", "--smtp-host", "smtp.example.com",
            "--no-test",
        ],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=120,
    )  # fmt: skip


def run_window(tmp_path: Path, folder: Path) -> dict[str, Any]:
    result_file = tmp_path / "gui-result.json"
    env = dict(os.environ, PYTHONPATH=str(REPO), INBOX_APP_LANG="en", QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run(
        [sys.executable, "-m", "tests.ui.gui_dialog_driver", str(result_file), "", "--profile", str(folder)],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    result: dict[str, Any] = json.loads(result_file.read_text(encoding="utf-8"))
    return result


def test_the_test_keyring_is_recognised_as_plain_text() -> None:
    assert backend_is_plaintext()


def test_cli_says_on_stderr_that_the_password_went_to_a_plain_file(tmp_path: Path) -> None:
    added = add_account(tmp_path / "profile")
    assert added.returncode == 0, added.stderr
    assert (
        "warning: No keyring service was found, so passwords are stored in a plain text file" in added.stderr
    )
    assert "keyring_pass.cfg" in added.stderr
    assert added.stdout.strip().isdigit()  # stdout stays the account id, for scripts


def test_window_shows_the_notice_once(tmp_path: Path) -> None:
    folder = tmp_path / "profile"
    assert add_account(folder).returncode == 0
    first = run_window(tmp_path, folder)
    notices = [d for d in first["dialogs"] if d["name"] == "plaintext_keyring_notice"]
    assert len(notices) == 1 and "plain text file" in notices[0]["text"]
    assert first["window"] is not None
    second = run_window(tmp_path, folder)
    assert [d for d in second["dialogs"] if d["name"] == "plaintext_keyring_notice"] == []


def test_no_notice_without_accounts(tmp_path: Path) -> None:
    folder = tmp_path / "profile"
    assert run_cli("--profile", str(folder), "demo", "--count", "5").returncode == 0
    result = run_window(tmp_path, folder)
    assert result["dialogs"] == [] and result["window"] is not None
