"""The app's command line run as a subprocess, as a user runs it: from the repository, in English.

Shared by the CLI tests (unit and damage/GUI ones) so they all start the app the same way."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m inbox_app *args``; offscreen Qt so a command that opens a window never needs a display."""
    env = dict(os.environ, PYTHONPATH=str(REPO), INBOX_APP_LANG="en", QT_QPA_PLATFORM="offscreen")
    return subprocess.run(
        [sys.executable, "-m", "inbox_app", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=timeout,
    )


def demo_profile(tmp_path_factory: pytest.TempPathFactory, label: str, *demo_args: str) -> Path:
    """A new profile filled by ``inbox-app demo *demo_args``, in a temporary folder named after ``label``."""
    folder = tmp_path_factory.mktemp(label) / "profile"
    result = run_cli("--profile", str(folder), "demo", *demo_args)
    assert result.returncode == 0, result.stderr
    return folder
