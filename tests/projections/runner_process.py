"""Projection runners as a process of their own, as the crash and takeover tests need them:

    python -m tests.projections.runner_process --runner-id ID [--page-events N] NAME [NAME ...]

NAME is a projection the ledger ships or the tests-only event_counts. Runs until SIGTERM
(stopping cleanly) or SIGKILL (not at all cleanly, which is the point).
"""

import argparse
import sys

from ledger.projections.catalog import PROJECTIONS
from ledger.projections.runner import PAGE_EVENTS
from service.projections_cli import run_until_signalled
from tests.projections.event_counts import EVENT_COUNTS


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.projections.runner_process")
    parser.add_argument("--runner-id", required=True)
    parser.add_argument("--page-events", type=int, default=PAGE_EVENTS)
    parser.add_argument("names", nargs="+")
    args = parser.parse_args()
    known = {**PROJECTIONS, EVENT_COUNTS.name: EVENT_COUNTS}
    return run_until_signalled(
        [known[name] for name in args.names], args.runner_id, page_events=args.page_events
    )


if __name__ == "__main__":
    sys.exit(main())
