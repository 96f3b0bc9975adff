"""Turn an untrusted attachment name into one that is safe to show and to write to disk.

Attachment names come from strangers (buyers, spammers, broken mailers). They may carry directories
(``../../etc/passwd``), Windows device names (``CON.txt``), control or bidi characters that hide the real
extension (``invoice\\u202egpj.exe``), NUL bytes, or hundreds of characters. This module is pure (no I/O) so
both the mail parser (``channels``) and the blob store (``store``) can use the same rules without importing
each other.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["MAX_FILENAME_BYTES", "MAX_FILENAME_CHARS", "safe_filename"]

MAX_FILENAME_CHARS = 150
# Most file systems limit a name to 255 *bytes*; stay well below so a " (12)" suffix still fits.
MAX_FILENAME_BYTES = 200
_MAX_EXTENSION_CHARS = 16

# Characters Windows refuses in names; replaced rather than dropped so "a:b" stays readable as "a_b".
_WINDOWS_FORBIDDEN = re.compile(r'[<>:"|?*]')
_WHITESPACE = re.compile(r"\s+")
_WINDOWS_RESERVED = frozenset(
    {"con", "prn", "aux", "nul", "conin$", "conout$"}
    | {f"com{i}" for i in "123456789¹²³"}
    | {f"lpt{i}" for i in "123456789¹²³"}
)
# Unicode categories dropped: controls (Cc), format characters incl. bidi overrides and zero-width (Cf),
# surrogates left over from undecodable bytes (Cs), private use (Co), unassigned (Cn).
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})


def _clean_chars(name: str) -> str:
    return "".join(ch for ch in name if unicodedata.category(ch) not in _DROPPED_CATEGORIES)


def _truncate(name: str) -> str:
    """Shorten to the char and byte limits, keeping a short extension such as ``.pdf``."""

    def fits(text: str) -> bool:
        return len(text) <= MAX_FILENAME_CHARS and len(text.encode("utf-8")) <= MAX_FILENAME_BYTES

    if fits(name):
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or len(ext) > _MAX_EXTENSION_CHARS:
        stem, ext = name, ""
    suffix = f".{ext}" if ext else ""
    while stem and not fits(stem + suffix):
        # Cut proportionally first (fast for very long names), then one char at a time.
        excess = max(len(stem + suffix) - MAX_FILENAME_CHARS, 1)
        stem = stem[: len(stem) - excess] if excess > 1 else stem[:-1]
    stem = stem.rstrip(" .")
    return stem + suffix if stem else suffix.lstrip(".")


def _clean(name: str) -> str:
    name = unicodedata.normalize("NFC", name)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _clean_chars(name)
    name = _WINDOWS_FORBIDDEN.sub("_", name)
    name = _WHITESPACE.sub(" ", name)
    name = name.strip().lstrip(".").strip().rstrip(". ")
    if not name:
        return ""
    stem = name.split(".", 1)[0].rstrip(" ").casefold()
    if stem in _WINDOWS_RESERVED:
        name = "_" + name
    return _truncate(name).rstrip(". ")


def safe_filename(name: str | None, fallback: str = "attachment") -> str:
    """Return a display- and disk-safe file name; never empty, never a path, at most 150 characters.

    Directories (``/`` and ``\\``) are stripped, so is any leading dot (no hidden files, no ``..``),
    control/bidi characters, NUL, trailing dots and spaces. Windows device names get a ``_`` prefix.
    When truncating, the extension is kept so the file still opens with the right program.
    """
    cleaned = _clean(name) if name else ""
    if cleaned:
        return cleaned
    cleaned_fallback = _clean(fallback) if fallback else ""
    return cleaned_fallback or "attachment"
