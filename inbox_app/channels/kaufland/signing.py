"""Kaufland's request signature: every call to the Seller API v2 carries three headers.

- ``Shop-Client-Key``: the client key from the seller portal;
- ``Shop-Timestamp``: the request time in whole Unix seconds;
- ``Shop-Signature``: hex HMAC-SHA256 with the secret key over ``METHOD\\nFULL_URL\\nBODY\\nTIMESTAMP``.

Kaufland rate-limits every seller to 111 requests per second across all endpoints (sellerapi.kaufland.com,
"Rate Limits"; over it: 429). :class:`KauflandAuth` also paces requests to ``max_per_second`` (the connector
uses 100) so a fast link or the loopback sandbox never runs into that limit.

The full URL is the one sent, query string included, exactly as it goes on the wire (a trailing ``/`` changes
the signature). The vendor publishes a test vector (sellerapi.kaufland.com, "Signing requests"):
``POST https://sellerapi.kaufland.com/v2/units/``, empty body, timestamp 1411055926, secret
``a7d0cb1d…05dd403`` → ``da0b65f5…bd9df2e2a``; ``tests/unit/test_kaufland_parse.py`` reproduces it.

:class:`KauflandAuth` is an ``httpx.Auth``: it signs each request when it is sent, so every retry gets a fresh
timestamp and a signature over what actually goes out.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import AsyncGenerator, Callable, Generator

import httpx

__all__ = ["KauflandAuth", "sign"]


def sign(secret_key: str, method: str, url: str, body: bytes | str, timestamp: int) -> str:
    """The ``Shop-Signature`` value for one request."""
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    message = "\n".join([method.upper(), url, text, str(timestamp)])
    return hmac.new(secret_key.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


class KauflandAuth(httpx.Auth):
    """Signs every request (and paces them, when used by the async client); the secret never leaves this
    object (its repr hides it)."""

    requires_request_body = True  # the body is part of the signature

    def __init__(
        self,
        client_key: str,
        secret_key: str,
        *,
        clock: Callable[[], float] = time.time,
        max_per_second: float | None = None,
    ) -> None:
        self._client_key = client_key
        self._secret_key = secret_key
        self._clock = clock
        self._interval = 1.0 / max_per_second if max_per_second else 0.0
        self._next_slot = 0.0

    def __repr__(self) -> str:
        return "KauflandAuth(client_key=[redacted], secret_key=[redacted])"

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        await request.aread()
        if self._interval:
            now = time.monotonic()
            wait = self._next_slot - now
            self._next_slot = max(now, self._next_slot) + self._interval
            if wait > 0:
                await asyncio.sleep(wait)
        yield self._sign(request)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        yield self._sign(request)

    def _sign(self, request: httpx.Request) -> httpx.Request:
        timestamp = int(self._clock())
        request.headers["Shop-Client-Key"] = self._client_key
        request.headers["Shop-Timestamp"] = str(timestamp)
        request.headers["Shop-Signature"] = sign(
            self._secret_key, request.method, str(request.url), request.content, timestamp
        )
        return request
