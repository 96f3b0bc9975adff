"""Attachment limits per channel, checked when a file is dropped on the reply."""

from __future__ import annotations

from inbox_app.domain.channel_limits import MB, RefusalReason, check_attachments, limits_for


def test_ebay_refuses_every_upload() -> None:
    check = check_attachments("ebay", [], [("photo.jpg", 200_000)])
    assert check.accepted == ()
    assert [r.reason for r in check.refused] == [RefusalReason.NO_UPLOAD]
    assert limits_for("eBay").max_links == 5


def test_amazon_counts_the_whole_message() -> None:
    check = check_attachments("amazon", [("invoice.pdf", 6 * MB)], [("a.jpg", 5 * MB), ("b.jpg", 3 * MB)])
    assert check.accepted == (("b.jpg", 3 * MB),)
    (refusal,) = check.refused
    assert refusal.name == "a.jpg"
    assert refusal.reason is RefusalReason.TOTAL_TOO_BIG
    assert refusal.limit == 10 * MB


def test_single_file_limit_and_empty_file() -> None:
    check = check_attachments("kaufland", [], [("big.zip", 11 * MB), ("empty.txt", 0), ("ok.pdf", MB)])
    assert check.accepted == (("ok.pdf", MB),)
    assert [r.reason for r in check.refused] == [RefusalReason.FILE_TOO_BIG, RefusalReason.EMPTY]


def test_mirakl_file_count() -> None:
    existing = [(f"f{i}.pdf", 1000) for i in range(10)]
    check = check_attachments("mirakl", existing, [("one-more.pdf", 1000)])
    assert check.refused[0].reason is RefusalReason.TOO_MANY
    assert check.refused[0].limit == 10


def test_every_channel_has_limits_between_10_and_25_mb_or_no_upload() -> None:
    for kind in ("amazon", "mirakl", "kaufland", "email", "allegro"):
        total = limits_for(kind).max_total_bytes
        assert total is not None and 10 * MB <= total <= 25 * MB
    assert not limits_for("ebay").uploads
    assert limits_for("telepathy").max_total_bytes == 10 * MB
