"""``services.marketplace_accounts`` over the real sandboxes on 127.0.0.1: test, save, stored form, reconnect,
eBay's code exchange and Allegro's device flow, tokens in the (test) keyring and never in the database."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inbox_app.services import marketplace_accounts as svc
from tests.servers.allegro import AllegroSandbox
from tests.servers.ebay import EbaySandbox
from tests.servers.kaufland import KauflandSandbox

pytestmark = pytest.mark.integration


@pytest.fixture
def ebay() -> Iterator[EbaySandbox]:
    with EbaySandbox() as sandbox:
        yield sandbox


@pytest.fixture
def allegro() -> Iterator[AllegroSandbox]:
    with AllegroSandbox(device_interval=1) as sandbox:
        yield sandbox


@pytest.fixture
def kaufland() -> Iterator[KauflandSandbox]:
    with KauflandSandbox() as sandbox:
        yield sandbox


def _db_bytes(profile: Any) -> bytes:
    return Path(profile.root / "inbox.sqlite3").read_bytes()


def _ebay_form(ebay: EbaySandbox, **changes: Any) -> svc.EbayForm:
    form = svc.EbayForm(
        name="eBay DE",
        username=ebay.seller,
        client_id=ebay.client_id,
        client_secret=ebay.client_secret,
        refresh_token=ebay.refresh_token,
        base_url=ebay.base_url,
        ru_name=ebay.ru_name,
    )
    return dataclasses.replace(form, **changes)


def test_ebay_test_save_and_stored_form(profile: Any, ebay: EbaySandbox) -> None:
    tested = asyncio.run(svc.test(_ebay_form(ebay)))
    assert isinstance(tested, svc.EbayForm) and tested.access_token  # the test's token is kept
    saved = svc.save(tested)
    assert (saved.kind, saved.name) == ("ebay", "eBay DE")
    stored = svc.stored_form(saved.id)
    assert stored == tested
    data = _db_bytes(profile)
    for secret in (ebay.client_secret, ebay.refresh_token, tested.access_token):
        assert secret.encode() not in data
    assert ebay.client_secret not in repr(stored) and ebay.refresh_token not in repr(stored)
    (state,) = svc.account_states()
    assert not state.needs_reconnect and state.reconnect_label == "Reconnect eBay"


def test_ebay_wrong_secret_and_revoked_token_are_named(profile: Any, ebay: EbaySandbox) -> None:
    with pytest.raises(svc.MarketplaceSetupError) as wrong:
        asyncio.run(svc.test(_ebay_form(ebay, client_secret="nope")))
    assert wrong.value.part is svc.FailedPart.KEY
    ebay.revoke_refresh_token()
    with pytest.raises(svc.MarketplaceSetupError) as revoked:
        asyncio.run(svc.test(_ebay_form(ebay)))
    assert "Reconnect eBay" in svc.setup_error_text(revoked.value)
    with pytest.raises(svc.MarketplaceSetupError) as nobody:
        asyncio.run(svc.test(_ebay_form(ebay, base_url="http://127.0.0.1:9")))
    assert nobody.value.part is svc.FailedPart.ADDRESS


def test_ebay_consent_url_and_code_exchange(profile: Any, ebay: EbaySandbox) -> None:
    form = _ebay_form(ebay, refresh_token="")
    url = svc.ebay_consent_url(form, state="s1")
    assert url.startswith("https://auth.ebay.com/oauth2/authorize?") and f"client_id={ebay.client_id}" in url
    assert "redirect_uri=Inbox_App-InboxApp-PRD-runame" in url and "state=s1" in url
    code = ebay.issue_code()
    pasted = f"https://signin.ebay.com/accepted?state=s1&code={code.replace('#', '%23').replace('^', '%5E')}"
    signed_in = asyncio.run(svc.ebay_exchange_code(form, pasted))
    assert signed_in.refresh_token and signed_in.access_token
    saved = svc.save(asyncio.run(svc.test(signed_in)))
    assert svc.stored_form(saved.id).refresh_token == signed_in.refresh_token
    with pytest.raises(svc.MarketplaceSetupError):  # a code works once
        asyncio.run(svc.ebay_exchange_code(form, code))


def test_kaufland_wrong_signature_is_key_refused(profile: Any, kaufland: KauflandSandbox) -> None:
    form = svc.KauflandForm("Kaufland", kaufland.client_key, "wrong-secret", kaufland.base_url)
    with pytest.raises(svc.MarketplaceSetupError) as refused:
        asyncio.run(svc.test(form))
    assert "key refused" in svc.setup_error_text(refused.value)
    good = dataclasses.replace(form, secret_key=kaufland.secret_key)
    saved = svc.save(asyncio.run(svc.test(good)))
    assert svc.stored_form(saved.id) == good
    assert kaufland.secret_key.encode() not in _db_bytes(profile)


def test_allegro_device_flow_then_rotated_token_is_stored(profile: Any, allegro: AllegroSandbox) -> None:
    form = svc.AllegroForm(
        "Allegro",
        allegro.client_id,
        allegro.client_secret,
        base_url=allegro.base_url,
        auth_url=allegro.base_url,
    )

    async def sign_in() -> svc.AllegroForm:
        steps = svc.allegro_device_flow(form)
        code = await anext(steps)
        assert isinstance(code, svc.AllegroDeviceCode)
        assert code.verification_uri.startswith("https://allegro.pl/") and code.seconds_left() > 3000
        allegro.approve(code.user_code)
        done = await anext(steps)
        assert isinstance(done, svc.AllegroSignedIn)
        await steps.aclose()
        return done.form

    signed_in = asyncio.run(sign_in())
    assert signed_in.refresh_token in allegro.refresh_tokens
    tested = asyncio.run(svc.test(signed_in))
    assert isinstance(tested, svc.AllegroForm) and tested.seller_login == allegro.seller_login
    saved = svc.save(tested)
    stored = svc.stored_form(saved.id)
    assert stored.refresh_token == tested.refresh_token and stored.refresh_token in allegro.refresh_tokens


def test_allegro_device_flow_denied_and_cancelled(profile: Any, allegro: AllegroSandbox) -> None:
    form = svc.AllegroForm(
        "Allegro",
        allegro.client_id,
        allegro.client_secret,
        base_url=allegro.base_url,
        auth_url=allegro.base_url,
    )

    async def denied() -> None:
        steps = svc.allegro_device_flow(form)
        code = await anext(steps)
        assert isinstance(code, svc.AllegroDeviceCode)
        allegro.deny(code.user_code)
        await anext(steps)

    with pytest.raises(svc.MarketplaceSetupError) as refused:
        asyncio.run(denied())
    assert "refused" in refused.value.user_message

    async def cancelled() -> int:
        steps = svc.allegro_device_flow(form)
        await anext(steps)
        waiting = asyncio.ensure_future(anext(steps))
        await asyncio.sleep(0.2)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        polls = len(allegro.requests_to("/auth/oauth/token", "POST"))
        await asyncio.sleep(1.5)
        return len(allegro.requests_to("/auth/oauth/token", "POST")) - polls

    assert asyncio.run(cancelled()) == 0  # nothing polls after the cancel


def test_reconnect_clears_the_state_and_mirakl_edit(profile: Any, ebay: EbaySandbox) -> None:
    from inbox_app.store.accounts import set_needs_reconnect

    saved = svc.save(asyncio.run(svc.test(_ebay_form(ebay))))
    set_needs_reconnect(saved.id, "eBay no longer accepts this connection. Reconnect eBay.")
    (state,) = svc.account_states()
    assert state.needs_reconnect and "Reconnect eBay" in state.message
    ebay.refresh_tokens.add("v^1.1#i^1#refresh-token-0002")
    form = svc.stored_form(saved.id)
    assert isinstance(form, svc.EbayForm)
    new = asyncio.run(svc.test(dataclasses.replace(form, refresh_token="v^1.1#i^1#refresh-token-0002")))
    svc.update(saved.id, new)
    (state,) = svc.account_states()
    assert not state.needs_reconnect
    assert svc.stored_form(saved.id).refresh_token == "v^1.1#i^1#refresh-token-0002"
    assert svc.find_account("ebay de") == svc.find_account(str(saved.id)) == saved
