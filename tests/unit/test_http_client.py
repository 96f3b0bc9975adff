"""The shared HTTP client's retry rules and error mapping, driven through ``httpx.MockTransport``.

The real-socket behaviour (timeouts, dropped connections, the Mirakl sandbox) is covered in
``tests/integration/test_mirakl_channel.py``; here each rule is pinned down one at a time.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import ssl
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from inbox_app.channels.base import (
    AuthFailed,
    BadConfiguration,
    RateLimited,
    RejectedInput,
    RemoteNotFound,
    TemporarilyUnavailable,
)
from inbox_app.channels.http import (
    ApiClient,
    RetryPolicy,
    check_base_url,
    parse_retry_after,
    redact_headers,
    tls_context,
)

KEY = "secret-shop-key-42"
Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    def __init__(self, *responses: httpx.Response | Exception) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def call(
    recorder: Handler,
    method: str = "GET",
    *,
    policy: RetryPolicy | None = None,
    expect_json: bool = True,
    sleeps: list[float] | None = None,
) -> httpx.Response:
    waits = sleeps if sleeps is not None else []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def main() -> httpx.Response:
        client = ApiClient(
            "https://shop.example.net",
            service="Fnac ES",
            auth_headers={"Authorization": KEY},
            params={"shop_id": "7"},
            retry=policy or RetryPolicy(max_attempts=4, base_delay=1.0, max_delay=8.0, max_wait=60.0),
            transport=httpx.MockTransport(recorder),
            sleep=sleep,
            rng=random.Random(7),
        )
        try:
            return await client.request(method, "/api/x", expect_json=expect_json and method == "GET")
        finally:
            await client.aclose()

    return asyncio.run(main())


def json_response(status: int, body: object = None, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body if body is not None else {"data": []}, headers=headers)


# -- Retry-After and backoff ------------------------------------------------------------------------------


def test_retry_after_in_seconds_and_as_an_http_date() -> None:
    now = datetime(2026, 12, 5, 9, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("Sat, 05 Dec 2026 09:00:30 GMT", now=lambda: now) == 30
    assert parse_retry_after("Sat, 05 Dec 2026 08:00:00 GMT", now=lambda: now) == 0  # in the past: now
    assert parse_retry_after("-5") == 0
    for unreadable in (None, "", "soon", "nan", "inf"):
        assert parse_retry_after(unreadable) is None


@given(st.integers(min_value=1, max_value=30), st.integers(min_value=0, max_value=2**32))
def test_backoff_stays_within_the_exponential_ceiling(attempt: int, seed: int) -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=20.0)
    wait = policy.backoff(attempt, random.Random(seed))
    assert 0 <= wait <= min(20.0, 0.5 * 2 ** (attempt - 1))


def test_backoff_is_jittered() -> None:
    rng = random.Random(1)
    waits = {round(RetryPolicy().backoff(5, rng), 6) for _ in range(20)}
    assert len(waits) > 10


# -- retries ------------------------------------------------------------------------------------------------


def test_5xx_on_a_get_is_retried_with_growing_backoff() -> None:
    recorder = Recorder(json_response(503), json_response(502), json_response(200))
    sleeps: list[float] = []
    response = call(recorder, sleeps=sleeps)
    assert response.status_code == 200 and len(recorder.requests) == 3
    assert len(sleeps) == 2 and sleeps[0] <= 1.0 and sleeps[1] <= 2.0


def test_retry_after_on_503_is_honoured_not_shortened() -> None:
    recorder = Recorder(json_response(503, headers={"Retry-After": "7"}), json_response(200))
    sleeps: list[float] = []
    call(recorder, sleeps=sleeps)
    assert 7 <= sleeps[0] <= 7.7


def test_attempts_are_bounded() -> None:
    recorder = Recorder(json_response(500))
    with pytest.raises(TemporarilyUnavailable):
        call(recorder, policy=RetryPolicy(max_attempts=3, base_delay=0.1))
    assert len(recorder.requests) == 3


def test_a_429_without_retry_after_backs_off_and_a_long_one_is_handed_up() -> None:
    recorder = Recorder(json_response(429), json_response(200))
    sleeps: list[float] = []
    call(recorder, sleeps=sleeps)
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 1.1

    recorder = Recorder(json_response(429), json_response(429), json_response(429), json_response(200))
    sleeps = []
    call(recorder, sleeps=sleeps, policy=RetryPolicy(max_attempts=4, base_delay=1.0, max_delay=100.0))
    assert len(sleeps) == 3 and max(sleeps) > 1.0  # the ceiling grows with each attempt (1, 2, 4 s)

    recorder = Recorder(json_response(429, headers={"Retry-After": "600"}))
    with pytest.raises(RateLimited) as limited:
        call(recorder)
    assert limited.value.retry_after == 600 and len(recorder.requests) == 1


def test_a_post_is_not_retried_once_it_may_have_reached_the_server() -> None:
    for failure in (json_response(500), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("dropped")):
        recorder = Recorder(failure, json_response(201, {"message_id": "m1"}))
        with pytest.raises(TemporarilyUnavailable) as unknown:
            call(recorder, "POST")
        assert unknown.value.maybe_delivered, failure
        assert len(recorder.requests) == 1


def test_a_post_is_retried_when_it_cannot_have_reached_the_server() -> None:
    for failure in (httpx.ConnectError("refused"), json_response(429, headers={"Retry-After": "1"})):
        recorder = Recorder(failure, json_response(201, {"message_id": "m1"}))
        assert call(recorder, "POST").status_code == 201
        assert len(recorder.requests) == 2


def test_malformed_json_is_retried_for_a_get_and_the_raw_body_is_kept() -> None:
    recorder = Recorder(httpx.Response(200, content=b"<html>maintenance</html>"))
    with pytest.raises(TemporarilyUnavailable) as unreadable:
        call(recorder, policy=RetryPolicy(max_attempts=2, base_delay=0.1))
    assert unreadable.value.raw_body == b"<html>maintenance</html>"
    assert len(recorder.requests) == 2


def test_an_address_that_does_not_resolve_is_named_and_retried() -> None:
    def unresolvable(request: httpx.Request) -> httpx.Response:
        try:
            raise socket.gaierror(-2, "Name or service not known")
        except socket.gaierror as exc:
            raise httpx.ConnectError("[Errno -2] Name or service not known", request=request) from exc

    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return unresolvable(request)

    with pytest.raises(TemporarilyUnavailable) as failed:
        call(handler, policy=RetryPolicy(max_attempts=2, base_delay=0.1))
    assert "The address shop.example.net could not be found" in failed.value.user_message
    assert len(calls) == 2


# -- error mapping ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, AuthFailed),
        (403, AuthFailed),
        (404, RemoteNotFound),
        (400, RejectedInput),
        (413, RejectedInput),
        (422, RejectedInput),
    ],
)
def test_client_errors_are_typed_and_not_retried(status: int, error: type[Exception]) -> None:
    recorder = Recorder(json_response(status, {"status": status, "message": "Nope: field x"}))
    with pytest.raises(error) as raised:
        call(recorder)
    assert len(recorder.requests) == 1
    if isinstance(raised.value, RejectedInput):
        assert raised.value.vendor_message == "Nope: field x" and raised.value.status == status


def test_vendor_messages_in_other_error_shapes() -> None:
    shapes = [
        {"errors": [{"errorId": 1001, "message": "Invalid token"}]},
        {"error": "invalid_request", "error_description": "Bad code"},
    ]
    expected = ["Invalid token", "Bad code"]
    for body, text in zip(shapes, expected, strict=True):
        with pytest.raises(RejectedInput) as refused:
            call(Recorder(json_response(400, body)))
        assert refused.value.vendor_message == text
    with pytest.raises(RejectedInput) as plain:
        call(Recorder(httpx.Response(400, content=b"plain text reason")))
    assert plain.value.vendor_message == "plain text reason"


# -- what every request carries -----------------------------------------------------------------------------


def test_requests_carry_the_key_and_account_params_and_logs_never_show_the_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = Recorder(json_response(503), json_response(200))
    with caplog.at_level(logging.DEBUG, logger="inbox_app.channels.http"):
        call(recorder)
    request = recorder.requests[0]
    assert request.headers["Authorization"] == KEY
    assert request.url.params["shop_id"] == "7"
    assert request.extensions["timeout"] == {"connect": 10.0, "read": 30.0, "write": 30.0, "pool": 10.0}
    assert caplog.records and all(KEY not in r.getMessage() for r in caplog.records)
    assert any("[redacted]" in r.getMessage() for r in caplog.records)
    assert redact_headers({"Authorization": KEY, "Accept": "x"}) == {
        "Authorization": "[redacted]",
        "Accept": "x",
    }


def test_the_tls_context_verifies_certificates_and_host_names() -> None:
    context = tls_context()
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2


def test_a_redirect_is_not_followed_so_the_key_stays_with_the_vendor() -> None:
    recorder = Recorder(httpx.Response(302, headers={"Location": "https://elsewhere.example/steal"}))
    with pytest.raises(RejectedInput):
        call(recorder)
    assert [str(r.url.host) for r in recorder.requests] == ["shop.example.net"]


def test_plain_http_only_reaches_this_computer() -> None:
    assert check_base_url("http://127.0.0.1:8080/", "X") == "http://127.0.0.1:8080"
    assert check_base_url("http://localhost:1", "X") == "http://localhost:1"
    assert check_base_url("https://fnac.mirakl.net", "X") == "https://fnac.mirakl.net"
    for bad in ("http://fnac.mirakl.net", "fnac.mirakl.net", "ftp://x.example", "https://"):
        with pytest.raises(BadConfiguration):
            check_base_url(bad, "X")


def test_a_wait_is_never_shorter_than_retry_after() -> None:
    rng = random.Random(3)
    policy = RetryPolicy()
    assert all(5.0 <= policy.honour(5.0, rng) <= 5.5 for _ in range(50))
    assert timedelta(seconds=policy.honour(0.0, rng)) == timedelta(0)
