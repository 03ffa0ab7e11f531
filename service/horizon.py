"""The periodic check of the read horizon: a warning in the logs while readers are held back.

See ledger/eventlog/horizon.py for what the horizon is, and the README for what to do.
"""

import asyncio
import time
from dataclasses import dataclass

import structlog

from ledger.application import Ledger
from ledger.cancellation import honour_lost_cancellation
from ledger.domain.errors import LedgerError
from ledger.eventlog.horizon import ReadHorizon

log = structlog.get_logger(__name__)


@dataclass
class LastHorizon:
    """The last check's report, for the metrics (service/metrics.py): None before the first."""

    report: ReadHorizon | None = None


class HorizonWatch:
    """Decides, check after check, whether readers have been held back too long."""

    def __init__(self, warn_after_seconds: float) -> None:
        self._warn_after_seconds = warn_after_seconds
        self._stuck_since: tuple[int, float] | None = None
        """(horizon, first seen) while committed events wait behind an unmoving horizon."""

    def held_back(self, report: ReadHorizon, now_seconds: float) -> bool:
        if report.held_seconds >= self._warn_after_seconds:
            return True
        # A holder this role may not see (no pg_read_all_stats) still shows: events wait
        # while the horizon stays where it was.
        if report.hidden_events == 0:
            self._stuck_since = None
            return False
        if self._stuck_since is None or self._stuck_since[0] != report.horizon_transaction_id:
            self._stuck_since = (report.horizon_transaction_id, now_seconds)
            return False
        return now_seconds - self._stuck_since[1] >= self._warn_after_seconds


async def watch_read_horizon(
    ledger: Ledger,
    interval_seconds: float,
    warn_after_seconds: float,
    last: LastHorizon | None = None,
) -> None:
    watch = HorizonWatch(warn_after_seconds)
    warned = False
    while True:
        await asyncio.sleep(interval_seconds)
        try:
            report = await ledger.read_horizon()
        except LedgerError:
            honour_lost_cancellation()
            continue  # the database is unreachable: the health watch reports that
        honour_lost_cancellation()
        if last is not None:
            last.report = report
        if watch.held_back(report, time.monotonic()):
            log.warning("read_horizon_held_back", **report.as_dict())
            warned = True
        elif warned:
            log.info("read_horizon_released", **report.as_dict())
            warned = False
