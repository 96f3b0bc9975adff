"""Shared test set-up: offscreen Qt, an isolated keyring and home, and a fresh profile per test.

Qt warnings fail a test (``qt_log_level_fail`` in pyproject), as do Python warnings (``filterwarnings``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["PYTHON_KEYRING_BACKEND"] = "keyrings.alt.file.PlaintextKeyring"
os.environ.setdefault("INBOX_APP_LANG", "en")

from hypothesis import settings

settings.register_profile("inbox", max_examples=150, deadline=None)
settings.load_profile("inbox")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep keyring files, QSettings and caches of every test inside its own temporary folder."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("INBOX_APP_PROFILE", str(home / "default-profile"))


@pytest.fixture(autouse=True)
def _qt_garbage_collected_on_the_gui_thread(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a Qt test, collect its cyclic garbage here, on the GUI thread.

    Why: a window or controller of a finished test that sits in a reference cycle is destroyed whenever
    Python's cycle collector next runs, and that may be on another thread (a sync worker, a test's publisher
    thread). Qt then stops its timers from the wrong thread ("QObject::killTimer: Timers cannot be stopped from
    another thread") and the process may crash a later, unrelated test.
    """
    yield
    if "qtbot" in request.fixturenames or "qapp" in request.fixturenames:
        import gc

        gc.collect()


@pytest.fixture
def profile(tmp_path: Path) -> Iterator[object]:
    """A fresh profile built by the real initialisation code (migrations, presets, starter library)."""
    from inbox_app import i18n
    from inbox_app.profile import open_profile

    i18n.setup("en")
    prof = open_profile(tmp_path / "profile")
    yield prof
    prof.close()
