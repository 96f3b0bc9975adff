"""Allegro message-center connector: OAuth2 device flow, threads and messages, replies with attachments."""

from inbox_app.channels.allegro.auth import (
    AllegroAuth,
    DeviceAuthorization,
    DeviceFlowDenied,
    DeviceFlowExpired,
    MemoryTokenStore,
    OAuthTokens,
    ReconnectAllegro,
    TokenStore,
)
from inbox_app.channels.allegro.connector import ALLEGRO_LIMITS, MEDIA_TYPE, AllegroChannel, AllegroSettings

__all__ = [
    "ALLEGRO_LIMITS",
    "MEDIA_TYPE",
    "AllegroAuth",
    "AllegroChannel",
    "AllegroSettings",
    "DeviceAuthorization",
    "DeviceFlowDenied",
    "DeviceFlowExpired",
    "MemoryTokenStore",
    "OAuthTokens",
    "ReconnectAllegro",
    "TokenStore",
]
