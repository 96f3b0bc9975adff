"""An empty required field refused by the service (``FailedPart.INPUT``) is said as such in the account dialog
and its field is marked: not "Connection test failed (service unavailable)" (nothing was tried)."""

from __future__ import annotations

import asyncio

import pytest

from inbox_app.services import marketplace_accounts as svc
from inbox_app.ui.marketplace_dialog import MarketplaceAccountDialog


def _dialog(qtbot, kind: str) -> MarketplaceAccountDialog:  # type: ignore[no-untyped-def]
    dialog = MarketplaceAccountDialog(None)
    qtbot.addWidget(dialog)
    dialog.kind_combo.setCurrentIndex(dialog.kind_combo.findData(kind))
    dialog.show()
    return dialog


def test_an_empty_field_named_by_the_service_is_marked_with_its_own_message(qtbot) -> None:  # type: ignore[no-untyped-def]
    dialog = _dialog(qtbot, "ebay")
    # what svc.test raises for an eBay form without the seller's user name
    dialog._test_failed(
        svc.MarketplaceSetupError(svc.FailedPart.INPUT, "Enter your eBay user name.", "username")
    )
    assert dialog.message_label.text() == "Enter your eBay user name."
    assert dialog.highlighted_field() == "username"
    assert dialog.test_button.isEnabled() and not dialog.save_button.isEnabled()


def test_an_empty_field_without_a_name_marks_the_account_name(qtbot) -> None:  # type: ignore[no-untyped-def]
    dialog = _dialog(qtbot, "mirakl")
    dialog._test_failed(svc.MarketplaceSetupError(svc.FailedPart.INPUT, "The account needs a name."))
    assert dialog.message_label.text() == "The account needs a name."
    assert "unavailable" not in dialog.message_label.text()
    assert dialog.highlighted_field() == "name"


def test_the_service_names_the_empty_field() -> None:
    form = svc.EbayForm(
        name="eBay DE", username=" ", client_id="id", client_secret="secret", refresh_token="token"
    )
    with pytest.raises(svc.MarketplaceSetupError) as empty:
        asyncio.run(svc.test(form))  # refused before any request
    assert (empty.value.part, empty.value.field) == (svc.FailedPart.INPUT, "username")
    assert svc.setup_error_text(empty.value) == "Enter your eBay user name."
