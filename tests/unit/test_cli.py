"""The headless CLI, run for real: ``python -m inbox_app --profile DIR demo | list | show | search``."""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from inbox_app.cli import main
from inbox_app.profile import open_profile
from inbox_app.store.models import Account, Conversation, Message
from tests.cli_helpers import run_cli

ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?[+-]\d{2}:\d{2}$")
LIST_FIELDS = {
    "id",
    "channel",
    "account",
    "subject",
    "customer",
    "order_id",
    "status",
    "language",
    "tags",
    "message_count",
    "last_inbound_at",
    "deadline_at",
    "marketplace",
    "unread",
    "snippet",
}


@pytest.fixture(scope="module")
def demo_profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli") / "profile"
    result = run_cli("--profile", str(folder), "demo", "--count", "80", "--seed", "5")
    assert result.returncode == 0, result.stderr
    assert "80" in result.stdout and "Overdue" in result.stdout
    assert "80 of 80" in result.stderr  # progress goes to stderr
    return folder


def _json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _check_row(row: dict[str, Any]) -> None:
    assert set(row) >= LIST_FIELDS
    for key in ("last_inbound_at", "deadline_at", "last_message_at"):
        assert row[key] is None or ISO_WITH_OFFSET.match(row[key]), (key, row[key])
    assert isinstance(row["tags"], list)


def test_list_json_has_every_field_with_iso_offsets(demo_profile: Path) -> None:
    rows = _json(run_cli("--profile", str(demo_profile), "list", "--json", "--view", "all"))
    assert len(rows) == 80
    for row in rows:
        _check_row(row)
    assert {r["channel"] for r in rows} >= {"amazon", "ebay", "mirakl"}
    assert any(r["deadline_at"] for r in rows) and any(r["deadline_at"] is None for r in rows)
    # Display order: running deadlines first, soonest first.
    deadlines = [r["deadline_at"] for r in rows if r["deadline_at"]]
    assert rows[: len(deadlines)] == [r for r in rows if r["deadline_at"]]
    assert deadlines == sorted(deadlines)


def test_show_json_has_the_thread_the_deadline_and_the_rule(demo_profile: Path) -> None:
    rows = _json(run_cli("--profile", str(demo_profile), "list", "--json", "--view", "open", "--limit", "1"))
    conv = _json(run_cli("--profile", str(demo_profile), "show", str(rows[0]["id"]), "--json"))
    _check_row(conv)
    assert conv["id"] == rows[0]["id"]
    assert conv["deadline_at"] == rows[0]["deadline_at"]
    assert conv["policy"]["key"] and conv["policy"]["name"]
    assert len(conv["messages"]) == conv["message_count"] >= 1
    first = conv["messages"][0]
    assert first["direction"] == "in" and first["author"] and first["text"]
    assert ISO_WITH_OFFSET.match(first["sent_at"])
    assert isinstance(first["attachments"], list)


def _unique_token(profile_dir: Path) -> tuple[str, int]:
    """A word that occurs in exactly one conversation's messages (tracking numbers, VAT ids, rare words)."""
    prof = open_profile(profile_dir)
    try:
        where: dict[str, set[int]] = {}
        query: Any = Message.select(Message.conversation, Message.subject, Message.text_body).tuples()
        rows: list[tuple[int, str, str]] = list(query)
        for conv_id, subject, text in rows:
            for word in re.findall(r"\w+", f"{subject} {text}".lower()):
                where.setdefault(word, set()).add(conv_id)
        for word, convs in sorted(where.items()):
            if (
                len(convs) == 1
                and len(word) >= 6
                and not any(w != word and w.startswith(word) for w in where)
            ):
                return word, next(iter(convs))
    finally:
        prof.close()
    raise AssertionError("no word unique to one conversation")


def test_search_finds_a_conversation_by_a_word_of_its_messages(demo_profile: Path) -> None:
    word, conv_id = _unique_token(demo_profile)
    rows = _json(run_cli("--profile", str(demo_profile), "search", word, "--json"))
    assert rows and rows[0]["id"] == conv_id
    _check_row(rows[0])


def test_search_by_order_id_puts_that_order_first(
    demo_profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prof = open_profile(demo_profile)
    try:
        conv = (
            Conversation.select()
            .where(Conversation.order_id.is_null(False))
            .order_by(Conversation.id)
            .first()
        )
        order_id, conv_id = conv.order_id, conv.id
    finally:
        prof.close()
    assert main(["--profile", str(demo_profile), "search", order_id, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["id"] == conv_id and rows[0]["order_id"] == order_id


@pytest.mark.parametrize("query", ["e-mail", "user@x", "AND OR NOT", "*", "paquete", "10:30"])
def test_search_survives_awkward_input(
    demo_profile: Path, query: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--profile", str(demo_profile), "search", query, "--json"]) == 0
    captured = capsys.readouterr()
    assert isinstance(json.loads(captured.out), list)
    assert captured.err == ""


def test_unknown_id_is_exit_1_with_a_message_and_no_output(demo_profile: Path) -> None:
    result = run_cli("--profile", str(demo_profile), "show", "999999", "--json")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "999999" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["show", "abc"], "abc"),
        (["list", "--view", "someday"], "someday"),
        (["list", "--limit", "0"], "--limit"),
    ],
)
def test_user_errors_are_explained_on_stderr(
    demo_profile: Path, args: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--profile", str(demo_profile), *args]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert needle in captured.err and captured.err.startswith("inbox-app: ")


def test_views_filter_by_urgency(demo_profile: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--profile", str(demo_profile), "list", "--json", "--view", "overdue"]) == 0
    overdue = json.loads(capsys.readouterr().out)
    assert overdue and {r["urgency"] for r in overdue} == {"overdue"}
    assert main(["--profile", str(demo_profile), "list", "--json", "--view", "closed", "--limit", "3"]) == 0
    closed = json.loads(capsys.readouterr().out)
    assert 0 < len(closed) <= 3 and {r["status"] for r in closed} == {"closed"}


def test_human_table_and_thread(demo_profile: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--profile", str(demo_profile), "list", "--view", "overdue"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["ID", "Time", "left"]
    assert any("overdue" in line for line in table[1:])
    first_id = table[1].split()[0]
    assert main(["--profile", str(demo_profile), "show", first_id]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"#{first_id}") and "Deadline:" in text and "←" in text


def test_demo_refuses_a_profile_with_real_accounts_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "real"
    prof = open_profile(folder)
    Account.create(kind="imap", name="shop@example.com")
    prof.close()
    assert main(["--profile", str(folder), "demo", "--count", "5"]) == 2
    captured = capsys.readouterr()
    assert "shop@example.com" in captured.err and "--force" in captured.err and captured.out == ""
    assert main(["--profile", str(folder), "demo", "--count", "5", "--force"]) == 0
    assert "5" in capsys.readouterr().out
    prof = open_profile(folder)
    try:
        kinds = Counter(c.account.kind for c in Conversation.select())
    finally:
        prof.close()
    assert kinds == {"demo": 5}
