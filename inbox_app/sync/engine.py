"""The sync engine: every mail account's sync and outbox delivery, online/offline, errors in one place.

Headless (``inbox-app sync --once``): :meth:`SyncEngine.run_once` syncs each account once and delivers its due
outbox rows, on ``asyncio.run``. In the window: :meth:`SyncEngine.run_forever` keeps one IDLE loop per account
plus a delivery loop (woken by :meth:`wake_outbox` when a reply is queued, else every 30 s), on the qasync loop.

Errors are sorted here, once: environment problems (``MailError``: offline, wrong password, missing folder;
``NoKeyringError``) become a user message on the bus and in the report; anything else is a bug and is logged
with its traceback. When every account fails to connect the engine says "offline" and keeps retrying with a
backoff, so it catches up by itself when the network returns.

One copy of the app per profile does channel work: with a ``ProfileLock`` (``sync.ownership``) the engine
syncs and delivers only while it holds the profile's lock. ``run_once`` without it returns at once
(``EngineReport.elsewhere``); ``run_forever`` says so on the bus and tries again every few seconds, so a
second window takes over when the first one closes. The holder's delivery loop looks at the outbox every
few seconds, so replies queued by a copy that does not sync go out promptly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from inbox_app.channels.base import AuthFailed, ChannelError, TemporarilyUnavailable
from inbox_app.channels.mail import errors as mail_errors
from inbox_app.channels.mail.errors import MailError
from inbox_app.channels.mail.imap import ImapConnection
from inbox_app.channels.mail.security import Security
from inbox_app.channels.mail.smtp import SmtpSettings
from inbox_app.i18n import _
from inbox_app.secrets import NoKeyringError
from inbox_app.store.accounts import MAIL_KIND, list_accounts, mail_settings
from inbox_app.store.blobs import BlobStore
from inbox_app.store.db import is_disk_full
from inbox_app.store.models import Account
from inbox_app.store.outbox import has_due
from inbox_app.store.remote_actions import has_due_actions
from inbox_app.sync.account_state import AccountStateTracker
from inbox_app.sync.channel_delivery import deliver_due_channel
from inbox_app.sync.channel_sync import ChannelAccountSync, ChannelSyncReport
from inbox_app.sync.credentials import account_password
from inbox_app.sync.db_worker import close_db_connection
from inbox_app.sync.events import ChangeBus, ChangeEvent
from inbox_app.sync.mail_sync import (
    MailAccountSync,
    Progress,
    SyncReport,
    imap_settings_for,
)
from inbox_app.sync.outbox_delivery import DeliveryReport, deliver_due
from inbox_app.sync.ownership import ProfileLock
from inbox_app.sync.registry import ChannelRegistry, default_registry
from inbox_app.sync.remote_actions import perform_due
from inbox_app.sync.user_messages import disk_full_message

log = logging.getLogger("inbox_app.sync")

OUTBOX_INTERVAL = 30.0
OUTBOX_POLL = 2.0  # s: how often the delivery loop checks for replies queued by another copy of the app
LOCK_RETRY = 5.0  # s: how often a window without the profile's sync lock tries to take it
MAX_BACKOFF = 300.0
STOP_GRACE = 10.0  # s to let the loops finish their current step and log out


@dataclass(frozen=True)
class AccountProblem:
    account_id: int
    account_name: str
    message: str  # for the user (translated)
    offline: bool  # the server could not be reached at all
    bug: bool = False
    needs_reconnect: bool = False  # the key or token was refused: the seller must reconnect the account


@dataclass
class EngineReport:
    syncs: dict[int, SyncReport] = field(default_factory=dict)
    channel_syncs: dict[int, ChannelSyncReport] = field(default_factory=dict)  # marketplace accounts
    deliveries: dict[int, DeliveryReport] = field(default_factory=dict)
    problems: list[AccountProblem] = field(default_factory=list)
    accounts: int = 0
    elsewhere: bool = False  # another process holds the profile's sync lock: nothing was done

    @property
    def offline(self) -> bool:
        """True when no account could reach its server (or there was nothing that could)."""
        return self.accounts > 0 and sum(1 for p in self.problems if p.offline) >= self.accounts

    @property
    def ok(self) -> bool:
        return not self.problems


def smtp_settings_for(account: Account) -> SmtpSettings:
    s = mail_settings(account).smtp
    password = account_password(account, "smtp") if s.user else ""
    return SmtpSettings(
        host=s.host, port=s.port, security=Security(s.security), user=s.user, password=password
    )


class SyncEngine:
    """Owns the per-account syncs; see the module docstring. Publishes ChangeEvents on ``bus``."""

    def __init__(
        self,
        blobs: BlobStore,
        bus: ChangeBus | None = None,
        lock: ProfileLock | None = None,
        registry: ChannelRegistry | None = None,
    ) -> None:
        self.blobs = blobs
        self.bus = bus or ChangeBus()
        self.lock = lock
        self.registry = registry or default_registry()
        self._syncs: dict[int, MailAccountSync] = {}
        self._channel_syncs: dict[int, ChannelAccountSync] = {}
        self._outbox_wake = asyncio.Event()
        self.online: bool | None = None
        # Each account's live state (up to date, syncing n of m, offline, needs reconnect), kept in the store.
        self.states = AccountStateTracker(self.bus)

    def accounts(self) -> list[Account]:
        return list_accounts(MAIL_KIND, enabled_only=True)

    def channel_accounts(self) -> list[Account]:
        """Enabled marketplace accounts whose kind the registry knows (synced by the cursor loop)."""
        return [a for a in list_accounts(enabled_only=True) if self.registry.handles(a.kind)]

    def channel_sync_for(self, account: Account) -> ChannelAccountSync:
        sync = self._channel_syncs.get(account.id)
        if sync is None:
            sync = ChannelAccountSync(account, self.registry, bus=self.bus)
            self._channel_syncs[account.id] = sync
        return sync

    def sync_for(self, account: Account) -> MailAccountSync:
        sync = self._syncs.get(account.id)
        if sync is None:
            sync = MailAccountSync(account, bus=self.bus)
            self._syncs[account.id] = sync
        return sync

    def _problem(self, account: Account, exc: BaseException) -> AccountProblem:
        if isinstance(exc, ChannelError):
            log.info("account %s: %s", account.id, exc)
            return AccountProblem(
                account.id,
                account.name,
                exc.user_message,
                offline=isinstance(exc, TemporarilyUnavailable),
                needs_reconnect=isinstance(exc, AuthFailed),
            )
        if isinstance(exc, MailError):
            log.info("account %s: %s", account.id, exc)
            return AccountProblem(
                account.id,
                account.name,
                exc.user_message,
                offline=isinstance(exc, mail_errors.ConnectionFailed),
            )
        if isinstance(exc, NoKeyringError):
            return AccountProblem(account.id, account.name, exc.user_message, offline=False)
        if is_disk_full(exc):
            log.error("account %s: the disk is full (%s)", account.id, exc)
            return AccountProblem(account.id, account.name, disk_full_message(account.name), offline=False)
        log.error("bug while syncing account %s", account.id, exc_info=exc)
        return AccountProblem(
            account.id,
            account.name,
            _("An internal error stopped the sync of “{name}”; details are in the log.").format(
                name=account.name
            ),
            offline=False,
            bug=True,
        )

    def _set_online(self, online: bool, message: str = "") -> None:
        if self.online is online:
            return
        self.online = online
        self.bus.publish(ChangeEvent("online" if online else "offline", frozenset(), None, message))

    async def run_once(self, progress: Progress | None = None) -> EngineReport:
        """Sync every account once and deliver its due outbox rows (nothing, when another process holds the
        profile's sync lock: ``report.elsewhere``)."""
        report = EngineReport()
        if self.lock is not None and not self.lock.acquire():
            log.info("another process (pid %s) holds %s: not syncing", self.lock.holder_pid(), self.lock.path)
            report.elsewhere = True
            return report
        accounts = self.accounts()
        channel_accounts = self.channel_accounts()
        report.accounts = len(accounts) + len(channel_accounts)
        self.bus.publish(ChangeEvent("sync_started"))
        # Marketplace accounts run side by side with the mail accounts (each on its own: one failing or slow
        # account never holds up another); the mail path below is unchanged.
        channel_round = asyncio.gather(*(self._channel_once(a, report) for a in channel_accounts))
        for account in accounts:
            sync = self.sync_for(account)
            try:
                self.bus.publish(ChangeEvent("sync_started", frozenset(), account.id))
                # Handed in, so what was committed before a failure is still reported.
                report.syncs[account.id] = SyncReport()
                await sync.sync_once(progress, report.syncs[account.id])
                conn = await sync.connection()
                report.deliveries[account.id] = await deliver_due(
                    account, conn, smtp_settings_for(account), blobs=self.blobs, bus=self.bus
                )
                if report.deliveries[account.id].offline:
                    problem = AccountProblem(
                        account.id,
                        account.name,
                        _("The outgoing mail server of “{name}” could not be reached.").format(
                            name=account.name
                        ),
                        offline=True,
                    )
                    report.problems.append(problem)
                    self._publish_problem(problem)
                else:
                    self.bus.publish(ChangeEvent("online", frozenset(), account.id))
            except Exception as exc:
                problem = self._problem(account, exc)
                report.problems.append(problem)
                self._publish_problem(problem)
                with contextlib.suppress(Exception):
                    await sync.close()
        await channel_round
        if report.accounts:
            offline_msgs = [p.message for p in report.problems if p.offline]
            self._set_online(not report.offline, offline_msgs[0] if offline_msgs else "")
        self.bus.publish(ChangeEvent("sync_finished"))
        return report

    async def _channel_once(self, account: Account, report: EngineReport) -> None:
        """One round of a marketplace account: its listing, then its due replies; errors stay with it."""
        sync = self.channel_sync_for(account)
        try:
            report.channel_syncs[account.id] = ChannelSyncReport()
            await sync.sync_once(report.channel_syncs[account.id])
        except Exception as exc:
            problem = self._problem(account, exc)
            report.problems.append(problem)
            self._publish_problem(problem)
            if problem.needs_reconnect or problem.bug:
                return
        # Replies go out even when the listing failed half-way (a 503 on one page says little about M12).
        try:
            delivery = await self._deliver_channel(account, sync)
            report.deliveries[account.id] = delivery
            await perform_due(account.id, await sync.channel())  # "read" / "closed" told to the marketplace
            if delivery.offline and not any(p.account_id == account.id for p in report.problems):
                problem = AccountProblem(
                    account.id,
                    account.name,
                    _("“{name}” could not be reached; queued replies stay queued.").format(name=account.name),
                    offline=True,
                )
                report.problems.append(problem)
                self._publish_problem(problem)
            elif not any(p.account_id == account.id for p in report.problems):
                self.bus.publish(ChangeEvent("online", frozenset(), account.id))
        except Exception as exc:
            problem = self._problem(account, exc)
            report.problems.append(problem)
            self._publish_problem(problem)

    def _publish_problem(self, problem: AccountProblem) -> None:
        """An account's failure on the bus: ``error`` (the message), and ``offline`` when it could not reach
        its server (the account's state, see ``sync.account_state``)."""
        self.bus.publish(ChangeEvent("error", frozenset(), problem.account_id, problem.message))
        if problem.offline:
            self.bus.publish(ChangeEvent("offline", frozenset(), problem.account_id, problem.message))

    async def _deliver_channel(self, account: Account, sync: ChannelAccountSync) -> DeliveryReport:
        return await deliver_due_channel(account, await sync.channel(), blobs=self.blobs, bus=self.bus)

    async def _channel_loop(self, account: Account, stop_event: asyncio.Event) -> None:
        """The window's loop of one marketplace account: a round every ``poll_interval``, or after a backoff
        (the vendor's Retry-After when given) when the round failed."""
        sync = self.channel_sync_for(account)
        spec = self.registry.spec_for(account.kind)
        interval = spec.poll_interval if spec is not None else 120.0
        loop = asyncio.get_running_loop()
        while not stop_event.is_set():
            try:
                await sync.sync_once()
                await self._deliver_channel(account, sync)
                await perform_due(account.id, await sync.channel())
                wait = interval
                self.bus.publish(ChangeEvent("online", frozenset(), account.id))
            except Exception as exc:
                problem = self._problem(account, exc)
                self._publish_problem(problem)
                wait = max(sync.backoff(exc), interval if problem.needs_reconnect else 0.0)
            # Until the next round: deliver a reply as soon as one is queued (here or by another copy).
            until = loop.time() + wait
            while not stop_event.is_set() and loop.time() < until:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop_event.wait(), timeout=min(OUTBOX_POLL, until - loop.time()))
                if stop_event.is_set():
                    break
                try:
                    if has_due(account_ids=[account.id]):
                        await self._deliver_channel(account, sync)
                    if has_due_actions(account.id):  # the seller read or closed a conversation meanwhile
                        await perform_due(account.id, await sync.channel())
                except Exception as exc:
                    problem = self._problem(account, exc)
                    self.bus.publish(ChangeEvent("error", frozenset(), account.id, problem.message))
                    break
        await sync.close()

    def wake_outbox(self) -> None:
        """Deliver now (call after queueing a reply)."""
        self._outbox_wake.set()

    async def _delivery_loop(self, stop_event: asyncio.Event) -> None:
        backoff = 1.0
        while not stop_event.is_set():
            delivered_ok = True
            for account in self.accounts():
                conn = ImapConnection(
                    imap_settings_for(mail_settings(account), account_password(account, "imap"))
                )
                try:
                    await conn.connect()
                    result = await deliver_due(
                        account, conn, smtp_settings_for(account), blobs=self.blobs, bus=self.bus
                    )
                    delivered_ok = delivered_ok and not result.offline
                except Exception as exc:
                    problem = self._problem(account, exc)
                    delivered_ok = False
                    self.bus.publish(ChangeEvent("error", frozenset(), account.id, problem.message))
                finally:
                    await conn.close()
            wait = OUTBOX_INTERVAL if delivered_ok else backoff
            backoff = 1.0 if delivered_ok else min(backoff * 2, MAX_BACKOFF)
            self._outbox_wake.clear()
            await self._wait_for_work(stop_event, wait, poll=delivered_ok)

    async def _wait_for_work(self, stop_event: asyncio.Event, wait: float, *, poll: bool) -> None:
        """Until ``wait`` s passed, ``wake_outbox``, ``stop_event``, or (``poll``) a reply became due: one
        queued by another copy of the app on this profile (a second window, the CLI) is delivered by this
        one, which holds the sync lock."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        waker = asyncio.ensure_future(self._outbox_wake.wait())
        stopper = asyncio.ensure_future(stop_event.wait())
        try:
            while True:
                left = deadline - loop.time()
                if left <= 0:
                    return
                done, _pending = await asyncio.wait(
                    {waker, stopper},
                    timeout=min(left, OUTBOX_POLL) if poll else left,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if done or (poll and self._due_elsewhere()):
                    return
        finally:
            waker.cancel()
            stopper.cancel()

    def _due_elsewhere(self) -> bool:
        try:
            return has_due(account_ids=[a.id for a in self.accounts()])
        except Exception as exc:  # a busy or full database: the next round will tell
            log.info("could not look at the outbox: %s", exc)
            return False

    def _track(self, event: ChangeEvent) -> None:
        if event.kind == "offline" and event.account_id is not None:
            self._offline_accounts.add(event.account_id)
        elif event.kind == "online" and event.account_id is not None:
            self._offline_accounts.discard(event.account_id)
        else:
            return
        count = len(self.accounts()) + len(self.channel_accounts())
        if count:
            self._set_online(len(self._offline_accounts) < count, event.message)

    async def _wait_for_lock(self, stop_event: asyncio.Event) -> bool:
        """Until this process holds the profile's sync lock (True) or ``stop_event`` (False)."""
        if self.lock is None or self.lock.acquire():
            return True
        log.info("another process (pid %s) holds %s: waiting", self.lock.holder_pid(), self.lock.path)
        self.bus.publish(ChangeEvent("error", frozenset(), None, elsewhere_message()))
        while not stop_event.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_event.wait(), timeout=LOCK_RETRY)
            if not stop_event.is_set() and self.lock.acquire():
                log.info("took over the sync of this profile")
                return True
        return False

    async def run_forever(self, stop_event: asyncio.Event) -> None:
        """Continuous mode for the window: IDLE per account plus the delivery loop, until ``stop_event``.

        Waits (working from the database meanwhile) while another copy of the app syncs this profile."""
        if not await self._wait_for_lock(stop_event):
            return
        self._offline_accounts: set[int] = set()
        unsubscribe = self.bus.subscribe(self._track)
        tasks = [asyncio.ensure_future(self.sync_for(a).idle_loop(stop_event)) for a in self.accounts()]
        tasks += [asyncio.ensure_future(self._channel_loop(a, stop_event)) for a in self.channel_accounts()]
        tasks.append(asyncio.ensure_future(self._delivery_loop(stop_event)))
        try:
            await stop_event.wait()
        finally:
            stop_event.set()
            # The loops watch stop_event and close their connections themselves (an IDLE slice ends within
            # about a second); cancelling them mid-close would leak sockets, so cancel only stragglers.
            _done, late = await asyncio.wait(tasks, timeout=STOP_GRACE)
            for task in late:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            unsubscribe()
            await self.close()

    async def close(self) -> None:
        """Close every account's connection and the database worker's connection (see ``db_worker``)."""
        for sync in self._syncs.values():
            with contextlib.suppress(Exception):
                await sync.close()
        self._syncs.clear()
        for channel_sync in self._channel_syncs.values():
            await channel_sync.close()
        self._channel_syncs.clear()
        await self.states.flush()
        await close_db_connection()
        if self.lock is not None:
            self.lock.release()


def elsewhere_message() -> str:
    """What the user is told when another copy of the app holds this profile's sync lock."""
    return _(
        "Another Inbox App is syncing this profile; it also sends the replies queued here. This one works "
        "from the stored mail until the other one stops."
    )
