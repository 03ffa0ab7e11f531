"""`loyalty-ledger audit --report json|csv|html`: the finance report, written from the audit's
one replay (ledger/audit/finance_report.py), with progress on a terminal."""

import argparse
import csv
import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import TextIO

from ledger import bootstrap
from ledger.domain.errors import NotFound
from ledger.projections.progress import TerminalProgress
from service.cli_exits import NOTHING_TO_DO, refused

FORMATS = ("json", "csv", "html")


def add_report_options(audit: argparse.ArgumentParser) -> None:
    audit.add_argument(
        "--report",
        choices=FORMATS,
        help="write the points liability report (README, 'Audit report') instead of the summary",
    )
    audit.add_argument(
        "--as-of",
        type=as_of_argument,
        help="the report as of a date (that day's end in each program's time zone) or an"
        " instant with its offset (2026-03-31T18:00:00Z): later events are left out",
    )
    audit.add_argument(
        "--output", type=Path, help="write the report to this file rather than to stdout"
    )
    audit.add_argument(
        "--progress",
        action="store_true",
        help="show progress (rate and time left) on stderr even when it is not a terminal",
    )


def as_of_argument(text: str) -> date | datetime:
    try:
        if len(text) == len("2026-03-31"):
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a date (2026-03-31) nor an instant (2026-03-31T18:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no offset: add Z or +hh:mm")
    return moment


def run_report(args: argparse.Namespace) -> int:
    """Exit status as the audit's: 1 if the log has a discrepancy (the report is written
    anyway, and says so), 2 for a program the log does not hold (nothing written)."""
    from ledger.audit.finance_report import as_json, audit_report, csv_rows
    from ledger.audit.report_html import render_html

    shown = (
        TerminalProgress("audit report", sys.stderr)
        if (args.progress or sys.stderr.isatty())
        else None
    )
    try:
        report = audit_report(
            bootstrap.database_url(),
            args.program,
            as_of=args.as_of,
            workers=args.workers,
            progress=None if shown is None else shown.update,
        )
    except NotFound as error:
        return refused(error, NOTHING_TO_DO)
    if shown is not None:
        shown.finish(report.events)
    with _Opened(args.output) as output:
        if args.report == "json":
            json.dump(as_json(report), output, indent=2)
            output.write("\n")
        elif args.report == "csv":
            csv.writer(output, lineterminator="\n").writerows(csv_rows(report))
        else:
            output.write(render_html(report))
    return 0 if report.ok else 1


class _Opened:
    """stdout, or the file named (closed afterwards)."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._file: TextIO | None = None

    def __enter__(self) -> TextIO:
        if self._path is None:
            return sys.stdout
        self._file = self._path.open("w", encoding="utf-8", newline="")
        return self._file

    def __exit__(self, *_: object) -> None:
        if self._file is not None:
            self._file.close()
