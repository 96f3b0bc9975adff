"""The mail channel's view of :mod:`inbox_app.domain.html_sanitize` (where the sanitizer lives: the UI uses it
too, and the UI does not import channels)."""

from __future__ import annotations

from inbox_app.domain.html_sanitize import (
    count_blocked_images,
    data_url_image,
    html_is_too_deep,
    html_to_text,
    raster_image_format,
    sanitize_html,
    sanitized_html_to_text,
)

__all__ = [
    "count_blocked_images",
    "data_url_image",
    "html_is_too_deep",
    "html_to_text",
    "raster_image_format",
    "sanitize_html",
    "sanitized_html_to_text",
]
