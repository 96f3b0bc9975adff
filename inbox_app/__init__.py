"""inbox_app: a desktop unified inbox for e-commerce sellers."""

from __future__ import annotations


def app_version() -> str:
    """The installed version (from the package metadata), or "unknown" when run from an uninstalled tree."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("inbox-app")
    except PackageNotFoundError:
        return "unknown"
