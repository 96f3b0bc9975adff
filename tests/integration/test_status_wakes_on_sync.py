"""Statuses that the customer's next message undoes, end to end through the app's own ``sync --once`` and ``set``
(a subprocess, the real entry point) against the Mirakl sandbox on 127.0.0.1 (the same over real Dovecot:
test_mail_triage).

A snoozed conversation wakes before its time when the customer writes; a pending one ("waiting on the
customer") and a closed one reopen when the customer writes. A reply from the shop's side (the operator's
back office) does not reopen anything, and neither does a sync that brings nothing new.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.integration.mirakl_app_helpers import add_account, cli, listed, ok, shown
from tests.servers.mirakl import MiraklSandbox

pytestmark = pytest.mark.integration

FAR = "2099-12-01T09:00+01:00"


@pytest.fixture
def sandbox() -> Iterator[MiraklSandbox]:
    with MiraklSandbox() as server:
        yield server


def _status(profile: Path, conversation_id: int) -> tuple[str, Any]:
    row = shown(profile, conversation_id)
    return row["status"], row["snoozed_until"]


@pytest.mark.parametrize(
    ("set_args", "held"),
    [
        (["--snooze-until", FAR], ("snoozed", "2099-12-01T08:00:00+00:00")),
        (["--status", "pending"], ("pending", None)),
        (["--status", "closed"], ("closed", None)),
    ],
    ids=["snoozed", "pending", "closed"],
)
def test_the_customer_writing_on_mirakl_reopens_after_the_next_sync(
    sandbox: MiraklSandbox, tmp_path: Path, set_args: list[str], held: tuple[str, Any]
) -> None:
    profile = tmp_path / "p"
    thread = sandbox.add_thread(topic="Paquete roto", order_id="ORDER-9-A", customer_name="Lucía Pérez")
    sandbox.add_message(thread.id, "Mi paquete llegó roto", at=datetime.now(UTC) - timedelta(hours=2))
    add_account(profile, sandbox)
    ok(cli(profile, "sync", "--once"))
    (row,) = listed(profile)
    conversation_id = int(row["id"])
    ok(cli(profile, "set", str(conversation_id), *set_args))
    assert _status(profile, conversation_id) == held

    # Nothing new, and then only the shop's own answer from the back office: the status stays.
    ok(cli(profile, "sync", "--once"))
    sandbox.add_message(
        thread.id, "Le enviamos otro hoy.", sender="SHOP", at=datetime.now(UTC) + timedelta(seconds=1)
    )
    ok(cli(profile, "sync", "--once"))
    assert _status(profile, conversation_id) == held

    sandbox.add_message(thread.id, "¿Alguna novedad?", at=datetime.now(UTC) + timedelta(seconds=2))
    ok(cli(profile, "sync", "--once"))
    assert _status(profile, conversation_id) == ("open", None)
    again = shown(profile, conversation_id)
    assert again["deadline_at"] is not None, "the clock runs again"
