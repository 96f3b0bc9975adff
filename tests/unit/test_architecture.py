"""The layering rules of STYLE.md, checked on the source: arrows point down only.

``ui`` and ``cli`` → ``services`` (+ ``domain`` types) → ``store``, ``sync``, ``domain``; ``sync`` → ``channels``,
``store``; ``channels`` → ``domain``; ``store`` → ``domain``; ``domain`` → nothing of ours. ``sandboxes`` (the
vendors' loopback imitations) import nothing of ours and only ``services`` (the live demo) imports them. Every import counts,
also the ones inside functions and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "inbox_app"

#: Our own modules at the top of the package (not layers): wiring and helpers every layer may use.
TOP_LEVEL = {"app", "profile", "secrets", "i18n", "i18n_build", "__main__"}

# layer → what it must not import: inbox_app sub-packages or modules, and third-party top-level packages.
FORBIDDEN: dict[str, set[str]] = {
    # pure Python: nothing of ours but domain (i18n is allowed: N_/_ mark texts for translation)
    "domain": {
        "store",
        "channels",
        "sync",
        "services",
        "ui",
        "cli",
        "demo",
        "app",
        "profile",
        "secrets",
        "PySide6",
        "qasync",
        "shiboken6",
        "peewee",
        "playhouse",
        "httpx",
        "sandboxes",
    },
    "store": {
        "channels",
        "sync",
        "services",
        "ui",
        "cli",
        "app",
        "sandboxes",
        "PySide6",
        "qasync",
        "shiboken6",
        "httpx",
    },
    "channels": {
        "store",
        "sync",
        "services",
        "ui",
        "cli",
        "demo",
        "app",
        "sandboxes",
        "PySide6",
        "qasync",
        "shiboken6",
    },
    "sync": {"services", "ui", "cli", "app", "sandboxes", "PySide6", "shiboken6"},
    "services": {"ui", "cli", "app", "PySide6", "qasync", "shiboken6"},
    # the windows and the commands talk to services only: no peewee, no store model, no channel, no engine
    "ui": {"store", "channels", "sync", "demo", "cli", "sandboxes", "peewee", "playhouse", "httpx"},
    "cli": {
        "store",
        "channels",
        "sync",
        "demo",
        "ui",
        "sandboxes",
        "peewee",
        "playhouse",
        "httpx",
        "PySide6",
    },
    # the vendors' imitations (live demo, tests): the standard library only, nothing of ours
    "sandboxes": {
        "domain",
        "store",
        "channels",
        "sync",
        "services",
        "ui",
        "cli",
        "demo",
        "app",
        "profile",
        "secrets",
        "i18n",
        "PySide6",
        "qasync",
        "shiboken6",
        "peewee",
        "playhouse",
        "httpx",
    },
}

#: Imports waiting to be routed through services, file → the modules it may still import. Empty: every ui/
#: and cli/ module goes through services. A temporary exception added here must name its issue; an entry that
#: is no longer needed fails :func:`test_allow_list_is_not_stale`.
PENDING: dict[str, set[str]] = {}


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (``from x import y`` counts as ``x`` and ``x.y``: y may be a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            if node.module == "inbox_app":
                names.update(f"inbox_app.{alias.name}" for alias in node.names)
    return names


def _layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] == "inbox_app" and len(parts) > 1:
        return parts[1]
    return parts[0]


def _offenders(layer: str) -> list[str]:
    files = sorted((PACKAGE / layer).rglob("*.py"))
    assert files, f"layer {layer} has no modules"
    found = []
    for path in files:
        relative = path.relative_to(PACKAGE).as_posix()
        allowed = PENDING.get(relative, set())
        found.extend(
            f"{relative} imports {name}"
            for name in sorted(_imports(path))
            if _layer_of(name) in FORBIDDEN[layer] and name not in allowed
        )
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_point_down_only(layer: str) -> None:
    assert _offenders(layer) == []


def test_allow_list_is_not_stale() -> None:
    """Each temporary exception is still used: a file that was cleaned up leaves the allow-list too."""
    unused = {
        f"{file}: {name}"
        for file, names in PENDING.items()
        for name in names
        if name not in _imports(PACKAGE / file)
    }
    assert unused == set()


def test_the_check_sees_a_violation(tmp_path: Path) -> None:
    """The rule is not vacuous: an import of the store inside a function (as ui code did) is found."""
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from inbox_app.store.models import Conversation\n    import peewee\n")
    assert {_layer_of(name) for name in _imports(sample)} == {"store", "peewee"}
    assert {"store", "peewee"} <= FORBIDDEN["ui"] and {"store", "peewee"} <= FORBIDDEN["cli"]
