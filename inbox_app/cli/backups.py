"""``inbox-app backup`` and ``inbox-app restore [--list] [NAME]``: the profile database's backups by hand.

Automatic backups are made daily and before each migration (:mod:`inbox_app.services.profiles`); these commands
make one on request and put one back. Both work on the files directly, without opening the profile the normal
way, because the reason to restore is usually that the profile no longer opens. ``restore`` never deletes the
current database: it is moved aside as ``inbox.sqlite3.damaged-<timestamp>``.
"""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path

from inbox_app.cli import CliError
from inbox_app.i18n import N_, _, format_datetime, format_size

KIND_LABELS = {"daily": N_("daily"), "migration": N_("before an upgrade"), "manual": N_("by hand")}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backup = sub.add_parser("backup", help=_("back up the profile database now"))
    backup.set_defaults(func=cmd_backup)
    restore = sub.add_parser(
        "restore", help=_("put a backup of the profile database back (the newest by default)")
    )
    restore.add_argument("name", nargs="?", default=None, help=_("the backup to restore, as shown by --list"))
    restore.add_argument("--list", action="store_true", help=_("list the backups, newest first"))
    restore.set_defaults(func=cmd_restore)


def _folder(args: argparse.Namespace) -> Path:
    from inbox_app.profile import default_profile_dir
    from inbox_app.services.profiles import ProblemKind, ProfileProblem

    folder = Path(args.profile or default_profile_dir()).expanduser().resolve()
    if folder.exists() and not folder.is_dir():
        raise CliError(ProfileProblem(ProblemKind.NOT_A_FOLDER, folder).message, exit_code=2)
    return folder


def cmd_backup(args: argparse.Namespace) -> int:
    from inbox_app.services.profiles import BACKUP_DIR_NAME, check_header, make_backup

    folder = _folder(args)
    db_path = folder / "inbox.sqlite3"
    if not db_path.exists():
        raise CliError(_("There is no database to back up in {folder}.").format(folder=folder), exit_code=2)
    damaged = check_header(db_path)
    if damaged is not None:
        raise CliError(_("The database cannot be backed up: {error}.").format(error=damaged[1]), exit_code=2)
    try:
        conn = sqlite3.connect(f"{db_path.as_uri()}?mode=ro", uri=True)
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        finally:
            conn.close()
        path = make_backup(db_path, folder / BACKUP_DIR_NAME, "manual", version)
    except sqlite3.Error as exc:
        raise CliError(
            _("The database cannot be backed up: {error}.").format(error=exc), exit_code=2
        ) from exc
    except OSError as exc:
        raise CliError(
            _("The backup could not be written: {error}").format(error=exc.strerror or exc), exit_code=2
        ) from exc
    print(_("Backed up to {path}").format(path=path))
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from inbox_app.services.profiles import BACKUP_DIR_NAME, check_backup, list_backups, restore_backup

    folder = _folder(args)
    backups = list_backups(folder / BACKUP_DIR_NAME)
    if args.list:
        if not backups:
            print(_("No backups yet."))
        for backup in backups:
            print(
                f"{backup.name}\t{_(KIND_LABELS.get(backup.kind, backup.kind))}\t{format_datetime(backup.created_at, 'short')}\t"
                f"{format_size(backup.size)}"
            )
        return 0
    if not backups:
        raise CliError(
            _("There is no backup to restore in {folder}.").format(folder=folder / BACKUP_DIR_NAME), 2
        )
    if args.name:
        chosen = next((b for b in backups if b.name == args.name or b.path.stem == args.name), None)
        if chosen is None:
            raise CliError(
                _("There is no backup called “{name}”. See them with: inbox-app restore --list").format(
                    name=args.name
                ),
                2,
            )
    else:
        chosen = backups[0]
    problem = check_backup(chosen.path)
    if problem is not None:
        raise CliError(
            _(
                "The backup {name} is damaged too ({error}); choose another with: inbox-app restore --list"
            ).format(name=chosen.name, error=problem),
            2,
        )
    try:
        aside = restore_backup(folder / "inbox.sqlite3", chosen.path)
    except (OSError, sqlite3.Error) as exc:
        raise CliError(_("The backup could not be restored: {error}").format(error=exc), 2) from exc
    print(
        _("Restored the backup of {date} ({name}).").format(
            date=format_datetime(chosen.created_at, "short"), name=chosen.name
        )
    )
    if aside is not None:
        print(_("The previous database was kept as {path}.").format(path=aside))
    return 0
