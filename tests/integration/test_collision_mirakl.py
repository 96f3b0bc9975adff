"""The collision check before send, for a Mirakl marketplace, end to end through the real entry point against
the Mirakl sandbox on 127.0.0.1: a reply queued, then the customer writes again (or the shop answers from the
operator's back office) before ``sync --once`` delivers it → the reply is held, never posted; ``outbox
send-anyway`` releases it and it reaches the sandbox exactly once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.mirakl_app_helpers import add_account, cli, listed, ok, shown
from tests.servers.mirakl import MiraklSandbox

pytestmark = pytest.mark.integration

BODY = "Hola Lucía,\n\nle enviamos otro paquete hoy mismo.\n\nUn saludo"


@pytest.fixture
def sandbox() -> Iterator[MiraklSandbox]:
    with MiraklSandbox() as server:
        yield server


def _queued(profile: Path, sandbox: MiraklSandbox) -> tuple[str, int, int]:
    """(the sandbox thread id, the conversation id, the queued reply's id)."""
    thread = sandbox.add_thread(topic="Paquete roto", order_id="ORDER-9-A", customer_name="Lucía Pérez")
    sandbox.add_message(thread.id, "Mi paquete llegó roto")
    add_account(profile, sandbox)
    ok(cli(profile, "sync", "--once"))
    (row,) = listed(profile)
    body_file = profile.parent / "body.txt"
    body_file.write_text(BODY, encoding="utf-8")
    item_id = int(ok(cli(profile, "reply", str(row["id"]), "--body-file", str(body_file))).strip())
    return thread.id, int(row["id"]), item_id


def _outbox(profile: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(ok(cli(profile, "outbox", "list", "--all", "--json")))
    return rows


@pytest.mark.parametrize(
    ("sender", "kind", "reason"),
    [("CUSTOMER", "customer_wrote", "wrote at"), ("SHOP", "answered_elsewhere", "Answered from elsewhere")],
    ids=["customer-wrote-again", "answered-from-back-office"],
)
def test_a_changed_thread_holds_the_reply_until_send_anyway(
    sandbox: MiraklSandbox, tmp_path: Path, sender: Any, kind: str, reason: str
) -> None:
    profile = tmp_path / "p"
    thread_id, conversation_id, item_id = _queued(profile, sandbox)
    sandbox.add_message(
        thread_id, "¿Y el reembolso?" if sender == "CUSTOMER" else "Reenviado hoy.", sender=sender
    )

    ok(cli(profile, "sync", "--once"))
    ok(cli(profile, "sync", "--once"))
    assert sandbox.replies == []  # held: never posted, however many rounds run
    (item,) = _outbox(profile)
    assert item["id"] == item_id and item["state"] == "held"
    assert [c["kind"] for c in item["held_changes"]] == [kind]
    assert reason in item["held_reason"]
    # The seller sees the change in the thread too.
    assert len(shown(profile, conversation_id)["messages"]) == 2

    ok(cli(profile, "outbox", "send-anyway", str(item_id)))
    ok(cli(profile, "sync", "--once"))
    ok(cli(profile, "sync", "--once"))
    assert [r.message_input["body"] for r in sandbox.replies] == [BODY]
    (item,) = _outbox(profile)
    assert item["state"] == "sent"


def test_an_unchanged_thread_is_sent_at_once(sandbox: MiraklSandbox, tmp_path: Path) -> None:
    profile = tmp_path / "p"
    _thread_id, _conversation_id, _item_id = _queued(profile, sandbox)
    ok(cli(profile, "sync", "--once"))
    assert [r.message_input["body"] for r in sandbox.replies] == [BODY]
