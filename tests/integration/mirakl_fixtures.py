"""Fixtures for the Mirakl channel tests: a fresh sandbox per test on 127.0.0.1 and settings that reach it.

Loaded by the test modules that need it (``pytest_plugins``), so the shared ``conftest.py`` stays untouched.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from inbox_app.channels.mirakl import MiraklSettings
from tests.servers.mirakl import MiraklSandbox


@pytest.fixture
def mirakl_sandbox() -> Iterator[MiraklSandbox]:
    with MiraklSandbox(other_shop_ids=("2002",)) as sandbox:
        yield sandbox


@pytest.fixture
def mirakl_settings(mirakl_sandbox: MiraklSandbox) -> MiraklSettings:
    return MiraklSettings(
        base_url=mirakl_sandbox.base_url,
        api_key=mirakl_sandbox.api_key,
        shop_id=mirakl_sandbox.shop_id,
        operator_name=mirakl_sandbox.operator_name,
    )
