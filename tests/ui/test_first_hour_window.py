"""The newcomer's first minutes in the real window (``run_gui`` through ``inbox_app.cli.main``, offscreen):
"Try the demo" clicked twice and chosen again from the menu fills the demo once; About shows the version."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from tests.damage_helpers import REPO, run_cli


def test_the_demo_is_loaded_once_and_about_shows_the_version(tmp_path: Path) -> None:
    folder = tmp_path / "profile"
    result_file = tmp_path / "result.json"
    env = dict(os.environ, PYTHONPATH=str(REPO), INBOX_APP_LANG="en", QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run(
        [sys.executable, "-m", "tests.ui.first_hour_driver", str(result_file), str(folder)],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    result = json.loads(result_file.read_text(encoding="utf-8"))
    assert result["steps"] == ["clicked Try the demo twice", "demo loaded", "about shown"]
    texts = [d["text"] for d in result["dialogs"]]
    assert texts[0] == "The demo is already in this profile (300 conversations)."
    assert f"Version {version('inbox-app')}" in texts[1]
    listed = run_cli("--profile", str(folder), "list", "--view", "all", "--json", "--limit", "1000")
    assert len(json.loads(listed.stdout)) == 300  # not 600
