"""eBay Commerce Message API connector (buyer messages and eBay's own messages) with OAuth2 user tokens."""

from inbox_app.channels.ebay.auth import (
    AUTHORIZE_URL,
    MESSAGE_SCOPE,
    EbayReconnect,
    MemoryTokenStore,
    TokenManager,
    TokenStore,
    consent_url,
    exchange_code,
)
from inbox_app.channels.ebay.connector import EBAY_LIMITS, EbayChannel, EbaySettings
from inbox_app.channels.ebay.ratelimit import TokenBucket

__all__ = [
    "AUTHORIZE_URL",
    "EBAY_LIMITS",
    "MESSAGE_SCOPE",
    "EbayChannel",
    "EbayReconnect",
    "EbaySettings",
    "MemoryTokenStore",
    "TokenBucket",
    "TokenManager",
    "TokenStore",
    "consent_url",
    "exchange_code",
]
