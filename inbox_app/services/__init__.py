"""The application's verbs and queries: the only layer ``ui/`` and ``cli/`` call (STYLE.md, "The house").

Why a layer of its own: the windows and the command line must not know that SQLite and peewee sit underneath,
so a shared database or a remote backend can replace the store later without touching them. Each module is
named for what it serves (``conversations``, ``replies``, ``outbox``, ``accounts``, ``settings``, ``canned``,
``policies``, ``attachments``, ``profiles``, ``backups``, ``sync``) and returns plain values: the domain's
dataclasses or the store's row dataclasses, never a peewee model. Services never import PySide6; they may
import ``store``, ``sync`` and ``domain``. Work that can take more than a few milliseconds is still run off the
UI thread by the caller (``ui.controller.BackgroundRunner``); services are plain synchronous functions.
"""
