"""The canned-response library as data: the starter set, and JSON/CSV import and export.

Why here: sellers share response libraries between colleagues and shops, often through a spreadsheet, so
the library must survive a round trip through JSON (lossless) and CSV (one row per response and language,
which is how translators like to work). Parsing is strict and explains what is wrong in the user's language,
because the input comes from files people edit by hand.

Pure domain code: callers read and write the files; this module only turns text into data and back. The
starter set ships as ``starter_responses.json`` next to this module (read as package data).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from inbox_app.i18n import N_, _

__all__ = [
    "CATEGORIES",
    "CSV_COLUMNS",
    "FORMAT",
    "FORMAT_VERSION",
    "CannedResponseData",
    "export_csv",
    "export_json",
    "import_csv",
    "import_json",
    "load_starter_library",
]

#: Category key → English label (translate where shown).
CATEGORIES: dict[str, str] = {
    "delivery_late": N_("Late delivery"),
    "damaged": N_("Damaged item"),
    "wrong_item_or_size": N_("Wrong item or size"),
    "return": N_("Return"),
    "refund": N_("Refund"),
    "out_of_stock": N_("Out of stock"),
    "promo_code": N_("Discount code"),
    "invoice": N_("Invoice"),
    "presale_question": N_("Pre-sale question"),
    "order_cancel": N_("Order cancellation"),
    "thanks_feedback": N_("Thanks and feedback"),
}

FORMAT = "inbox_app.canned_responses"
FORMAT_VERSION = 1
CSV_COLUMNS = ("key", "title", "category", "language", "body", "subject")
_REQUIRED_CSV_COLUMNS = CSV_COLUMNS[:5]
_STARTER_FILE = "starter_responses.json"

_KEY_RE = re.compile(r"^[\w.-]+$")
_LANG_RE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")


@dataclass
class CannedResponseData:
    """One canned response: a shortcut ``key``, its title and category, and the text per language.

    ``variants`` maps a language code ("en", "es", "pt-BR") to the body template (see
    :mod:`inbox_app.domain.templates`); ``subject`` optionally gives an e-mail subject per language.
    """

    key: str
    title: str
    category: str
    variants: dict[str, str]
    subject: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "category": self.category,
            "variants": dict(self.variants),
            "subject": dict(self.subject) if self.subject is not None else None,
        }


# ---------------------------------------------------------------------------------------------- validation


def _where(index: int, key: object = None) -> str:
    if isinstance(key, str) and key.strip():
        return _("Response {number} (“{key}”)").format(number=index + 1, key=key.strip())
    return _("Response {number}").format(number=index + 1)


def _text_field(obj: Mapping[str, Any], name: str, where: str) -> str:
    if name not in obj or obj[name] is None:
        raise ValueError(_("{where}: the field “{field}” is missing.").format(where=where, field=name))
    value = obj[name]
    if not isinstance(value, str):
        raise ValueError(_("{where}: the field “{field}” must be text.").format(where=where, field=name))
    value = value.strip()
    if not value:
        raise ValueError(_("{where}: the field “{field}” is empty.").format(where=where, field=name))
    return value


def _language_map(value: object, field: str, where: str, *, required: bool) -> dict[str, str] | None:
    if value is None and not required:
        return None
    if not isinstance(value, Mapping):
        raise ValueError(
            _("{where}: “{field}” must map language codes to texts.").format(where=where, field=field)
        )
    result: dict[str, str] = {}
    for lang, text in value.items():
        if not isinstance(lang, str) or not _LANG_RE.match(lang.strip()):
            raise ValueError(
                _("{where}: “{language}” is not a language code such as “en” or “pt-BR”.").format(
                    where=where, language=lang
                )
            )
        if not isinstance(text, str):
            raise ValueError(
                _("{where}: the “{language}” text in “{field}” must be text.").format(
                    where=where, language=lang, field=field
                )
            )
        if text.strip():
            result[lang.strip()] = text
    if required and not result:
        raise ValueError(_("{where}: there is no text in any language.").format(where=where))
    return result or None


def _validate(item: object, index: int) -> CannedResponseData:
    if not isinstance(item, Mapping):
        raise ValueError(_("{where}: expected an object.").format(where=_where(index)))
    where = _where(index, item.get("key"))
    key = _text_field(item, "key", where)
    if not _KEY_RE.match(key):
        raise ValueError(
            _("{where}: the shortcut “{key}” may only contain letters, digits, “-”, “_” and “.”.").format(
                where=where, key=key
            )
        )
    variants = _language_map(item.get("variants"), "variants", where, required=True)
    assert variants is not None  # required=True never returns None
    return CannedResponseData(
        key=key,
        title=_text_field(item, "title", where),
        category=_text_field(item, "category", where),
        variants=variants,
        subject=_language_map(item.get("subject"), "subject", where, required=False),
    )


def _check_unique(items: list[CannedResponseData]) -> list[CannedResponseData]:
    seen: set[str] = set()
    for item in items:
        folded = item.key.casefold()
        if folded in seen:
            raise ValueError(
                _("The shortcut “{key}” is used by more than one response.").format(key=item.key)
            )
        seen.add(folded)
    return items


# ------------------------------------------------------------------------------------------------- JSON


def export_json(items: Iterable[CannedResponseData]) -> str:
    """The library as JSON text (UTF-8 friendly, indented for people who diff it)."""
    doc = {"format": FORMAT, "version": FORMAT_VERSION, "responses": [i.to_dict() for i in items]}
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def import_json(text: str) -> list[CannedResponseData]:
    """Parse JSON written by :func:`export_json` (or a bare list of responses); ``ValueError`` if invalid."""
    try:
        doc = json.loads(text.lstrip("\ufeff"))
    except json.JSONDecodeError as exc:
        raise ValueError(
            _("This is not a valid JSON file (line {line}, column {column}).").format(
                line=exc.lineno, column=exc.colno
            )
        ) from exc
    if isinstance(doc, Mapping):
        fmt = doc.get("format", FORMAT)
        if fmt != FORMAT:
            raise ValueError(_("This JSON file does not contain canned responses."))
        version = doc.get("version", FORMAT_VERSION)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ValueError(_("This file was made by a newer version of the app; please update."))
        responses = doc.get("responses")
    else:
        responses = doc
    if not isinstance(responses, list):
        raise ValueError(_("This JSON file does not contain a list of canned responses."))
    return _check_unique([_validate(item, i) for i, item in enumerate(responses)])


# -------------------------------------------------------------------------------------------------- CSV


def export_csv(items: Iterable[CannedResponseData]) -> str:
    """One row per response and language: key, title, category, language, body, subject."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for item in items:
        for lang, body in item.variants.items():
            subject = (item.subject or {}).get(lang, "")
            writer.writerow([item.key, item.title, item.category, lang, body, subject])
    return buffer.getvalue()


def import_csv(text: str) -> list[CannedResponseData]:
    """Parse CSV as written by :func:`export_csv` (spreadsheet exports with ``;`` work too)."""
    text = text.lstrip("\ufeff")
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [h.strip().casefold() for h in (reader.fieldnames or [])]
    missing = [c for c in _REQUIRED_CSV_COLUMNS if c not in header]
    if missing:
        raise ValueError(
            _("The CSV file lacks the column(s): {columns}. Expected: {expected}.").format(
                columns=", ".join(missing), expected=", ".join(CSV_COLUMNS)
            )
        )
    reader.fieldnames = header
    grouped: dict[str, dict[str, Any]] = {}
    try:
        for row in reader:
            line = reader.line_num
            if all(not (v or "").strip() for k, v in row.items() if k is not None):
                continue
            where = _("Line {line}").format(line=line)
            key = _text_field(row, "key", where)
            lang = _text_field(row, "language", where)
            body = row.get("body") or ""
            if not body.strip():
                raise ValueError(
                    _("{where}: the field “{field}” is empty.").format(where=where, field="body")
                )
            entry = grouped.setdefault(
                key,
                {
                    "key": key,
                    "title": row.get("title"),
                    "category": row.get("category"),
                    "variants": {},
                    "subject": {},
                },
            )
            if lang in entry["variants"]:
                raise ValueError(
                    _("{where}: “{key}” already has a text in “{language}”.").format(
                        where=where, key=key, language=lang
                    )
                )
            entry["variants"][lang] = body
            subject = (row.get("subject") or "").strip()
            if subject:
                entry["subject"][lang] = subject
    except csv.Error as exc:
        raise ValueError(_("The CSV file is malformed: {error}").format(error=exc)) from exc
    items = []
    for index, entry in enumerate(grouped.values()):
        entry["subject"] = entry["subject"] or None
        items.append(_validate(entry, index))
    return _check_unique(items)


# ----------------------------------------------------------------------------------------------- starter


def load_starter_library() -> list[CannedResponseData]:
    """The responses a new installation starts with (English, Spanish, French, German, Italian)."""
    text = resources.files(__package__ or "inbox_app.domain").joinpath(_STARTER_FILE).read_text("utf-8")
    return import_json(text)
