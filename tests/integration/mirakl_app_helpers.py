"""Helpers of the Mirakl-in-the-app tests: a sandbox per test, the CLI as a subprocess, the stored message ids.

Imported by the test modules (each defines its own ``sandbox`` fixture).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.servers.mirakl import MiraklSandbox

REPO = Path(__file__).resolve().parents[2]
KEY_ENV = "TEST_MIRAKL_KEY"
DB_NAME = "inbox.sqlite3"


def _env(**extra: str) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(REPO), INBOX_APP_LANG="en", **extra)


def cli(profile: Path, *args: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
    env = _env(**({KEY_ENV: key} if key is not None else {}))
    return subprocess.run(
        [sys.executable, "-m", "inbox_app", "--profile", str(profile), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def add_account(profile: Path, sandbox: MiraklSandbox, name: str = "Fnac ES", *extra: str) -> int:
    out = ok(
        cli(
            profile,
            "account",
            "add",
            "mirakl",
            "--name",
            name,
            "--base-url",
            sandbox.base_url,
            "--api-key-env",
            KEY_ENV,
            "--shop-id",
            sandbox.shop_id,
            *extra,
            key=sandbox.api_key,
        )
    )
    return int(out.strip().splitlines()[-1])


def listed(profile: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(ok(cli(profile, "list", "--view", "all", "--json")))
    return rows


def shown(profile: Path, conversation_id: int) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ok(cli(profile, "show", str(conversation_id), "--json")))
    return data


def sandbox_messages(sandbox: MiraklSandbox) -> set[str]:
    return {str(m["id"]) for _t, m in sandbox.iter_all_messages()}


def stored_message_ids(profile: Path) -> list[str]:
    """Every stored message's vendor id, read from the profile's database (a doubled message shows twice)."""
    with contextlib.closing(sqlite3.connect(f"file:{profile / DB_NAME}?mode=ro", uri=True)) as db:
        return [str(r[0]) for r in db.execute("SELECT remote_id FROM message")]


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)
