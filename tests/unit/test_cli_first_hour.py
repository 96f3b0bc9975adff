"""A newcomer's first commands, run for real (``python -m inbox_app``): language choice, demo twice, empty lists,
and a customer who gave no name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inbox_app.cli import main
from inbox_app.profile import open_profile
from inbox_app.store import ingest
from inbox_app.store.models import Account, Conversation
from tests.cli_helpers import run_cli


# ------------------------------------------------------------------------------------------------- --lang
def test_lang_with_equals_sign_works_like_lang_with_a_space(tmp_path: Path) -> None:
    folder = str(tmp_path / "profile")
    spaced = run_cli("--lang", "es", "--profile", folder, "list")
    joined = run_cli("--lang=es", "--profile", folder, "list")
    assert spaced.returncode == joined.returncode == 0, joined.stderr
    assert spaced.stdout == joined.stdout == "No hay conversaciones.\n"


@pytest.mark.parametrize(
    ("lang", "expected"), [("it", "Nessuna conversazione.\n"), ("pt", "Sem conversas.\n")]
)
def test_italian_and_portuguese_are_interface_languages(tmp_path: Path, lang: str, expected: str) -> None:
    result = run_cli(f"--lang={lang}", "--profile", str(tmp_path / "profile"), "list")
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected


@pytest.mark.parametrize("lang", ["xx", "klingon", "ja"])
def test_an_unknown_language_is_refused_with_the_available_ones(tmp_path: Path, lang: str) -> None:
    result = run_cli("--lang", lang, "--profile", str(tmp_path / "profile"), "list")
    assert result.returncode == 2
    assert result.stdout == ""
    assert f"Unknown interface language “{lang}”" in result.stderr
    assert "de, en, es, fr, it, pt" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_regional_variant_of_a_known_language_is_accepted(tmp_path: Path) -> None:
    result = run_cli("--lang=pt_BR", "--profile", str(tmp_path / "profile"), "list")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Sem conversas.\n"


# ------------------------------------------------------------------------------------------------- demo twice
def test_demo_twice_is_refused_and_does_not_double_the_workspace(tmp_path: Path) -> None:
    folder = str(tmp_path / "profile")
    first = run_cli("--profile", folder, "demo", "--count", "12")
    assert first.returncode == 0, first.stderr
    second = run_cli("--profile", folder, "demo", "--count", "12")
    assert second.returncode == 2
    assert "already holds the demo (12 conversations)" in second.stderr
    assert "--force" in second.stderr and second.stdout == ""
    listed = run_cli("--profile", folder, "list", "--view", "all", "--json")
    assert len(json.loads(listed.stdout)) == 12
    forced = run_cli("--profile", folder, "demo", "--count", "3", "--force")
    assert forced.returncode == 0, forced.stderr
    listed = run_cli("--profile", folder, "list", "--view", "all", "--json")
    assert len(json.loads(listed.stdout)) == 15


# ------------------------------------------------------------------------------------------------- empty lists
def test_empty_outbox_and_account_lists_say_so_but_json_stays_an_empty_list(tmp_path: Path) -> None:
    folder = str(tmp_path / "profile")
    outbox = run_cli("--profile", folder, "outbox", "list")
    assert outbox.returncode == 0, outbox.stderr
    assert outbox.stdout == "No replies in the outbox.\n"
    accounts = run_cli("--profile", folder, "account", "list")
    assert accounts.returncode == 0, accounts.stderr
    assert accounts.stdout == "No accounts yet. Add one with: inbox-app account add imap …\n"
    assert json.loads(run_cli("--profile", folder, "outbox", "list", "--json").stdout) == []
    assert json.loads(run_cli("--profile", folder, "account", "list", "--json").stdout) == []


# ------------------------------------------------------------------------------------------------- nameless customer
def _nameless_customer_profile(folder: Path) -> int:
    prof = open_profile(folder)
    try:
        account = Account.create(kind="imap", name="Shop", settings={})
        channel = ingest.ensure_channel(account, "email", "shop@example.com")
        customer = ingest.ensure_customer("email", "Anon.Buyer@Example.com", display_name=None)
        conversation = ingest.create_conversation(
            account, channel, remote_id="x1", subject="Where is my parcel?", customer=customer
        )
        named = ingest.ensure_customer("email", "lucia@example.es", display_name="Lucía Fernández")
        ingest.create_conversation(account, channel, remote_id="x2", subject="Factura", customer=named)
        return int(conversation.id)
    finally:
        prof.close()


def test_a_customer_without_a_name_shows_the_address_in_list_json_and_table(tmp_path: Path) -> None:
    folder = tmp_path / "profile"
    conversation_id = _nameless_customer_profile(folder)
    listed = run_cli("--profile", str(folder), "list", "--view", "all", "--json")
    assert listed.returncode == 0, listed.stderr
    customers = {row["id"]: row["customer"] for row in json.loads(listed.stdout)}
    assert customers[conversation_id] == "anon.buyer@example.com"
    assert "Lucía Fernández" in customers.values()
    table = run_cli("--profile", str(folder), "list", "--view", "all").stdout
    assert "anon.buyer@example.com" in table


def test_the_list_column_shows_the_address_and_templates_still_get_no_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from inbox_app.store.conversations import summary
    from inbox_app.ui.conversation_model import Column, ConversationListModel

    folder = tmp_path / "profile"
    conversation_id = _nameless_customer_profile(folder)
    prof = open_profile(folder)
    try:
        row = summary(conversation_id)
        assert row is not None
        assert row.customer_name == ""  # a greeting must not become "Hello anon.buyer@example.com"
        assert row.customer_label == "anon.buyer@example.com"
        model = ConversationListModel()
        model.set_ids([conversation_id])
        assert model.data(model.index(0, Column.CUSTOMER)) == "anon.buyer@example.com"
        assert Conversation.get_by_id(conversation_id).customer_name == ""
    finally:
        prof.close()
    assert main(["--profile", str(folder), "show", str(conversation_id)]) == 0
    assert "anon.buyer@example.com" in capsys.readouterr().out
