"""``account edit ID`` of a Mirakl account, as a subprocess of the real entry point against two Mirakl sandboxes:
name, base URL, API key and shop id change only after the connection test passed; a key saved for the old
address is never sent to a new one; a revoked key fixed by ``--api-key-env`` clears "needs reconnecting"."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.mirakl_app_helpers import KEY_ENV, add_account, cli, listed, ok
from tests.servers.mirakl import MiraklSandbox

pytestmark = pytest.mark.integration


@pytest.fixture
def sandbox() -> Iterator[MiraklSandbox]:
    with MiraklSandbox(other_shop_ids=("2002",)) as server:
        yield server


def _account(profile: Path) -> dict[str, object]:
    (info,) = json.loads(ok(cli(profile, "account", "list", "--json")))
    assert isinstance(info, dict)
    return info


def test_edit_is_tested_before_saving(sandbox: MiraklSandbox, tmp_path: Path) -> None:
    profile = tmp_path / "p"
    account_id = add_account(profile, sandbox)
    wrong_shop = cli(profile, "account", "edit", str(account_id), "--shop-id", "9999")
    assert wrong_shop.returncode == 1 and "shop id unknown" in wrong_shop.stderr
    assert _account(profile)["settings"]["shop_id"] == sandbox.shop_id  # type: ignore[index]

    ok(cli(profile, "account", "edit", str(account_id), "--name", "Fnac FR", "--shop-id", "2002"))
    info = _account(profile)
    assert info["name"] == "Fnac FR" and info["settings"]["shop_id"] == "2002"  # type: ignore[index]

    mail_only = cli(profile, "account", "edit", str(account_id), "--imap-host", "x.example")
    assert mail_only.returncode == 1 and "only for mail accounts" in mail_only.stderr


def test_a_new_address_needs_the_key_again(sandbox: MiraklSandbox, tmp_path: Path) -> None:
    profile = tmp_path / "p"
    account_id = add_account(profile, sandbox)
    with MiraklSandbox(operator_name="Fnac ES") as moved:
        moved.generate(2, 1)
        without_key = cli(profile, "account", "edit", str(account_id), "--base-url", moved.base_url)
        assert without_key.returncode == 1 and "--api-key-env" in without_key.stderr
        assert moved.requests_to("/api") == []  # the old key was not sent to the new address

        def move_with_key(key: str, *more: str) -> subprocess.CompletedProcess[str]:
            """``account edit`` to the new address, with ``key`` in the API key's environment variable."""
            edit = (
                "account",
                "edit",
                str(account_id),
                "--base-url",
                moved.base_url,
                "--api-key-env",
                KEY_ENV,
            )
            return cli(profile, *edit, *more, key=key)

        wrong_key = move_with_key("wrong")
        assert wrong_key.returncode == 1 and "key refused" in wrong_key.stderr
        assert _account(profile)["settings"]["base_url"] == sandbox.base_url  # type: ignore[index]
        ok(move_with_key(moved.api_key, "--shop-id", moved.shop_id))
        ok(cli(profile, "sync", "--once"))
        assert len(listed(profile)) == 2


def test_revoked_key_then_new_key_by_edit_and_by_reconnect(sandbox: MiraklSandbox, tmp_path: Path) -> None:
    profile = tmp_path / "p"
    thread = sandbox.add_thread(topic="Hola")
    sandbox.add_message(thread.id, "¿Hay stock?")
    account_id = add_account(profile, sandbox)
    sandbox.revoke_key()
    assert cli(profile, "sync", "--once").returncode == 1
    assert _account(profile)["settings"]["needs_reconnect"]  # type: ignore[index]
    # The seller generates a new key in the operator's back office: the old one stays refused.
    sandbox.api_key, sandbox.revoked = "shop-key-NEW-0001", False
    new_key = sandbox.api_key
    ok(cli(profile, "account", "reconnect", "Fnac ES", "--api-key-env", KEY_ENV, key=new_key))
    assert "needs_reconnect" not in _account(profile)["settings"]  # type: ignore[operator]
    ok(cli(profile, "sync", "--once"))
    assert [r["subject"] for r in listed(profile)] == ["Hola"]
    ok(cli(profile, "account", "edit", str(account_id), "--api-key-env", KEY_ENV, key=new_key))
