"""Fixtures for the eBay channel tests: a fresh sandbox per test on 127.0.0.1, settings and a token store.

Loaded by the test modules that need it (``pytest_plugins``), so the shared ``conftest.py`` stays untouched.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from inbox_app.channels.ebay import EbaySettings, MemoryTokenStore
from tests.servers.ebay import EbaySandbox


@pytest.fixture
def ebay_sandbox() -> Iterator[EbaySandbox]:
    with EbaySandbox() as sandbox:
        yield sandbox


@pytest.fixture
def ebay_settings(ebay_sandbox: EbaySandbox) -> EbaySettings:
    return EbaySettings(
        username=ebay_sandbox.seller.upper(),  # eBay user names compare case-insensitively
        client_id=ebay_sandbox.client_id,
        client_secret=ebay_sandbox.client_secret,
        base_url=ebay_sandbox.base_url,
        rate_per_second=1000.0,
        burst=1000,
    )


@pytest.fixture
def ebay_tokens(ebay_sandbox: EbaySandbox) -> MemoryTokenStore:
    return MemoryTokenStore(ebay_sandbox.refresh_token)
