"""A Mirakl account in the app, end to end: ``account add mirakl`` → ``sync --once`` → ``list``/``show``/``search``,
as subprocesses of the real entry point against the Mirakl sandbox on 127.0.0.1 (real HTTP, nothing mocked).

Covers the cursor loop (incremental sync adds the new message and doubles nothing), operator messages,
the vendor's deadline clock, attachments as metadata, faults during sync (429 + Retry-After, 5xx, a dropped
connection), a SIGKILL in the middle of a listing, and one failing account that does not stall another.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.mirakl_app_helpers import (
    DB_NAME,
    KEY_ENV,
    REPO,
    _env,
    add_account,
    cli,
    listed,
    ok,
    sandbox_messages,
    shown,
    stored_message_ids,
    wait_until,
)
from tests.servers.mirakl import Fault, MiraklSandbox

pytestmark = pytest.mark.integration


@pytest.fixture
def sandbox() -> Iterator[MiraklSandbox]:
    with MiraklSandbox(other_shop_ids=("2002",)) as server:
        yield server


# ---------------------------------------------------------------------------------------------------- set-up


def test_account_add_names_what_failed_and_stores_nothing(sandbox: MiraklSandbox, tmp_path: Path) -> None:
    profile = tmp_path / "p"
    base = ["account", "add", "mirakl", "--name", "Fnac ES", "--api-key-env", KEY_ENV]
    wrong_key = cli(profile, *base, "--base-url", sandbox.base_url, key="not-the-key")
    assert wrong_key.returncode == 1
    assert "key refused" in wrong_key.stderr and "Fnac ES refused the key" in wrong_key.stderr
    wrong_shop = cli(profile, *base, "--base-url", sandbox.base_url, "--shop-id", "9999", key=sandbox.api_key)
    assert wrong_shop.returncode == 1 and "shop id unknown" in wrong_shop.stderr
    nobody = cli(profile, *base, "--base-url", "http://127.0.0.1:9", key=sandbox.api_key)
    assert nobody.returncode == 1 and "(address)" in nobody.stderr
    assert sandbox.api_key not in wrong_shop.stderr + nobody.stderr
    assert ok(cli(profile, "account", "list", "--json")).strip() == "[]"


def test_key_lives_in_the_keyring_bound_to_the_host(sandbox: MiraklSandbox, tmp_path: Path) -> None:
    profile = tmp_path / "p"
    account_id = add_account(profile, sandbox)
    accounts = json.loads(ok(cli(profile, "account", "list", "--json")))
    assert [(a["id"], a["kind"], a["name"]) for a in accounts] == [(account_id, "mirakl", "Fnac ES")]
    assert accounts[0]["settings"]["base_url"] == sandbox.base_url
    assert accounts[0]["settings"]["shop_id"] == sandbox.shop_id
    assert sandbox.api_key.encode() not in (profile / DB_NAME).read_bytes()


# ------------------------------------------------------------------------------------------------------ sync


def test_sync_list_show_search_and_incremental(sandbox: MiraklSandbox, tmp_path: Path) -> None:
    profile = tmp_path / "p"
    thread = sandbox.add_thread(topic="Colis abîmé", order_id="ORDER-77-A", customer_name="Lucía Pérez")
    sandbox.add_message(
        thread.id, "Mi paquete llegó roto, ¿qué hago?", attachments=(("../../foto.jpg", b"JPEG"),)
    )
    sandbox.add_message(thread.id, "Hemos pedido al vendedor que responda.", sender="OPERATOR")
    quiet = sandbox.add_thread(topic="Gracias", order_id="ORDER-78-A")
    sandbox.add_message(quiet.id, "Todo bien, gracias")
    sandbox.mark_no_reply_needed(quiet.id)
    add_account(profile, sandbox)

    ok(cli(profile, "sync", "--once"))
    rows = {r["subject"]: r for r in listed(profile)}
    assert set(rows) == {"Colis abîmé", "Gracias"}
    row = rows["Colis abîmé"]
    assert row["channel"] == "mirakl" and row["channel_name"] == "Fnac ES"
    assert row["order_id"] == "ORDER-77-A" and row["customer"] == "Lucía Pérez"
    assert row["deadline_at"] is not None  # shop_reply_needed_since started the clock
    assert rows["Gracias"]["deadline_at"] is None  # no_store_reply_needed
    detail = shown(profile, row["id"])
    messages = detail["messages"]
    assert [m["direction"] for m in messages] == ["in", "in"]
    assert messages[1]["author_name"] == "Operator support (Fnac ES)"
    assert [(a["name"], a["size"]) for a in messages[0]["attachments"]] == [("foto.jpg", 4)]  # no path in it
    assert messages[0]["attachments"][0]["path"] is None  # metadata only until the seller opens it
    (attachment_id,) = [a["id"] for a in messages[0]["attachments"]]
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    saved = Path(ok(cli(profile, "attachment", str(attachment_id), "--to", str(downloads))).strip())
    assert saved.parent == downloads and saved.read_bytes() == b"JPEG"
    ok(cli(profile, "attachment", str(attachment_id), "--to", str(downloads)))  # kept: not downloaded again
    assert len([r for r in sandbox.requests_to("/api/inbox/threads") if r.path.endswith("/download")]) == 1
    hits = json.loads(ok(cli(profile, "search", "paquete", "--json")))
    assert [h["id"] for h in hits] == [row["id"]]

    # The thread changes on the marketplace: the next sync adds the new message and doubles nothing.
    sandbox.add_message(thread.id, "¿Alguna novedad?")
    before = len(sandbox.requests_to("/api/inbox/threads"))
    ok(cli(profile, "sync", "--once"))
    assert len(sandbox.requests_to("/api/inbox/threads")) - before == 1
    ids = stored_message_ids(profile)
    assert sorted(ids) == sorted(sandbox_messages(sandbox))
    assert len(ids) == len(set(ids)) == 4


def test_operator_message_and_shop_reply_from_back_office_stop_the_clock(
    sandbox: MiraklSandbox, tmp_path: Path
) -> None:
    profile = tmp_path / "p"
    thread = sandbox.add_thread(topic="Factura")
    sandbox.add_message(thread.id, "Necesito la factura")
    sandbox.add_message(thread.id, "Aquí la tiene.", sender="SHOP")
    add_account(profile, sandbox)
    ok(cli(profile, "sync", "--once"))
    (row,) = listed(profile)
    assert row["deadline_at"] is None
    assert [m["direction"] for m in shown(profile, row["id"])["messages"]] == ["in", "out"]


@pytest.mark.parametrize(
    "fault",
    [
        Fault("status", status=429, retry_after="1", path_prefix="/api/inbox/threads"),
        Fault("status", status=503, path_prefix="/api/inbox/threads"),
        Fault("drop", path_prefix="/api/inbox/threads"),
    ],
    ids=["429", "503", "drop"],
)
def test_faults_during_sync_lose_and_double_nothing(
    sandbox: MiraklSandbox, tmp_path: Path, fault: Fault
) -> None:
    profile = tmp_path / "p"
    sandbox.generate(30, 3)
    add_account(profile, sandbox, "Carrefour")
    ok(cli(profile, "sync", "--once"))
    sandbox.generate(150, 2, start=sandbox.now())
    sandbox.inject(fault)
    result = cli(profile, "sync", "--once")
    if result.returncode != 0:  # the client's own retries ran out: the next round finishes the listing
        ok(cli(profile, "sync", "--once"))
    ids = stored_message_ids(profile)
    assert sorted(ids) == sorted(sandbox_messages(sandbox))
    assert fault.times == 0


def test_sigkill_during_a_listing_then_resume(sandbox: MiraklSandbox, tmp_path: Path) -> None:
    profile = tmp_path / "p"
    sandbox.generate(350, 2)  # four pages of 100
    add_account(profile, sandbox)
    # The third page stalls until the client is killed.
    page_requests = lambda: len(sandbox.requests_to("/api/inbox/threads"))  # noqa: E731
    sandbox.inject(Fault("slow", delay=60, path_prefix="/api/inbox/threads", times=1))
    sandbox.faults[-1].times = 0  # armed below, once two pages went through
    process = subprocess.Popen(
        [sys.executable, "-m", "inbox_app", "--profile", str(profile), "sync", "--once"],
        cwd=REPO,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until(lambda: page_requests() >= 1)
        sandbox.faults[-1].times = 1  # the next listing request (page 2 or 3) hangs
        wait_until(lambda: sandbox.faults[-1].times == 0)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        assert process.stderr is not None
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    partial = stored_message_ids(profile)
    assert len(partial) == len(set(partial)) < 700
    ok(cli(profile, "sync", "--once"))
    ids = stored_message_ids(profile)
    assert sorted(ids) == sorted(sandbox_messages(sandbox))


def test_a_failing_account_does_not_stall_another(sandbox: MiraklSandbox, tmp_path: Path) -> None:
    profile = tmp_path / "p"
    thread = sandbox.add_thread(topic="Hola")
    sandbox.add_message(thread.id, "¿Hay stock?")
    with MiraklSandbox(operator_name="ManoMano") as broken:
        add_account(profile, sandbox, "Fnac ES")
        add_account(profile, broken, "ManoMano")
        broken.revoke_key()
        result = cli(profile, "sync", "--once")
    assert result.returncode == 1
    assert "ManoMano: ManoMano refused the key. Reconnect this account." in result.stderr
    assert [r["subject"] for r in listed(profile)] == ["Hola"]
    accounts = {a["name"]: a for a in json.loads(ok(cli(profile, "account", "list", "--json")))}
    assert accounts["ManoMano"]["settings"]["needs_reconnect"]
    assert "needs_reconnect" not in accounts["Fnac ES"]["settings"]
    text = ok(cli(profile, "account", "list"))
    assert "ManoMano\t" in text and "needs reconnecting: ManoMano refused the key" in text
