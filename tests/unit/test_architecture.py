"""The layering rules of STYLE.md, checked on the source: arrows point down only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "inbox_app"

# layer → inbox_app sub-packages it must not import (plus PySide6 for the Qt-free layers)
FORBIDDEN: dict[str, set[str]] = {
    "domain": {"store", "channels", "sync", "ui", "cli", "app", "PySide6", "qasync"},
    "store": {"channels", "sync", "ui", "cli", "app", "PySide6", "qasync"},
    "channels": {"store", "sync", "ui", "cli", "app", "PySide6", "qasync"},
    "sync": {"ui", "cli", "app", "PySide6"},
    "ui": {"sync", "cli"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] == "inbox_app" and len(parts) > 1:
        return parts[1]
    return parts[0]


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_point_down_only(layer: str) -> None:
    files = sorted((PACKAGE / layer).rglob("*.py"))
    assert files, f"layer {layer} has no modules"
    offenders = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in files
        for name in _imports(path)
        if _layer_of(name) in FORBIDDEN[layer]
    ]
    assert offenders == []
