"""``inbox-app search QUERY --json`` with filters, run as a subprocess on a demo profile built by ``demo``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import demo_profile as make_demo_profile
from tests.cli_helpers import run_cli


@pytest.fixture(scope="module")
def demo_profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_demo_profile(tmp_path_factory, "cli-search", "--count", "120")


def _search(profile: Path, *args: str) -> list[dict[str, Any]]:
    result = run_cli("--profile", str(profile), "search", *args, "--json", "--limit", "1000")
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def test_filters_from_the_command_line(demo_profile: Path) -> None:
    amazon_open = _search(demo_profile, "channel:amazon status:open")
    assert amazon_open and all(r["channel"] == "amazon" and r["status"] == "open" for r in amazon_open)
    not_closed = _search(demo_profile, "-status:closed lang:es")
    assert not_closed and all(r["status"] != "closed" and r["language"] == "es" for r in not_closed)
    unread = _search(demo_profile, "is:unread")
    assert unread and all(r["unread"] for r in unread)
    every_language = {r["id"] for r in _search(demo_profile, "pedido")}
    spanish = _search(demo_profile, "pedido lang:es")
    assert spanish and all(r["language"] == "es" for r in spanish)
    assert {r["id"] for r in spanish} <= every_language


def test_a_malformed_query_is_one_clear_line_and_exit_2(demo_profile: Path) -> None:
    for query, expected in (
        ("colour:red", "Unknown filter “colour:”"),
        ("before:someday", "is not a date for before:"),
        ('"no ha llegado', "A quote is not closed"),
    ):
        result = run_cli("--profile", str(demo_profile), "search", query, "--json")
        assert result.returncode == 2, (query, result.stderr)
        assert result.stdout == ""
        assert expected in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
