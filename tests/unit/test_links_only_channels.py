"""eBay takes files only as HTTPS links: a reply carrying files is refused by the one body check every way into
the outbox runs (editor, ``reply``, the outbox itself), with a sentence that says what to do instead."""

from __future__ import annotations

import pytest

from inbox_app import i18n
from inbox_app.domain.channel_limits import BodyProblem, body_problem_message, check_body, links_only_note
from inbox_app.store.outbox import QueueRefused, check_body_queueable


@pytest.fixture(autouse=True)
def english() -> None:
    i18n.setup("en")


def test_files_on_ebay_are_refused_and_text_alone_is_fine() -> None:
    assert check_body("ebay", "See https://example.com/invoice.pdf") is None
    assert check_body("ebay", "Invoice attached", [12_000]) == (BodyProblem.FILES_NOT_ACCEPTED, 0)
    assert check_body("mirakl", "Invoice attached", [12_000]) is None


def test_the_outbox_refuses_an_ebay_reply_with_files_before_writing_a_row() -> None:
    with pytest.raises(QueueRefused) as refused:
        check_body_queueable("ebay", "Invoice attached", [{"name": "invoice.pdf", "size": 12_000}])
    assert refused.value.user_message.startswith("eBay accepts files only as HTTPS links")
    assert "https://" in refused.value.user_message


def test_the_note_and_the_refusal_name_the_channel() -> None:
    assert links_only_note("eBay") == "eBay accepts files only as HTTPS links."
    assert "eBay" in body_problem_message("eBay", BodyProblem.FILES_NOT_ACCEPTED, 0, 5)
