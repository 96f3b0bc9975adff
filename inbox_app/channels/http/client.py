"""One long-lived HTTP client per marketplace account, and the mapping of HTTP failures to channel errors.

Why one client per account: connection reuse (TLS handshakes cost more than the small JSON pages) and one
place that sets what every request must have: explicit timeouts, verified TLS, the account's credentials,
bounded retries, and logs that never show a secret.

Retry rules (``retry_safe``): a request that cannot change anything on the server (GET, or any request that
provably never left this machine) is retried on timeouts, dropped connections, 5xx, 429 and unreadable JSON.
A request that may have changed something (a reply's POST) is retried only when it cannot have reached the
vendor (connection refused, 429); any other failure is raised with ``maybe_delivered`` so the outbox looks the
reply up instead of sending it twice.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import random
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from inbox_app.channels.base import (
    AuthFailed,
    BadConfiguration,
    CertificateInvalid,
    ChannelError,
    RateLimited,
    RejectedInput,
    RemoteNotFound,
    TemporarilyUnavailable,
    UnreadableAnswer,
)
from inbox_app.channels.http.retry import RetryPolicy, parse_retry_after
from inbox_app.i18n import _

__all__ = [
    "DEFAULT_TIMEOUT",
    "SECRET_HEADERS",
    "ApiClient",
    "check_base_url",
    "decode_json",
    "error_for_response",
    "redact_headers",
    "tls_context",
    "vendor_message",
]

log = logging.getLogger("inbox_app.channels.http")

DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=30.0, write=30.0, pool=10.0)

#: Header names whose values are credentials (compared case-insensitively); logs show "[redacted]".
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key", "shop-signature"}
)
_PARSED = "inbox_app.parsed_json"  # where request(expect_json=True) leaves the decoded body
_RAW_KEEP = 64 * 1024  # bytes of an unreadable answer kept on the error (for the log and support)

JsonValue = Any  # what json.loads returns; checked field by field by the channel's parser

Classifier = Callable[[httpx.Response], ChannelError | None]


def tls_context() -> ssl.SSLContext:
    """A verifying client context: the system's CAs (and ``SSL_CERT_FILE``), host names checked, TLS ≥ 1.2."""
    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether ``kind`` is in the exception's chain (httpx wraps the socket's and ssl's own errors)."""
    seen: BaseException | None = exc
    for _depth in range(10):
        if seen is None:
            return False
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _certificate_failure(exc: BaseException) -> bool:
    """Whether a connection failed because the server's certificate was refused (not worth retrying)."""
    return _caused_by(exc, ssl.SSLCertVerificationError)


def _is_loopback(host: str) -> bool:
    if host.casefold() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: str, service: str) -> str:
    """The base URL without a trailing slash, or :class:`BadConfiguration` naming what is wrong.

    Plain ``http://`` is accepted only for this computer (the test sandboxes): the key would otherwise cross
    the network in clear text.
    """
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise BadConfiguration(
            _("“{url}” is not a web address. It should look like https://example.mirakl.net").format(
                url=base_url
            ),
            detail=f"{service}: bad base URL",
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise BadConfiguration(
            _("{service} must be reached over HTTPS: use an address that starts with https://").format(
                service=service
            ),
            detail="plain http to a remote host refused",
        )
    return base_url.strip().rstrip("/")


def redact_headers(headers: Mapping[str, str] | httpx.Headers) -> dict[str, str]:
    return {k: ("[redacted]" if k.casefold() in SECRET_HEADERS else v) for k, v in headers.items()}


def decode_json(response: httpx.Response, service: str) -> JsonValue:
    """The response's JSON, or :class:`UnreadableAnswer` keeping the raw body when it is not JSON."""
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnreadableAnswer(
            service,
            detail=f"{response.request.method} {response.request.url.path}: unreadable JSON ({exc})",
            raw_body=response.content[:_RAW_KEEP],
            message=_("{service} sent an answer that could not be read. It will be tried again.").format(
                service=service
            ),
        ) from exc


def vendor_message(response: httpx.Response) -> str:
    """The vendor's explanation in an error answer: ``message`` (Mirakl, Kaufland), ``errors[].message``
    (eBay), ``error_description`` (OAuth), else the start of the text."""
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return response.content[:500].decode("utf-8", "replace").strip()
    if isinstance(body, dict):
        for key in ("message", "error_description", "userMessage", "detail"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
        errors = body.get("errors")
        if isinstance(errors, list):
            texts = [
                str(e.get("message") or e.get("longMessage") or "")
                for e in errors
                if isinstance(e, dict) and (e.get("message") or e.get("longMessage"))
            ]
            if texts:
                return "; ".join(texts)
        error = body.get("error")
        if isinstance(error, str):
            return error
    return ""


def error_for_response(
    response: httpx.Response, service: str, *, policy: RetryPolicy, attempt: int, rng: random.Random
) -> ChannelError:
    """The channel error for a non-2xx answer."""
    status = response.status_code
    where = f"{response.request.method} {response.request.url.path} → HTTP {status}"
    if status == 401 or status == 403:
        return AuthFailed(service, detail=f"{where}: {vendor_message(response)[:200]}")
    if status == 404:
        return RemoteNotFound(service, _("this item"), detail=where)
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    if status == 429:
        wait = retry_after if retry_after is not None else policy.backoff(attempt, rng)
        return RateLimited(service, wait, detail=where)
    if status >= 500 or status == 408:
        return TemporarilyUnavailable(
            service, detail=where, retry_after=retry_after, raw_body=response.content[:_RAW_KEEP]
        )
    return RejectedInput(service, vendor_message(response), status=status, detail=where)


class ApiClient:
    """An ``httpx.AsyncClient`` for one account with retries and typed errors.

    ``auth_headers`` are sent with every request and never logged. ``classify`` lets a channel map some
    answers its own way before the generic mapping (e.g. Mirakl's 403 for a shop the key cannot access).
    ``requests_sent`` counts every attempt (benchmarks report it).
    """

    def __init__(
        self,
        base_url: str,
        *,
        service: str,
        auth_headers: Mapping[str, str],
        params: Mapping[str, str] | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        classify: Classifier | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        user_agent: str = "inbox-app/0.1",
    ) -> None:
        self.service = service
        self.base_url = check_base_url(base_url, service)
        self.retry = retry or RetryPolicy()
        self._classify = classify
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._params = dict(params or {})
        self.requests_sent = 0
        headers = {"User-Agent": user_agent, **auth_headers}
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=timeout,
            verify=tls_context(),
            transport=transport,
            follow_redirects=False,  # a redirect would carry the key elsewhere
        )

    @property
    def is_closed(self) -> bool:
        return self._client.is_closed

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get_json(self, path: str, *, params: Mapping[str, str] | None = None) -> JsonValue:
        response = await self.request("GET", path, params=params, expect_json=True)
        return response.extensions[_PARSED]

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        files: Sequence[tuple[str, tuple[str | None, bytes, str]]] | None = None,
        headers: Mapping[str, str] | None = None,
        retry_safe: bool | None = None,
        expect_json: bool = False,
        content: bytes | None = None,
    ) -> httpx.Response:
        """Send one request, retrying as the policy and ``retry_safe`` allow; a 2xx response or an error.

        ``retry_safe`` defaults to True for GET/HEAD and False otherwise. With ``expect_json`` a 2xx answer
        that is not JSON counts as a failure and is retried like a 5xx (retry-safe requests only); the decoded
        body is then in ``response.extensions["inbox_app.parsed_json"]`` (:meth:`get_json` returns it).
        ``content`` is a raw body (JSON already encoded, or a file's bytes) sent with the caller's Content-Type.
        """
        safe = method.upper() in ("GET", "HEAD") if retry_safe is None else retry_safe
        merged = {**self._params, **(params or {})}
        attempt = 0
        while True:
            attempt += 1
            error, may_retry = await self._attempt(
                method, path, merged, data, files, headers, safe, expect_json, attempt, content
            )
            if isinstance(error, httpx.Response):
                return error
            if not may_retry or attempt >= self.retry.max_attempts:
                raise error
            if error.retry_after is not None:
                if error.retry_after > self.retry.max_wait:
                    raise error
                delay = self.retry.honour(error.retry_after, self._rng)
            else:
                delay = self.retry.backoff(attempt, self._rng)
            log.info(
                "%s %s failed (%s); attempt %d of %d in %.2f s",
                method,
                path,
                error.detail or type(error).__name__,
                attempt + 1,
                self.retry.max_attempts,
                delay,
            )
            await self._sleep(delay)

    async def _attempt(
        self,
        method: str,
        path: str,
        params: Mapping[str, str],
        data: Mapping[str, str] | None,
        files: Sequence[tuple[str, tuple[str | None, bytes, str]]] | None,
        headers: Mapping[str, str] | None,
        safe: bool,
        expect_json: bool,
        attempt: int,
        content: bytes | None = None,
    ) -> tuple[httpx.Response | ChannelError, bool]:
        """One try: the response when it succeeded, else (error, may this be retried)."""
        self.requests_sent += 1
        started = time.monotonic()
        try:
            response = await self._client.request(
                method,
                path,
                params=params or None,
                data=data,
                files=list(files) if files else None,
                headers=headers,
                content=content,
            )
        except httpx.ConnectError as exc:
            if _certificate_failure(exc):
                host = urlsplit(self.base_url).hostname or self.base_url
                return CertificateInvalid(host, detail=f"{method} {path}: {exc!r}"), False
            log.debug("%s %s: no connection (%r)", method, path, exc)
            host = urlsplit(self.base_url).hostname or self.base_url
            message = (
                _("The address {host} could not be found. Check the address, or the network.").format(
                    host=host
                )
                if _caused_by(exc, socket.gaierror)
                else None
            )
            return TemporarilyUnavailable(
                self.service, detail=f"{method} {path}: {exc!r}", message=message
            ), True
        except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Nothing reached the vendor: any request may be tried again.
            log.debug("%s %s: no connection (%r)", method, path, exc)
            host = urlsplit(self.base_url).hostname or self.base_url
            message = (
                _("The address {host} could not be found. Check the address, or the network.").format(
                    host=host
                )
                if _caused_by(exc, socket.gaierror)
                else None
            )
            return TemporarilyUnavailable(
                self.service, detail=f"{method} {path}: {exc!r}", message=message
            ), True
        except httpx.TimeoutException as exc:
            log.debug("%s %s: timed out after %.2f s (%r)", method, path, time.monotonic() - started, exc)
            return (
                TemporarilyUnavailable(
                    self.service,
                    detail=f"{method} {path}: timed out ({type(exc).__name__})",
                    maybe_delivered=not safe,
                    message=_("{service} did not answer in time. It will be tried again.").format(
                        service=self.service
                    ),
                ),
                safe,
            )
        except httpx.TransportError as exc:  # dropped connection, protocol violation, read/write error
            log.debug("%s %s: connection broke (%r)", method, path, exc)
            return (
                TemporarilyUnavailable(
                    self.service,
                    detail=f"{method} {path}: connection broke ({exc!r})",
                    maybe_delivered=not safe,
                    message=_("The connection to {service} broke off. It will be tried again.").format(
                        service=self.service
                    ),
                ),
                safe,
            )
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s %s → %d in %.3f s; request headers %s",
                method,
                response.request.url.path,
                response.status_code,
                time.monotonic() - started,
                redact_headers(response.request.headers),
            )
        if response.is_success:
            if expect_json:
                try:
                    response.extensions[_PARSED] = decode_json(response, self.service)
                except TemporarilyUnavailable as exc:
                    return exc, safe
            return response, False
        error = (self._classify(response) if self._classify else None) or error_for_response(
            response, self.service, policy=self.retry, attempt=attempt, rng=self._rng
        )
        if isinstance(error, RateLimited):
            return error, True  # refused before any processing: safe to try again even for a POST
        if isinstance(error, TemporarilyUnavailable):
            if not safe:
                error.maybe_delivered = True
            return error, safe
        return error, False
