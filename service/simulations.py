"""SimulateProgramChange's long-running operations (AIP-151): each what-if replay
(ledger/audit/what_if.py) runs in a thread of its own pool, off the event loop, while its
Operation is kept here for the google.longrunning.Operations service (service/operations.py)
to answer.

Operations live in this process's memory: at most MAX_OPERATIONS_KEPT, each kept
OPERATION_RETENTION after it finished, and gone with the process (README "What-if replay"
says what a client sees then). A result is cheap to make again: the replay writes nothing.
"""

import asyncio
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial

import structlog
from google.longrunning import operations_pb2
from google.protobuf import any_pb2
from google.rpc import code_pb2, status_pb2

from ledger.application import Ledger
from ledger.audit.replay import ReplayStopped
from ledger.audit.what_if import Figures, Proposal, WhatIfReport, what_if
from ledger.currency import NANOS_PER_UNIT
from ledger.domain.errors import LedgerError, NotFound
from loyalty.v1 import ledger_pb2 as pb
from service.errors import LimitExceeded, status_proto
from service.mapping import timestamp
from service.names import account_name, program_name

log = structlog.get_logger(__name__)

MAX_OPERATIONS_KEPT = 100
"""Operations held at once, finished or not; the oldest finished one makes room."""
MAX_SIMULATIONS_UNFINISHED = 8
"""Simulations running or waiting for a thread at once; more are refused (SIMULATIONS_BUSY)."""
SIMULATION_THREADS = 1
"""Replays at once: each takes a core's worth of Python while it runs."""
OPERATION_RETENTION = timedelta(hours=24)
MAX_MEMBERS_IN_RESPONSE = 10_000
"""A response holds at most this many members (about 100 bytes each: well under the 4 MiB
a message may have); the rest are counted, and in the totals."""
OPERATIONS_SEGMENT = "operations"
LINKS_PER_READ = 1_000
"""Member links looked up per query, to name the response's accounts."""


@dataclass
class Simulation:
    """One SimulateProgramChange operation: what it was asked, how far it is, how it ended."""

    name: str
    sequence: int
    program_id: str
    proposed_revision: int
    period_start: datetime
    period_end: datetime
    create_time: datetime
    run_time: datetime | None = None
    finish_time: datetime | None = None
    events_replayed: int = 0
    events_total: int = 0
    cancel_requested: bool = False
    response: pb.SimulateProgramChangeResponse | None = None
    error: status_pb2.Status | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def done(self) -> bool:
        return self.finished.is_set()

    def progressed(self, done: int, total: int) -> None:
        """From the replay's thread: plain assignments, read by the event loop's."""
        self.events_replayed, self.events_total = done, total

    def metadata(self) -> pb.SimulateProgramChangeMetadata:
        total = self.events_total
        replayed = min(self.events_replayed, total) if total else self.events_replayed
        metadata = pb.SimulateProgramChangeMetadata(
            program=program_name(self.program_id),
            proposed_revision=self.proposed_revision,
            period_start_time=timestamp(self.period_start),
            period_end_time=timestamp(self.period_end),
            events_replayed=replayed,
            events_total=total,
            progress_percent=100 if self.response is not None else _percent(replayed, total),
            create_time=timestamp(self.create_time),
            cancel_requested=self.cancel_requested,
        )
        if self.run_time is not None:
            metadata.run_time.CopyFrom(timestamp(self.run_time))
        if self.finish_time is not None:
            metadata.finish_time.CopyFrom(timestamp(self.finish_time))
        return metadata

    def operation(self) -> operations_pb2.Operation:
        operation = operations_pb2.Operation(name=self.name, done=self.done)
        operation.metadata.Pack(self.metadata())
        if self.error is not None:
            operation.error.CopyFrom(self.error)
        elif self.response is not None:
            packed = any_pb2.Any()
            packed.Pack(self.response)
            operation.response.CopyFrom(packed)
        return operation


def _percent(done: int, total: int) -> int:
    return min(99, done * 100 // total) if total else 0


class Simulations:
    """The operations of this process, and the threads that run their replays."""

    def __init__(self, ledger: Ledger, conninfo: str, now: Callable[[], datetime]) -> None:
        self._ledger = ledger
        self._conninfo = conninfo
        self._now = now
        self._operations: dict[str, Simulation] = {}
        """By name, in the order they were started (dicts keep it)."""
        self._sequence = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._threads = ThreadPoolExecutor(SIMULATION_THREADS, thread_name_prefix="what-if")

    def start(
        self, program_id: str, proposal: Proposal, period_start: datetime, period_end: datetime
    ) -> Simulation:
        self._forget_expired()
        unfinished = sum(not each.done for each in self._operations.values())
        if unfinished >= MAX_SIMULATIONS_UNFINISHED or not self._room():
            raise LimitExceeded(
                f"{unfinished} simulations are running or waiting, or {MAX_OPERATIONS_KEPT}"
                " operations are kept; retry when one has finished",
                reason="SIMULATIONS_BUSY",
                retry_after_seconds=10.0,
            )
        self._sequence += 1
        name = f"{program_name(program_id)}/{OPERATIONS_SEGMENT}/{uuid.uuid4().hex}"
        simulation = Simulation(
            name,
            self._sequence,
            program_id,
            proposal if isinstance(proposal, int) else 0,
            period_start,
            period_end,
            self._now(),
        )
        self._operations[name] = simulation
        task = asyncio.create_task(self._run(simulation, proposal))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return simulation

    def get(self, name: str) -> Simulation:
        self._forget_expired()
        simulation = self._operations.get(name)
        if simulation is None:
            raise NotFound(
                f"no operation {name!r} in this server process: operations are kept in the"
                f" memory of the process that started them, for"
                f" {OPERATION_RETENTION.total_seconds() / 3600:g} hours after they finish; after"
                " a restart, or on another pod, start the simulation again",
                field_name="name",
                reason="OPERATION_NOT_FOUND",
            )
        return simulation

    def listed(self, prefix: str, after_sequence: int) -> Iterator[Simulation]:
        """Operations whose names start with `prefix`, oldest first, after a sequence."""
        self._forget_expired()
        for simulation in self._operations.values():
            if simulation.sequence > after_sequence and simulation.name.startswith(prefix):
                yield simulation

    def cancel(self, name: str) -> Simulation:
        """Cancelled at once (AIP-151: error CANCELLED), the replay told to stop; an
        operation already done is left as it is."""
        simulation = self.get(name)
        if not simulation.done:
            simulation.cancel_requested = True
            simulation.stop.set()
            self._finish(
                simulation,
                error=status_pb2.Status(
                    code=code_pb2.CANCELLED, message="cancelled by CancelOperation"
                ),
            )
        return simulation

    def delete(self, name: str) -> None:
        """Forgotten; a replay still running is stopped: no one can read its result."""
        simulation = self.get(name)
        simulation.stop.set()
        del self._operations[name]

    async def close(self) -> None:
        for simulation in self._operations.values():
            simulation.stop.set()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._threads.shutdown(wait=True, cancel_futures=True)

    async def _run(self, simulation: Simulation, proposal: Proposal) -> None:
        loop = asyncio.get_running_loop()
        replay = partial(
            what_if,
            self._conninfo,
            simulation.program_id,
            proposal,
            simulation.period_start,
            simulation.period_end,
            progress=simulation.progressed,
            stop=simulation.stop,
            pause_collector=False,
        )

        def started() -> WhatIfReport:
            # Threads are few: the time it began is when one took it.
            loop.call_soon_threadsafe(self._began, simulation)
            return replay()

        try:
            report = await loop.run_in_executor(self._threads, started)
            response = await self._response(report)
        except ReplayStopped:
            return  # cancelled (or deleted): finished when it was asked
        except LedgerError as error:
            self._finish(simulation, error=status_proto(error))
            return
        except Exception:
            log.exception("simulation_failed", operation=simulation.name)
            self._finish(
                simulation,
                error=status_pb2.Status(
                    code=code_pb2.INTERNAL, message="the replay failed; it has been logged"
                ),
            )
            return
        self._finish(simulation, response=response)

    def _began(self, simulation: Simulation) -> None:
        if simulation.run_time is None:
            simulation.run_time = self._now()

    def _finish(
        self,
        simulation: Simulation,
        *,
        response: pb.SimulateProgramChangeResponse | None = None,
        error: status_pb2.Status | None = None,
    ) -> None:
        if simulation.done:
            return  # cancelled while its replay ended
        simulation.response, simulation.error = response, error
        simulation.finish_time = self._now()
        simulation.finished.set()
        log.info(
            "simulation_finished",
            operation=simulation.name,
            events_replayed=simulation.events_replayed,
            status=code_pb2.Code.Name(error.code) if error is not None else "OK",
        )

    async def _response(self, report: WhatIfReport) -> pb.SimulateProgramChangeResponse:
        keys = [key for key, _ in report.members[:MAX_MEMBERS_IN_RESPONSE]]
        ids: dict[str, str] = {}
        for first in range(0, len(keys), LINKS_PER_READ):
            wanted = [(report.program_id, key) for key in keys[first : first + LINKS_PER_READ]]
            found = await self._ledger.log.member_ids(wanted)
            ids.update({key: member_id for (_, key), member_id in found.items()})
        return simulation_response(report, ids)

    def _room(self) -> bool:
        if len(self._operations) < MAX_OPERATIONS_KEPT:
            return True
        oldest_done = next((name for name, each in self._operations.items() if each.done), None)
        if oldest_done is None:
            return False
        del self._operations[oldest_done]
        return True

    def _forget_expired(self) -> None:
        horizon = self._now() - OPERATION_RETENTION
        expired = [
            name
            for name, each in self._operations.items()
            if each.finish_time is not None and each.finish_time < horizon
        ]
        for name in expired:
            del self._operations[name]


def simulation_response(
    report: WhatIfReport, member_ids: dict[str, str]
) -> pb.SimulateProgramChangeResponse:
    """What `loyalty-ledger what-if --json` prints, as the API's message; `member_ids` by
    member key (a forgotten member has none, and no account name)."""
    tiers = dict(report.tiers)
    listed = report.members[:MAX_MEMBERS_IN_RESPONSE]
    recorded_moves, proposed_moves = report.tier_moves()
    response = pb.SimulateProgramChangeResponse(
        program=program_name(report.program_id),
        proposed_revision=report.proposed_revision or 0,
        period_start_time=timestamp(report.start),
        period_end_time=timestamp(report.end),
        events_rerun=report.events,
        total=_figures(report.total),
        members_omitted=len(report.members) - len(listed),
        liability_difference=[
            _money(currency, amount) for currency, amount in report.liability_difference().items()
        ],
        tier_moves_recorded=recorded_moves,
        tier_moves_proposed=proposed_moves,
        members_per_tier=[
            pb.SimulatedTierCount(tier=tier, members_recorded=recorded, members_proposed=proposed)
            for tier, (recorded, proposed) in report.members_per_tier().items()
        ],
    )
    for key, figures in listed:
        member = response.members.add(member_key=key, figures=_figures(figures))
        member_id = member_ids.get(key)
        if member_id is not None:
            member.account = account_name(report.program_id, member_id)
        line = tiers.get(key)
        if line is not None:
            member.tier_recorded, member.tier_proposed = line.recorded, line.proposed
            member.tier_moves_recorded = line.recorded_moves
            member.tier_moves_proposed = line.proposed_moves
    return response


def _figures(figures: Figures) -> pb.SimulatedFigures:
    return pb.SimulatedFigures(
        points_recorded=figures.recorded_total,
        points_proposed=figures.simulated_total,
        difference=figures.difference,
        by_kind=[
            pb.SimulatedPoints(kind=kind, points_recorded=recorded, points_proposed=proposed)
            for kind, (recorded, proposed) in figures.by_kind().items()
        ],
    )


def _money(currency_code: str, amount: Decimal) -> pb.Money:
    """Exact: a point value is whole nanos, times whole points."""
    nanos_total = int(amount * NANOS_PER_UNIT)
    assert nanos_total == amount * NANOS_PER_UNIT, amount
    sign = -1 if nanos_total < 0 else 1
    units, nanos = divmod(abs(nanos_total), NANOS_PER_UNIT)
    return pb.Money(currency_code=currency_code, units=sign * units, nanos=sign * nanos)
