"""Replays the log from PostgreSQL: verifies every stream's hash chain, that versions are
contiguous, that the domain's invariants hold after every event, and that the balances stored
on each event and on each stream's state row equal the ones recomputed from the events alone.

This module drives it: the exported snapshot, the key ranges and the worker processes that take
them in turn. Reading is ledger.store.audit_reader's, the checks ledger.audit.invariants', and
what they find goes into a ledger.audit.report.Report that each worker fills and this process
merges. Memory holds one stream's state and one batch of rows per worker whatever the size of
the log. Any discrepancy names the stream, the version and the event id.
"""

import gc
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from functools import partial
from itertools import count
from multiprocessing import get_context
from typing import TYPE_CHECKING

from ledger.audit.invariants import check_range
from ledger.audit.report import AccumulatorFactory, FinalBalances, Report
from ledger.domain.errors import NotFound
from ledger.store.audit_reader import (
    ExportedSnapshot,
    KeyRange,
    exported_snapshot,
    snapshot_reader,
)

if TYPE_CHECKING:
    from multiprocessing.sharedctypes import Synchronized

MAX_WORKERS = 64
RANGES_PER_WORKER = 8
"""A parallel replay cuts the log into this many key ranges per worker, taken in turn by
whichever worker is free, so one that starts later or draws a long stream takes fewer."""


def replay(
    conninfo: str,
    program_id: str | None = None,
    *,
    keep_balances: bool = False,
    workers: int = 1,
    accumulators: Iterable[AccumulatorFactory] = (),
    planned: Callable[[ExportedSnapshot], Iterable[AccumulatorFactory]] | None = None,
    progress: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
    pause_collector: bool = True,
) -> Report:
    """Replays the log (or one program's streams). With `workers` > 1 the streams are cut
    into key ranges of about equal numbers of events, which this process and `workers` - 1
    others take in turn. Every connection reads one exported snapshot, so the report is the
    same as one process's, as of one instant.

    `keep_balances` keeps each account's recomputed balances (Report.final_balances);
    `accumulators` make the report's further accumulators (a finance report's), and
    `planned` more of them from what the snapshot holds, read before the replay starts (the
    finance report's program calendars). `progress(done, total)` is called from a thread of
    this process a few times a second with the events replayed so far and about how many
    there are. Raises NotFound if `program_id` names a program the log does not hold.

    `stop`, once set, ends the replay between two key ranges with ReplayStopped (this
    process's ranges: a replay that should stop runs with one worker). `pause_collector`
    False leaves the cyclic collector alone: a server replaying in a thread must not turn it
    off for its other work."""
    assert 1 <= workers <= MAX_WORKERS
    factories: tuple[AccumulatorFactory, ...] = (
        *((FinalBalances,) if keep_balances else ()),
        *accumulators,
    )
    with ExitStack() as stack:
        pool: ProcessPoolExecutor | None = None
        context = get_context(worker_start_method() if workers > 1 else None)
        # Events replayed so far by every process, added a range at a time.
        done = context.Value("q", 0)
        if workers > 1:
            taken = context.Value("i", 0)
            pool = stack.enter_context(
                ProcessPoolExecutor(
                    workers - 1, mp_context=context, initializer=_share, initargs=(taken, done)
                )
            )
            # The workers start now, before this process opens any connection: a forked one
            # then holds no socket of ours, and a spawned one starts up while we connect.
            pool.submit(int)
        snapshot = stack.enter_context(exported_snapshot(conninfo))
        if program_id is not None and not snapshot.holds_program(program_id):
            raise NotFound(
                f"no such program: {program_id!r}",
                field_name="program",
                reason="PROGRAM_NOT_FOUND",
            )
        if planned is not None:
            factories = (*factories, *planned(snapshot))
        parts_wanted = workers * RANGES_PER_WORKER if workers > 1 else 1
        if progress is not None:
            # Progress is counted a range at a time: more ranges, finer steps.
            parts_wanted = workers * RANGES_PER_WORKER * PROGRESS_RANGES_FACTOR
            stack.enter_context(_progress_shown(progress, done, snapshot.events_total(program_id)))
        job = _Job(
            conninfo,
            program_id,
            factories,
            snapshot.snapshot_id,
            tuple(snapshot.key_ranges(program_id, parts_wanted)),
            pause_collector,
        )
        if pool is None:
            parts = [_work(job, count().__next__, done, stop)]
        else:
            others = [pool.submit(_work_in_pool, job) for _ in range(workers - 1)]
            # This process replays too, taking ranges while the others start up.
            parts = [_work(job, partial(_take, taken), done, stop)]
            parts += [other.result() for other in others]
    merged = Report(job.factories)
    for part in parts:
        merged.merge(part)
    return merged


@dataclass(frozen=True)
class _Job:
    conninfo: str
    program_id: str | None
    factories: tuple[AccumulatorFactory, ...]
    snapshot_id: str
    ranges: tuple[KeyRange, ...]
    pause_collector: bool = True


class ReplayStopped(Exception):
    """The replay's `stop` was set: it ended before every range was read."""


def worker_start_method() -> str:
    """fork where it is safe (Linux, and no other thread in this process, Python's or a C
    library's, that a child could inherit mid-operation): the workers then start without
    importing anything again."""
    if sys.platform == "linux" and threading.active_count() == 1 and _os_threads() == 1:
        return "fork"
    return "spawn"


def _os_threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 0  # unknown: not safe to fork


_taken: "Synchronized[int] | None" = None
"""In a pool worker: how many of the job's ranges have been taken, shared by all workers."""
_done: "Synchronized[int] | None" = None
"""In a pool worker: how many events every process has replayed, shared by all."""


def _share(taken: "Synchronized[int]", done: "Synchronized[int]") -> None:
    # Set once per pool process, by its initializer.
    global _taken, _done
    _taken, _done = taken, done


def _take(taken: "Synchronized[int]") -> int:
    with taken.get_lock():
        index: int = taken.value
        taken.value = index + 1
    return index


def _work_in_pool(job: _Job) -> Report:
    assert _taken is not None and _done is not None
    return _work(job, partial(_take, _taken), _done)


def _work(
    job: _Job,
    take: Callable[[], int],
    done: "Synchronized[int]",
    stop: threading.Event | None = None,
) -> Report:
    """Replays ranges of `job`, as `take` hands out their indexes, until none is left (or
    `stop` is set)."""
    report = Report(job.factories)
    paused = _collector_paused() if job.pause_collector else nullcontext()
    with paused, snapshot_reader(job.conninfo, job.snapshot_id) as reader:
        while (index := take()) < len(job.ranges):
            if stop is not None and stop.is_set():
                raise ReplayStopped(f"stopped after {report.events} events")
            before = report.events
            with reader.read(job.program_id, job.ranges[index]) as (events, states):
                check_range(events, states, report)
            with done.get_lock():
                done.value += report.events - before
    return report


PROGRESS_SECONDS = 0.2
PROGRESS_RANGES_FACTOR = 4


@contextmanager
def _progress_shown(
    progress: Callable[[int, int], None], done: "Synchronized[int]", total: int
) -> Iterator[None]:
    """Calls `progress` every PROGRESS_SECONDS from a thread, and once more at the end."""
    stop = threading.Event()

    def show() -> None:
        while not stop.wait(PROGRESS_SECONDS):
            progress(done.value, total)

    shower = threading.Thread(target=show, name="replay-progress", daemon=True)
    shower.start()
    try:
        yield
    finally:
        stop.set()
        shower.join()
        progress(done.value, total)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The fold makes no reference cycles, yet allocates several objects per event: the
    cyclic collector's passes over them would only cost time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
