"""Translations and locale-aware formatting, in one place.

Every user-visible string goes through ``_`` / ``ngettext`` (mark-only: ``N_``) so Babel can extract it to
``translations/messages.pot``. Dates, numbers and durations go through the helpers below, which use Babel in
the user's locale, so "3 h 20 min", "vence en 3 h" and "überfällig seit 2 Std." all come from the same code.

Catalogs are compiled from ``translations/<lang>/LC_MESSAGES/messages.po`` to ``.mo`` at build time; when the
``.mo`` is missing (a fresh clone) the ``.po`` is compiled in memory so a developer sees translations at once.
"""

from __future__ import annotations

import functools
import gettext as _gettext
import locale as _locale
import os
from datetime import datetime, timedelta, tzinfo
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel import dates as _dates
from babel import numbers as _numbers

DOMAIN = "messages"
TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"
_PACKAGED_DIR = Path(__file__).resolve().parent / "translations"

_translations: _gettext.NullTranslations = _gettext.NullTranslations()
_locale_obj: Locale = Locale.parse("en")


def N_(message: str) -> str:
    """Mark a string for extraction without translating it now (translated where it is shown)."""
    return message


def _(message: str) -> str:
    return _translations.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _translations.ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    return _translations.pgettext(context, message)


def current_locale() -> Locale:
    return _locale_obj


def system_locale_name() -> str:
    """The user's locale from the environment (LC_ALL, LC_MESSAGES, LANG), defaulting to English."""
    for var in ("INBOX_APP_LANG", "LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        value = os.environ.get(var)
        if value and value not in ("C", "POSIX", "C.UTF-8"):
            return value.split(":")[0].split(".")[0]
    try:
        lang, _enc = _locale.getlocale()
    except ValueError:
        lang = None
    return lang or "en"


def _load_catalog(lang: str) -> _gettext.NullTranslations:
    for base in (_PACKAGED_DIR, TRANSLATIONS_DIR):
        mo = base / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"
        if mo.exists():
            with mo.open("rb") as fh:
                return _gettext.GNUTranslations(fh)
    po = TRANSLATIONS_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if po.exists():
        from io import BytesIO

        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        with po.open("rb") as fh:
            catalog = read_po(fh, locale=lang)
        buf = BytesIO()
        write_mo(buf, catalog)
        buf.seek(0)
        return _gettext.GNUTranslations(buf)
    return _gettext.NullTranslations()


def available_languages() -> list[str]:
    """The interface languages: English (the source) and every language with a catalog, sorted."""
    found = {"en"}
    for base in (_PACKAGED_DIR, TRANSLATIONS_DIR):
        for path in base.glob(f"*/LC_MESSAGES/{DOMAIN}.[mp]o"):
            found.add(path.parts[-3])
    return sorted(found)


def language_is_available(name: str) -> bool:
    """True when ``name`` (``it``, ``pt_BR``, ``de-DE``, ``es_ES.UTF-8``) is a locale we have a catalog for."""
    try:
        parsed = Locale.parse(name.split(".")[0].replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return False
    return parsed.language in available_languages()


def unknown_language_message(name: str) -> str:
    return _("Unknown interface language “{lang}”. Available: {languages}.").format(
        lang=name, languages=", ".join(available_languages())
    )


def setup(locale_name: str | None = None) -> Locale:
    """Install the catalog and the Babel locale for ``locale_name`` (default: the system's)."""
    global _translations, _locale_obj
    name = locale_name or system_locale_name()
    try:
        _locale_obj = Locale.parse(name.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        _locale_obj = Locale.parse("en")
    translations: _gettext.NullTranslations = _gettext.NullTranslations()
    for candidate in (str(_locale_obj), _locale_obj.language):
        translations = _load_catalog(candidate)
        if not isinstance(translations, _gettext.GNUTranslations):
            continue
        break
    _translations = translations
    return _locale_obj


def format_duration(delta: timedelta, *, threshold: float = 1.0) -> str:
    """A short duration ("3 h 20 min", "2 days 4 h") in the user's locale, two units at most.

    Babel's ``format_timedelta`` gives one unit; a seller needs "3 h 20 min" near a deadline, so we combine
    the two largest units, each formatted by Babel (narrow/short forms for the list).
    """
    seconds = abs(int(delta.total_seconds()))
    days, rem = divmod(seconds, 86400)
    hours, rem = divmod(rem, 3600)
    minutes = rem // 60
    parts: list[timedelta] = []
    if days:
        parts = [timedelta(days=days)] + ([timedelta(hours=hours)] if hours else [])
    elif hours:
        parts = [timedelta(hours=hours)] + ([timedelta(minutes=minutes)] if minutes else [])
    else:
        parts = [timedelta(minutes=max(minutes, 0))]
    texts = [
        _dates.format_timedelta(p, format="short", threshold=threshold, locale=_locale_obj) for p in parts
    ]
    return " ".join(texts)


def format_datetime(value: datetime, fmt: str = "medium", tz: tzinfo | None = None) -> str:
    return _dates.format_datetime(value, format=fmt, tzinfo=tz, locale=_locale_obj)


def format_date(value: datetime, fmt: str = "medium") -> str:
    return _dates.format_date(value, format=fmt, locale=_locale_obj)


def format_time(value: datetime, fmt: str = "short", tz: tzinfo | None = None) -> str:
    return _dates.format_time(value, format=fmt, tzinfo=tz, locale=_locale_obj)


def format_number(value: int | float) -> str:
    return _numbers.format_decimal(value, locale=_locale_obj)


def format_size(num_bytes: int) -> str:
    """A file size such as "1.2 MB" with the locale's decimal mark."""
    units = [N_("B"), N_("KB"), N_("MB"), N_("GB")]
    size = float(num_bytes)
    for unit in units:
        if size < 1024 or unit == units[-1]:
            number = _numbers.format_decimal(round(size, 1), locale=_locale_obj)
            return f"{number} {_(unit)}"
        size /= 1024
    raise AssertionError("unreachable")


@functools.cache
def _catalog_for(lang: str) -> _gettext.NullTranslations:
    return _load_catalog(lang)


def gettext_in(language: str, message: str) -> str:
    """``message`` in ``language`` rather than the interface's (e.g. a label searched in the buyer's language)."""
    code = language.replace("-", "_")
    for candidate in (code, code.split("_")[0]):
        catalog = _catalog_for(candidate)
        if isinstance(catalog, _gettext.GNUTranslations):
            return catalog.gettext(message)
    return message
