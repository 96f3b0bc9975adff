"""HTTP plumbing shared by the marketplace channels: one client per account, retries, typed errors."""

from inbox_app.channels.http.client import (
    DEFAULT_TIMEOUT,
    ApiClient,
    check_base_url,
    decode_json,
    error_for_response,
    redact_headers,
    tls_context,
    vendor_message,
)
from inbox_app.channels.http.retry import RetryPolicy, parse_retry_after

__all__ = [
    "DEFAULT_TIMEOUT",
    "ApiClient",
    "RetryPolicy",
    "check_base_url",
    "decode_json",
    "error_for_response",
    "parse_retry_after",
    "redact_headers",
    "tls_context",
    "vendor_message",
]
