"""Fixtures for the Allegro channel tests: a fresh sandbox per test on 127.0.0.1, settings that reach it (the
API and the sign-in endpoints on the same loopback server) and a token store holding a signed-in account.

Loaded by the test modules that need it (``pytest_plugins``), so the shared ``conftest.py`` stays untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from inbox_app.channels.allegro import AllegroSettings, MemoryTokenStore, OAuthTokens
from tests.servers.allegro import AllegroSandbox


@pytest.fixture
def allegro_sandbox() -> Iterator[AllegroSandbox]:
    with AllegroSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def allegro_settings(allegro_sandbox: AllegroSandbox) -> AllegroSettings:
    return AllegroSettings(
        client_id=allegro_sandbox.client_id,
        client_secret=allegro_sandbox.client_secret,
        base_url=allegro_sandbox.base_url,
        auth_url=allegro_sandbox.base_url,
    )


@pytest.fixture
def allegro_tokens(allegro_sandbox: AllegroSandbox) -> MemoryTokenStore:
    """An account signed in a moment ago (tokens as the device flow left them)."""
    issued = allegro_sandbox.issue_tokens()
    return MemoryTokenStore(
        OAuthTokens(
            issued["access_token"],
            issued["refresh_token"],
            datetime.now(UTC) + timedelta(seconds=int(issued["expires_in"])),
        )
    )
