"""Fixtures for the Kaufland channel tests: a fresh signed-API sandbox per test on 127.0.0.1 and settings
that reach it. Loaded through ``pytest_plugins`` so the shared ``conftest.py`` stays untouched."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from inbox_app.channels.kaufland import KauflandSettings
from tests.servers.kaufland import KauflandSandbox


@pytest.fixture
def kaufland_sandbox() -> Iterator[KauflandSandbox]:
    with KauflandSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def kaufland_settings(kaufland_sandbox: KauflandSandbox) -> KauflandSettings:
    return KauflandSettings(
        client_key=kaufland_sandbox.client_key,
        secret_key=kaufland_sandbox.secret_key,
        base_url=kaufland_sandbox.base_url,
    )
