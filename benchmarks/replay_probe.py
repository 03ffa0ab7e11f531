"""Runs the finance replay (or, with --report, the finance report riding on it) in a process of
its own so its peak memory can be read."""

import argparse
import json
import os
import resource
import time

from ledger.audit.finance_report import AuditReport, audit_report
from ledger.audit.replay import replay
from ledger.audit.report import Report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conninfo", required=True)
    parser.add_argument("--program")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--report", action="store_true", help="the finance report's figures too")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.report:
        result: Report | AuditReport = audit_report(
            args.conninfo, args.program, workers=args.workers
        )
    else:
        result = replay(args.conninfo, args.program, workers=args.workers)
    elapsed = time.perf_counter() - started
    print(
        json.dumps(
            {
                "events": result.events,
                "streams": result.streams,
                "ok": result.ok,
                "discrepancies": result.discrepancy_count,
                "report": args.report,
                "seconds": elapsed,
                "per_second": result.events / elapsed if elapsed else 0.0,
                "workers": args.workers,
                # This process replays too, beside workers - 1 others; ru_maxrss of children
                # is the largest single worker's peak, so it counts for each of them.
                "peak_rss_mib": (
                    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                    + (args.workers - 1) * resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
                )
                / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
