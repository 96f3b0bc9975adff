"""Maintain the Babel catalogs: ``python -m inbox_app.i18n_build extract|update|compile``.

* extract: scan ``inbox_app`` for ``_``, ``ngettext``, ``N_``, ``pgettext`` into ``translations/messages.pot``;
* update:  merge the template into every ``translations/<lang>/LC_MESSAGES/messages.po``;
* compile: build the ``.mo`` files next to the ``.po`` files (done by the set-up script).
"""

from __future__ import annotations

import os
import sys

from babel.messages.frontend import CommandLineInterface

from inbox_app.i18n import TRANSLATIONS_DIR

POT = TRANSLATIONS_DIR / "messages.pot"
KEYWORDS = ["_", "N_", "ngettext:1,2", "pgettext:1c,2"]


def _run(args: list[str]) -> None:
    # Relative paths from the repository root keep machine-specific folders out of the catalogs.
    previous = os.getcwd()
    os.chdir(TRANSLATIONS_DIR.parent)
    try:
        CommandLineInterface().run(["pybabel", "-q", *args])
    finally:
        os.chdir(previous)


def extract() -> None:
    keyword_args = [arg for kw in KEYWORDS for arg in ("-k", kw)]
    _run(
        [
            "extract",
            "--no-default-keywords",
            *keyword_args,
            "--project=inbox_app",
            "--copyright-holder=inbox_app developers",
            "--sort-by-file",
            "-o",
            "translations/messages.pot",
            "inbox_app",
        ]
    )


def update() -> None:
    _run(["update", "-i", str(POT), "-d", str(TRANSLATIONS_DIR), "--no-fuzzy-matching"])


def compile_catalogs() -> None:
    if any(TRANSLATIONS_DIR.glob("*/LC_MESSAGES/messages.po")):
        _run(["compile", "-d", str(TRANSLATIONS_DIR), "--use-fuzzy"])


def main(argv: list[str]) -> int:
    commands = {"extract": extract, "update": update, "compile": compile_catalogs}
    if len(argv) != 1 or argv[0] not in commands:
        print("usage: python -m inbox_app.i18n_build extract|update|compile", file=sys.stderr)
        return 2
    commands[argv[0]]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
