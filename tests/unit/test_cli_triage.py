"""``set`` and ``note`` run for real (a subprocess on a demo profile), and what ``list``/``show --json`` report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_cli import run_cli


@pytest.fixture(scope="module")
def profile_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli-triage") / "profile"
    assert run_cli("--profile", str(folder), "demo", "--count", "30", "--seed", "3").returncode == 0
    return folder


def _json(*args: str) -> Any:
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _show(profile: Path, conversation_id: int) -> dict[str, Any]:
    data: dict[str, Any] = _json("--profile", str(profile), "show", str(conversation_id), "--json")
    return data


def test_list_json_has_the_triage_fields_and_demo_is_categorised(profile_dir: Path) -> None:
    rows = _json("--profile", str(profile_dir), "list", "--view", "all", "--json")
    assert rows and all({"category", "assignee", "snoozed_until", "tags"} <= set(r) for r in rows)
    assert all(r["category"] for r in rows), "the demo's conversations are categorised as they are written"
    assert any(r["snoozed_until"] for r in rows if r["status"] == "snoozed")


def test_set_changes_many_at_once(profile_dir: Path) -> None:
    p = str(profile_dir)
    ids = [str(r["id"]) for r in _json("--profile", p, "list", "--view", "all", "--json")[:3]]
    result = run_cli(
        "--profile", p, "set", *ids, "--status", "pending", "--category", "refund", "--assign", "Ana",
        "--tag", "follow-up", "--tag", "VIP",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "3 of 3" in result.stdout
    for conversation_id in ids:
        row = _show(profile_dir, int(conversation_id))
        assert row["status"] == "pending" and row["category"] == "refund" and row["assignee"] == "Ana"
        assert row["category_source"] == "manual" and {"follow-up", "VIP"} <= set(row["tags"])

    assert run_cli("--profile", p, "set", ids[0], "--unassign", "--untag", "VIP").returncode == 0
    first = _show(profile_dir, int(ids[0]))
    assert first["assignee"] is None and "VIP" not in first["tags"]


def test_snooze_until_with_an_offset(profile_dir: Path) -> None:
    p = str(profile_dir)
    first = str(_json("--profile", p, "list", "--view", "all", "--json")[-1]["id"])
    assert run_cli("--profile", p, "set", first, "--snooze-until", "2099-12-01T09:00+01:00").returncode == 0
    row = _show(profile_dir, int(first))
    assert row["status"] == "snoozed" and row["snoozed_until"] == "2099-12-01T08:00:00+00:00"


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["999999", "--status", "closed"], "no conversation with id 999999", 1),
        (["1", "--category", "shipping"], "Unknown category", 1),
        (["1", "--snooze-until", "tomorrow"], "ISO 8601", 1),
        (["1"], "Nothing to change", 2),
        (["1", "--status", "closed", "--snooze-until", "2099-01-01T00:00"], "not both", 2),
        (["1", "--assign", "Ana", "--unassign"], "not allowed", 2),
    ],
)
def test_set_refuses_bad_input_and_changes_nothing(
    profile_dir: Path, args: list[str], message: str, code: int
) -> None:
    p = str(profile_dir)
    before = _show(profile_dir, 1)
    result = run_cli("--profile", p, "set", *args)
    assert result.returncode == code and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert _show(profile_dir, 1) == before


def test_note_is_added_and_shown(profile_dir: Path) -> None:
    p = str(profile_dir)
    result = run_cli("--profile", p, "note", "2", "--text", "Llamé a la agencia de transporte")
    assert result.returncode == 0, result.stderr
    assert "Llamé a la agencia de transporte" in [n["body"] for n in _show(profile_dir, 2)["notes"]]
    missing = run_cli("--profile", p, "note", "999999", "--text", "x")
    assert missing.returncode == 1 and "999999" in missing.stderr
    empty = run_cli("--profile", p, "note", "2", "--text", "  ")
    assert empty.returncode == 2


def test_status_open_wakes_a_snoozed_one_and_search_json_finds_what_set_wrote(profile_dir: Path) -> None:
    """``set --status open`` ends a snooze (no time left behind); ``search --json`` with the triage filters finds
    exactly what ``set`` wrote and reports the same fields as ``list``/``show``."""
    p = str(profile_dir)
    rows = _json("--profile", p, "list", "--view", "all", "--json")
    first, second = str(rows[4]["id"]), str(rows[5]["id"])
    assert (
        run_cli("--profile", p, "set", first, second, "--snooze-until", "2099-01-01T10:00Z").returncode == 0
    )
    assert run_cli("--profile", p, "set", first, "--status", "open").returncode == 0
    woke, asleep = _show(profile_dir, int(first)), _show(profile_dir, int(second))
    assert (woke["status"], woke["snoozed_until"]) == ("open", None)
    assert (asleep["status"], asleep["snoozed_until"]) == ("snoozed", "2099-01-01T10:00:00+00:00")

    assert run_cli(
        "--profile", p, "set", first, second, "--category", "stock", "--assign", "Luis", "--tag", "llamar"
    ).returncode == 0  # fmt: skip
    found = _json("--profile", p, "search", "category:stock assignee:luis tag:llamar", "--json")
    assert sorted(str(r["id"]) for r in found) == sorted([first, second])
    for row in found:
        assert {"category", "assignee", "snoozed_until", "tags"} <= set(row), row
        assert row["category"] == "stock" and row["assignee"] == "Luis" and "llamar" in row["tags"]
    snoozed = _json("--profile", p, "search", "status:snoozed assignee:luis", "--json")
    assert [str(r["id"]) for r in snoozed] == [second]
    assert snoozed[0]["snoozed_until"] == "2099-01-01T10:00:00+00:00"
    not_luis = _json("--profile", p, "search", "-assignee:luis tag:llamar", "--json")
    assert not_luis == []


def test_sync_once_wakes_a_snooze_whose_time_came_without_the_window(profile_dir: Path) -> None:
    """Headless (cron's ``sync --once``): a snooze that ran out goes back to open, a later one stays."""
    import sqlite3

    rows = _json("--profile", str(profile_dir), "list", "--json")
    due, later = (str(r["id"]) for r in rows[-2:])
    p = str(profile_dir)
    assert run_cli("--profile", p, "set", due, later, "--snooze-until", "2099-01-01T10:00Z").returncode == 0
    with sqlite3.connect(profile_dir / "inbox.sqlite3") as db:  # the time passes for one of them
        db.execute(
            "UPDATE conversation SET snoozed_until = '2020-01-01T10:00:00.000000Z' WHERE id = ?", (due,)
        )
    assert _show(profile_dir, int(due))["status"] == "snoozed"

    result = run_cli("--profile", p, "sync", "--once")
    # the demo profile has no account to fetch (said, exit 1); the snoozes are woken all the same
    assert result.returncode == 1 and "No mail account" in result.stderr, result.stderr
    assert (
        _show(profile_dir, int(due))["status"] == "open"
        and _show(profile_dir, int(due))["snoozed_until"] is None
    )
    assert _show(profile_dir, int(later))["status"] == "snoozed"
