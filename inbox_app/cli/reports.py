"""``inbox-app report``: response times and late responses per channel, account, category, agent or language.

The figures come from :func:`inbox_app.services.reports.compute_report` (definitions in
:mod:`inbox_app.domain.reports`), the same call the report window makes. ``--from``/``--to`` are dates in the
user's time zone, inclusive; the default is the last 30 days. ``--json`` prints the summary, ``--csv FILE``
writes one row per episode starting in the period, ``--xlsx FILE`` a workbook with the summary, one row per
conversation and one per episode.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from inbox_app.cli import CliError, profile_from_args
from inbox_app.domain.reports import DEFAULT_PERIOD_DAYS, GroupBy, GroupFigures, Period
from inbox_app.i18n import _, format_duration, format_number


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("report", help=_("response times and late responses of a period"))
    p.add_argument(
        "--from", dest="date_from", default=None, help=_("first day, YYYY-MM-DD (default: 30 days ago)")
    )
    p.add_argument(
        "--to", dest="date_to", default=None, help=_("last day, YYYY-MM-DD, inclusive (default: today)")
    )
    p.add_argument(
        "--by",
        default=GroupBy.CHANNEL.value,
        choices=[g.value for g in GroupBy],
        help=_("group the figures by this (default: channel)"),
    )
    p.add_argument("--json", action="store_true", help=_("print JSON instead of a table"))
    p.add_argument(
        "--csv", type=Path, default=None, metavar="FILE", help=_("write one row per episode to FILE")
    )
    p.add_argument(
        "--xlsx",
        type=Path,
        default=None,
        metavar="FILE",
        help=_("write the summary, one row per conversation and one per episode to an XLSX workbook"),
    )
    p.set_defaults(func=run_report, read_only_ok=True)


def _parse_day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise CliError(
            _("{option} needs a date like 2026-11-30, not {value!r}").format(option=option, value=text)
        ) from exc


def period_from_args(date_from: str | None, date_to: str | None, now: datetime) -> Period:
    zone = now.astimezone().tzinfo or UTC
    today = now.astimezone(zone).date()
    last = _parse_day(date_to, "--to") or today
    first = _parse_day(date_from, "--from") or (last - timedelta(days=DEFAULT_PERIOD_DAYS - 1))
    if last < first:
        raise CliError(_("--to ({to}) is before --from ({start})").format(to=last, start=first))
    return Period(first, last, zone)


def _label(group: GroupFigures, by: GroupBy) -> str:
    if group.is_total:
        return _("Total")
    if group.key is not None:
        return group.key
    if by in (GroupBy.CATEGORY, GroupBy.AGENT):
        return _("not set")
    return _("unknown")


def _dur(seconds: float | None) -> str:
    return "–" if seconds is None else format_duration(timedelta(seconds=seconds))


def run_report(args: argparse.Namespace) -> int:
    from inbox_app.services.reports import compute_report, summary_json, write_episodes_csv, write_xlsx

    now = datetime.now(UTC)
    period = period_from_args(args.date_from, args.date_to, now)
    by = GroupBy(args.by)
    profile = profile_from_args(args)
    try:
        report = compute_report(period, by, now)
        # the exports read the episode rows from the profile: before it is closed
        for path, write in (
            (args.csv, lambda p: write_episodes_csv(report, p)),
            (args.xlsx, lambda p: write_xlsx(report, p, _("Total"))),
        ):
            if path is None:
                continue
            try:
                write(path)
            except OSError as exc:
                raise CliError(
                    _("Cannot write {path}: {error}").format(path=path, error=exc.strerror or exc)
                ) from exc
    finally:
        profile.close()
    if args.json:
        print(json.dumps(summary_json(report), ensure_ascii=False, indent=2))
        return 0
    header = [
        _("Group"),
        _("Conversations"),
        _("Inbound"),
        _("Replies"),
        _("First response (median)"),
        _("First response (p90)"),
        _("Response (median)"),
        _("Late rate"),
        _("Overdue now"),
    ]
    rows = [header]
    for g in [*report.groups, report.total]:
        rate = (
            "–"
            if g.late_response_rate is None
            else f"{format_number(round(g.late_response_rate * 100, 1))} %"
        )
        rows.append(
            [
                _label(g, by),
                format_number(g.conversations),
                format_number(g.inbound),
                format_number(g.replies),
                _dur(g.first_response_median_s),
                _dur(g.first_response_p90_s),
                _dur(g.response_median_s),
                rate,
                format_number(g.open_overdue),
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    print(_("Report {start} – {end}").format(start=period.first.isoformat(), end=period.last.isoformat()))
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
    return 0
