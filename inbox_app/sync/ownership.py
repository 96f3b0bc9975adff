"""Who does the channel work of a profile: the sync lock, and the identity of the process that holds a claim.

Two copies of the app on one profile (the window and a cron ``sync --once``, two windows, two crons) used to
sync and deliver side by side, and every queued reply went out once per copy. Two mechanisms stop that:

* :class:`ProfileLock`: an exclusive ``flock`` on ``<profile>/sync.lock``, held for as long as the process
  syncs. The kernel drops it when the process ends in any way (SIGKILL and power loss included), so a crash
  never leaves a stale lock behind. Whoever does not hold it does no channel work: ``sync --once`` says
  another copy is syncing and exits, a second window works from the database and its queued replies are
  delivered by the copy that holds the lock (it watches the outbox table).
* Outbox claims carry the claiming process's identity (:func:`process_token`): host, boot id, pid and the
  process's start time. A claim is taken over only when its owner is provably gone (same host: another boot,
  no such pid, or a pid reused by a younger process). A live owner's claim is never taken, however old its
  lease (a wall clock that jumped forward cannot make a live claim look abandoned). Only the claim of a
  process on another machine (a profile on a network share), whose life cannot be checked, falls back to the
  lease's expiry.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
from pathlib import Path
from typing import IO

log = logging.getLogger("inbox_app.sync")

LOCK_NAME = "sync.lock"


def _boot_id() -> str:
    """This boot's id (Linux); "" elsewhere, which then only trusts pid checks."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return ""


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux ``/proc/<pid>/stat`` field 22): together with
    the pid it names one process, even after the pid is reused. "" where /proc is missing; None: no such pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return None
    except OSError:
        return ""
    # The command name (field 2) is in parentheses and may contain spaces: split after its closing one.
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else ""


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except OSError:
        return False
    return True


_TOKEN: str | None = None


def process_token(pid: int | None = None) -> str:
    """``host|boot id|pid|start time`` of this process (or of ``pid`` on this machine): what an outbox claim
    records as its owner."""
    if pid is not None:
        return "|".join((socket.gethostname(), _boot_id(), str(pid), _start_time(pid) or ""))
    global _TOKEN
    if _TOKEN is None or _TOKEN.split("|")[2] != str(os.getpid()):  # recomputed in a forked child
        _TOKEN = process_token(os.getpid())
    return _TOKEN


def owner_alive(token: str | None) -> bool | None:
    """Is the process that wrote ``token`` still running? None when that cannot be known (another machine,
    or a token in an unknown form); False for no token (a row claimed before schema v4: its owner is gone)."""
    if not token:
        return False
    parts = token.split("|")
    if len(parts) != 4 or not parts[2].isdigit():
        return None
    host, boot, pid_text, started = parts
    if host != socket.gethostname():
        return None
    if boot and _boot_id() and boot != _boot_id():
        return False  # the machine restarted since: every process of that boot is gone
    pid = int(pid_text)
    if pid == os.getpid():
        return started == (_start_time(pid) or "")
    now_started = _start_time(pid)
    if now_started is None:
        return False
    if now_started and started:
        return now_started == started  # a different start time: the pid was reused by another process
    return _pid_exists(pid)


class ProfileLock:
    """The exclusive right to do channel work on one profile (see the module docstring).

    ``acquire()`` never waits: it returns False while another process holds the lock. The file holds the
    holder's pid for the message shown to the user; the lock itself is the ``flock``, not the file's content.
    """

    def __init__(self, profile_root: Path) -> None:
        self.path = Path(profile_root) / LOCK_NAME
        self._handle: IO[str] | None = None

    @property
    def held(self) -> bool:
        return self._handle is not None

    def acquire(self) -> bool:
        if self._handle is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        handle = os.fdopen(fd, "r+", encoding="utf-8")
        try:
            if not _try_lock(handle):
                handle.close()
                return False
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
        except BaseException:
            handle.close()
            raise
        self._handle = handle
        log.info("holding the sync lock %s", self.path)
        return True

    def holder_pid(self) -> int | None:
        """The pid written by the process holding the lock (None when unknown: the holder may have truncated
        the file and not yet written its pid)."""
        words = ""
        with contextlib.suppress(OSError):
            words = self.path.read_text(encoding="utf-8")
        first = words.split()[:1]
        return int(first[0]) if first and first[0].isdigit() else None

    def release(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            with contextlib.suppress(OSError):
                _unlock(handle)
            handle.close()


if sys.platform == "win32":  # pragma: no cover - exercised on Windows builds only
    import msvcrt

    def _try_lock(handle: IO[str]) -> bool:
        try:
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(handle: IO[str]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(handle: IO[str]) -> bool:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(handle: IO[str]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
