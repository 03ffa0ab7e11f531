"""The ledger as callers use it: execute commands (idempotent, group-committed) and read.

Group commit: requests queue per shard; a shard's worker takes every request waiting (up to
MAX_BATCH), loads their streams and earlier answers in one round trip, decides them in
order, and appends all their events in one statement. Under load many commands share one
transaction and one fsync; alone, a command still costs two round trips. Streams are
pinned to shards by key, so one process never races itself on a stream; only another
process (or a transfer spanning shards) can, and then the losers are re-decided one by one
against fresh state, at most MAX_ATTEMPTS times.
"""

import asyncio
import random
import time
import zlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TypeVar

from opentelemetry import metrics, trace

from ledger import program_history
from ledger.account_reads import BatchedAccountReads
from ledger.batch import Batch, Slot
from ledger.codec import snapshots
from ledger.domain import clock, decisions
from ledger.domain.account import AccountState, Balances
from ledger.domain.commands import ForgetMember, Sweep, validate
from ledger.domain.decide import housekeeping
from ledger.domain.decisions import Target
from ledger.domain.errors import Conflict, LedgerError, NotFound
from ledger.domain.kinds import ACCOUNT, PROGRAM, StreamKey, account_key, member_of
from ledger.domain.kinds import program_key as program_stream
from ledger.domain.stages import Stage
from ledger.entries import Entry, entry_of
from ledger.eventlog.errors import DuplicateRequest, StoreTimeout, StoreUnavailable
from ledger.eventlog.horizon import ReadHorizon
from ledger.eventlog.port import EventLog
from ledger.eventlog.records import EventRecord, Loaded, OrderKey, Position, StreamRow
from ledger.eventlog.schema import SchemaStatus
from ledger.members import MemberKeys, not_found
from ledger.outcomes import AccountView, Outcome, ProgramView
from ledger.program_history import ProgramRevision
from ledger.projections.member_directory import DirectoryEntry, DirectoryQuery, DirectoryReader
from ledger.projections.program_statistics import (
    ProgramFigures,
    StatisticsQuery,
    StatisticsReader,
)
from ledger.projections.stage_view import (
    ChangePosition,
    FeedChange,
    MemberStageRow,
    StageReader,
)
from ledger.referral_views import ReferralView, views_of
from ledger.requests import Request

MAX_BATCH = 256
"""Requests decided and appended together at most."""
MAX_QUEUED_PER_SHARD = 10_000
"""Waiting requests per shard before callers are made to wait for room (back-pressure)."""
MAX_ATTEMPTS = 10
"""Times a request is decided, losing races for its stream, before it is ABORTED."""
LINGER_SECONDS = 0.001
"""How long a shard waits for more requests before a batch, when busy."""
BACKOFF_SECONDS = 0.001
"""First retry waits up to this long; each later one up to twice as long as the one before."""
MAX_SWEEP_STREAMS = 1_000
"""Streams one sweep pass looks at; the next pass takes the rest."""
ANSWER_RETENTION = timedelta(days=30)
"""How long the answer to a request is kept for its retries (README "Personal data"):
far beyond any client's retry policy; a retry later than this is decided again."""
MAX_EXPIRED_PER_PASS = 10_000
"""Stored answers (and stray links) one expiry pass deletes at most."""
STRAY_LINK_AGE = timedelta(hours=1)
"""A link with no account is a stray once this old (no enrolment is in flight that long)."""
STRAY_LINK_WINDOW = timedelta(days=7)
"""How far back an expiry pass looks for stray links."""
MAX_CACHED_STREAMS = 20_000
"""Streams whose state is kept in memory between batches (least recently used go first)."""
MAX_CACHED_ORDERS_PER_STREAM = 32
"""Orders of one stream whose summaries are kept between batches (the latest looked up)."""
SHARED_CACHE_SECONDS = 1.0
"""Streams that decisions read without appending to (a program's settings) are re-read at
least this often, so a change made through another process applies here within a second.
The others need no such limit: a stale copy loses the race on the events' primary key and
is re-read."""

BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
"""Bounds of the batch size histogram's buckets, up to MAX_BATCH."""

Clock = Callable[[], datetime]


@dataclass
class LedgerStats:
    """Counters for metrics and benchmarks; only ever increased."""

    batches: int = 0
    requests: int = 0
    events_appended: int = 0
    loads: int = 0
    conflicts: int = 0
    duplicate_requests: int = 0
    store_errors: int = 0
    replays: int = 0
    """Requests answered again from their stored answer (retries, AIP-155)."""


@dataclass
class _Queued:
    request: Request
    future: asyncio.Future[Outcome] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    caller_span: trace.SpanContext | None = None
    """The span of the call that submitted it (when tracing): its batch's append links to it."""


class Ledger:
    def __init__(
        self,
        log: EventLog,
        now: Clock,
        *,
        shards: int = 2,
        max_batch: int = MAX_BATCH,
        directory: DirectoryReader | None = None,
        statistics: StatisticsReader | None = None,
        answer_retention: timedelta = ANSWER_RETENTION,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        stages: StageReader | None = None,
    ) -> None:
        """`directory`: where the member directory projection is read (None: not kept, and
        list_accounts fails UNAVAILABLE). `tracer_provider`: each batch's append is a span
        linked to the spans of the requests it served (None: not traced).
        `meter_provider`: the sizes of batches are measured (None: not measured). `stages`:
        the loyalty stage view (None: accounts are answered without a stage, and the stage
        feed fails UNAVAILABLE). `statistics`: where the program statistics are read (None: not
        kept, and program_statistics fails UNAVAILABLE)."""
        assert shards >= 1 and 1 <= max_batch <= MAX_BATCH
        self.log = log
        self._directory = directory
        self._stages = stages
        self._statistics = statistics
        self._account_reads = (
            None if stages is None else BatchedAccountReads(stages.accounts_with_stages)
        )
        self._members = MemberKeys(log)
        self._answer_retention = answer_retention
        self._now = now
        self._max_batch = max_batch
        self._queues: list[asyncio.Queue[_Queued]] = [
            asyncio.Queue(MAX_QUEUED_PER_SHARD) for _ in range(shards)
        ]
        # One cache for all shards, touched only from the event loop, so no lock.
        self._cache: OrderedDict[StreamKey, Slot] = OrderedDict()
        self.stats = LedgerStats()
        self._workers: list[asyncio.Task[None]] = []
        self._tracer = None if tracer_provider is None else tracer_provider.get_tracer("ledger")
        self._batch_sizes = (
            None
            if meter_provider is None
            else meter_provider.get_meter("ledger").create_histogram(
                "ledger.batch.requests",
                unit="{request}",
                description="Requests decided and appended together in one group commit",
                explicit_bucket_boundaries_advisory=list(BATCH_SIZE_BUCKETS),
            )
        )

    async def start(self) -> None:
        self._workers = [
            asyncio.create_task(self._work(queue), name=f"ledger-shard-{index}")
            for index, queue in enumerate(self._queues)
        ]

    async def stop(self) -> None:
        """Finishes every queued request, then stops the workers."""
        for queue in self._queues:
            await queue.join()
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []

    # --- writes ---------------------------------------------------------------------------

    def now(self) -> datetime:
        """The time commands are decided at (the clock the ledger was given)."""
        return self._now()

    async def execute(self, request: Request) -> Outcome:
        """Decides and appends `request`, addressed by the caller's member ids; the answer
        names the accounts by those ids too."""
        assert self._workers, "Ledger.start() first"
        # Refused before it reaches a batch, so bad input fails its own request only.
        validate(request.command)
        request.check_stream_ids()
        translation = await self._members.translate(request)
        try:
            outcome = await self._submit(translation.request)
        except NotFound as error:
            if not translation.from_cache or error.reason != "ACCOUNT_NOT_FOUND":
                raise
            # The cached link may lead to a member another process forgot (and the id may
            # have been enrolled again since): look the links up afresh, once.
            translation = await self._members.translate(request, fresh=True)
            outcome = await self._submit(translation.request)
        return self._members.answer(outcome, translation)

    async def forget_member(
        self,
        program_id: str,
        member_id: str,
        *,
        reason: str = "member_request",
        actor: str = "",
        trace_id: str = "",
        deadline: float | None = None,
    ) -> bool:
        """Erases the member's id (README "Personal data"): appends MemberForgotten to the
        account and, in the same transaction, deletes the link from the id to the account's
        key and every answer stored for the account's requests. True if this call forgot a
        member; False if the id is linked to none (never enrolled, or forgotten already), so
        forgetting twice is harmless. Writes racing it either land before it (and are
        forgotten with the rest) or find the account gone (NOT_FOUND)."""
        command = ForgetMember(reason)
        validate(command)
        # Looked up in the log, not the cache: another process may have forgotten it.
        self._members.drop(program_id, member_id)
        try:
            key = await self._members.key(program_id, member_id, "name", deadline=deadline)
        except NotFound:
            return False
        finally:
            # Not kept: the link is gone once the forget below commits.
            self._members.drop(program_id, member_id)
        request = Request(
            Target(program_id, key),
            command,
            None,
            actor=actor,
            trace_id=trace_id,
            deadline=deadline,
        )
        outcome = await self._submit(request)
        return outcome.appended > 0

    async def _submit(self, request: Request) -> Outcome:
        queued = _Queued(request)
        if self._tracer is not None:
            queued.caller_span = trace.get_current_span().get_span_context()
        queues = self._queues
        if len(queues) == 1:
            queue = queues[0]
        else:
            key = "/".join(request.target.stream).encode()
            queue = queues[zlib.crc32(key) % len(queues)]
        if queue.full():
            await queue.put(queued)  # back-pressure: wait for room
        else:
            queue.put_nowait(queued)
        return await queued.future

    async def sweep(self, limit: int = MAX_SWEEP_STREAMS) -> int:
        """Appends what is due now (lapsed holds, releases, expiries); returns events appended.
        Safe to run twice or on two pods at once: what one appended, the other finds done."""
        due = await self.log.due_streams(self._now(), min(limit, MAX_SWEEP_STREAMS))
        outcomes = await asyncio.gather(
            *(
                self._submit(Request(Target(program, member), Sweep(), None, actor="system:sweep"))
                for program, member in ((key[0], member_of(key[1])) for key in due)
                if member is not None
            )
        )
        return sum(outcome.appended for outcome in outcomes)

    async def expire(self) -> tuple[int, int]:
        """Deletes stored answers past their retention and stray links (made for an
        enrolment whose append failed), a bounded number of each; returns how many of each
        went. Run by the service after each sweep; safe on several pods at once."""
        now = self._now()
        answers = await self.log.expire_answers(now - self._answer_retention, MAX_EXPIRED_PER_PASS)
        strays = await self.log.unlink_strays(
            now - STRAY_LINK_AGE, now - STRAY_LINK_AGE - STRAY_LINK_WINDOW, MAX_EXPIRED_PER_PASS
        )
        return answers, strays

    async def _work(self, queue: asyncio.Queue[_Queued]) -> None:
        last_batch = 0
        while True:
            items = [await queue.get()]
            # Under load (the last batch was not alone), wait a moment for more requests:
            # a millisecond of latency buys fewer, larger appends and more throughput. A lone
            # request at low load goes at once, after one loop turn.
            await asyncio.sleep(LINGER_SECONDS if last_batch > 1 else 0)
            while len(items) < self._max_batch and not queue.empty():
                items.append(queue.get_nowait())
            last_batch = len(items)
            if self._batch_sizes is not None:
                self._batch_sizes.record(len(items))
            try:
                if self._tracer is None:
                    await self._run(items, attempt=1)
                else:
                    await self._traced_run(self._tracer, items)
            except Exception as error:
                for item in items:
                    if not item.future.done():
                        item.future.set_exception(error)
            finally:
                for _ in items:
                    queue.task_done()

    async def _traced_run(self, tracer: trace.Tracer, items: list[_Queued]) -> None:
        """One batch as a span of its own (it serves many calls, so none is its parent),
        linked to the span of every call it served; its queries are its children."""
        links = [
            trace.Link(item.caller_span)
            for item in items
            if item.caller_span is not None and item.caller_span.is_valid
        ]
        with tracer.start_as_current_span(
            "ledger.append_batch",
            links=links,
            attributes={"ledger.batch.requests": len(items)},
        ):
            await self._run(items, attempt=1)

    async def _run(self, items: list[_Queued], attempt: int) -> None:
        items = _still_waiting(items)
        if not items:
            return
        reads = [
            decisions.reads(item.request.target, item.request.command, item.request.also_reads)
            for item in items
        ]
        stream_keys = {key for needed in reads for key in needed.streams}
        # The fast path: every stream (and every order a command names) known from earlier
        # batches, so no read at all; an earlier answer to a request id then shows up as a
        # DuplicateRequest on append. A purchase's order is taken as new without a read: the
        # log refuses a second purchase of an order like a stale version. Retries and streams
        # seen for the first time read state rows and answers first.
        assumed_new: set[OrderKey] = set()
        kept: dict[StreamKey, Slot] = {}
        if attempt > 1:
            to_load = stream_keys
            orders = {key for needed in reads for key in needed.orders}
        else:
            to_load = {key for key in stream_keys if not self._cached(key)}
            orders = set()
            for needed in reads:
                for key in needed.orders:
                    if self._knows(key):
                        continue
                    (assumed_new if needed.new_order else orders).add(key)
            # Kept now: while this batch reads, another shard's batch may lose a race and
            # drop these streams from the cache, and a stream neither read nor cached would
            # be decided as if it did not exist (a program: "no such program").
            kept = {key: self._cache[key] for key in stream_keys if key not in to_load}
        loaded = Loaded({}, {}, {})
        self.stats.batches += 1
        self.stats.requests += len(items)
        read_answers = bool(to_load or orders)
        if read_answers:
            self.stats.loads += 1
            request_keys = {item.request.key for item in items if item.request.request_id}
            try:
                loaded = await self.log.load(
                    to_load, request_keys, orders, deadline=_latest_deadline(items)
                )
            except LedgerError as error:
                _fail(items, error)
                return
        batch = Batch(
            loaded.streams,
            loaded.requests,
            {**{key: [] for key in assumed_new - orders}, **loaded.orders},
            self._now(),
            # The newest copy, unless it went meanwhile.
            {key: self._cache.get(key) or slot for key, slot in kept.items()}
            if attempt == 1
            else None,
        )
        decided: list[tuple[_Queued, Outcome]] = []
        # On the fast path no earlier answers were read: a refusal may be a retry of a request
        # that succeeded (its order now recorded, its points now spent). Those are decided
        # again after reading their answers, so a retry still gets the original response.
        unsure: list[_Queued] = []
        more_reads: list[_Queued] = []
        for item in items:
            try:
                decided.append((item, batch.apply(item.request)))
            except decisions.MoreReads as more:
                # Decided again with the streams it named read too: at once, as the same
                # attempt (the cache still serves the streams it read already), the first
                # time; as the next attempt should it ask again.
                first = not item.request.also_reads
                item.request = replace(item.request, also_reads=more.streams)
                (more_reads if first else unsure).append(item)
            except LedgerError as error:
                if not read_answers and item.request.request_id:
                    unsure.append(item)
                else:
                    item.future.set_exception(error)
        if batch.has_writes:
            try:
                await self.log.append(batch.commit(), deadline=_latest_deadline(items))
            except (Conflict, DuplicateRequest) as lost:
                if isinstance(lost, Conflict):
                    self.stats.conflicts += 1
                else:
                    self.stats.duplicate_requests += 1
                self._forget(stream_keys)
                losers = [item for item, _ in decided] + unsure + more_reads
                if attempt >= MAX_ATTEMPTS:
                    _fail(losers, Conflict("the stream kept changing; retry the request"))
                    return
                # Another process wrote first. Back off a random while, so racing processes
                # stop colliding, then re-decide on fresh state: the batch whole at first,
                # then each request alone, so one hot stream cannot keep failing the rest.
                await asyncio.sleep(random.uniform(0, BACKOFF_SECONDS * 2**attempt))
                if attempt < MAX_ATTEMPTS // 2:
                    await self._run(losers, attempt + 1)
                else:
                    for item in losers:
                        await self._run([item], attempt + 1)
                return
            except LedgerError as error:
                self.stats.store_errors += 1
                # Unknown outcome (the connection may have dropped after the commit): forget
                # what we think these streams hold; the retry reads the truth.
                self._forget(stream_keys)
                _fail([item for item, _ in decided] + unsure + more_reads, error)
                return
        self.stats.events_appended += len(batch.events)
        self.stats.replays += batch.replays
        self._remember(batch.slots)
        for item, outcome in decided:
            if not item.future.done():
                item.future.set_result(outcome)
        if more_reads:
            await self._run(more_reads, attempt)
        if unsure:
            await self._run(unsure, attempt + 1)

    def _cached(self, key: StreamKey) -> bool:
        slot = self._cache.get(key)
        if slot is None:
            return False
        if slot.kind.read_by_others and time.monotonic() - slot.loaded_at > SHARED_CACHE_SECONDS:
            return False
        self._cache.move_to_end(key)
        return True

    def _knows(self, key: OrderKey) -> bool:
        slot = self._cache.get(key[0])
        return slot is not None and key[1] in slot.orders

    def _remember(self, slots: dict[StreamKey, Slot]) -> None:
        for key, slot in slots.items():
            known = self._cache.get(key)
            # Batches of different shards finish in any order; never step a stream back,
            # and keep the entry read most recently (the program cache's clock).
            if known is not None and (known.version, known.loaded_at) >= (
                slot.version,
                slot.loaded_at,
            ):
                continue
            while len(slot.orders) > MAX_CACHED_ORDERS_PER_STREAM:
                del slot.orders[next(iter(slot.orders))]
            self._cache[key] = slot
            self._cache.move_to_end(key)
        while len(self._cache) > MAX_CACHED_STREAMS:
            self._cache.popitem(last=False)

    def _forget(self, keys: set[StreamKey]) -> None:
        for key in keys:
            self._cache.pop(key, None)

    # --- reads ----------------------------------------------------------------------------

    async def get_account(
        self,
        program_id: str,
        member_id: str,
        field_name: str,
        *,
        deadline: float | None = None,
    ) -> AccountView:
        """The account as of now: what housekeeping would append now (a lapsed hold, points
        past the return window or their expiry) shows as done, before the sweep or the
        account's next command appends it."""
        key, state, row = await self._account(program_id, member_id, field_name, deadline)
        for event in housekeeping(state, self._now()):
            state = ACCOUNT.evolve(state, event)
        view = AccountView.of(program_id, key, state, row.version, clock.instant(row.created_at))
        return replace(view, member_id=member_id)

    async def get_account_and_stage(
        self, program_id: str, member_id: str, field_name: str, *, deadline: float | None = None
    ) -> tuple[AccountView, MemberStageRow | None]:
        """get_account, and the member's row of the stage view (None until the view has
        applied the account's enrolment, or where no view is kept)."""
        key = await self._members.key(program_id, member_id, field_name, deadline=deadline)
        stream = account_key(program_id, key)
        if self._account_reads is None:
            row = await self.log.get_stream(stream, deadline=deadline)
            return self._view(program_id, member_id, row, field_name), None
        found = await _by(deadline, self._account_reads.get(stream))
        row, stage = (None, None) if found is None else found
        return self._view(program_id, member_id, row, field_name), stage

    async def get_accounts(
        self,
        program_id: str,
        member_ids: list[str],
        field_names: list[str],
        *,
        deadline: float | None = None,
    ) -> list[tuple[AccountView, MemberStageRow | None]]:
        """get_account_and_stage of many members of a program at once, in their order: three
        round trips whatever their number (member keys, state rows and stages; the last two
        at once). All or nothing: NotFound naming the field of the first id without an
        account."""
        assert len(member_ids) == len(field_names)
        keys = await self._members.keys(program_id, member_ids, deadline=deadline)
        for member_id, field_name in zip(member_ids, field_names, strict=True):
            if member_id not in keys:
                raise not_found(field_name)
        streams = list(dict.fromkeys(account_key(program_id, key) for key in keys.values()))
        found: dict[StreamKey, tuple[StreamRow, MemberStageRow | None]]
        if self._stages is None:
            loaded = await self.log.load(streams, (), deadline=deadline)
            found = {key: (row, None) for key, row in loaded.streams.items()}
        else:
            found = await _by(deadline, self._stages.accounts_with_stages(streams))
        answers = []
        for member_id, field_name in zip(member_ids, field_names, strict=True):
            row, stage = found.get(account_key(program_id, keys[member_id]), (None, None))
            view = self._view(program_id, member_id, row, field_name)
            answers.append((view, stage))
        return answers

    def _view(
        self, program_id: str, member_id: str, row: StreamRow | None, field_name: str
    ) -> AccountView:
        state = None if row is None else snapshots.decode(ACCOUNT, row.state)
        if row is None or state is None or not state.enrolled or state.forgotten:
            self._members.drop(program_id, member_id)
            raise not_found(field_name)
        for event in housekeeping(state, self._now()):
            state = ACCOUNT.evolve(state, event)
        # Named by the caller's id at once (AccountView.of builds without the frozen
        # dataclass's setattr per field; a replace() after it cost as much again).
        return AccountView.of(
            program_id, member_id, state, row.version, clock.instant(row.created_at)
        )

    async def stage_changes(
        self,
        program_id: str,
        after: ChangePosition,
        limit: int,
        kinds: frozenset[str] | None = None,
    ) -> list[FeedChange]:
        """A page of the program's change feed (stage and tier changes, or only `kinds`) after
        `after` (a projection a moment behind the log)."""
        if self._stages is None:
            raise StoreUnavailable("this ledger keeps no stage view")
        return await self._stages.changes_after(program_id, after, limit, kinds)

    async def members_per_stage(self, program_id: str) -> dict[Stage, int]:
        """How many of the program's members are in each stage now (stages with none are
        left out), counted by the stage view's index: what program statistics report."""
        if self._stages is None:
            raise StoreUnavailable("this ledger keeps no stage view")
        return await self._stages.members_per_stage(program_id)

    async def _account(
        self, program_id: str, member_id: str, field_name: str, deadline: float | None
    ) -> tuple[str, AccountState, StreamRow]:
        """The member's key, the account's stored state and its row; NotFound naming
        `field_name` for an id with no account (never enrolled, or forgotten)."""
        key = await self._members.key(program_id, member_id, field_name, deadline=deadline)
        row = await self.log.get_stream(account_key(program_id, key), deadline=deadline)
        state = None if row is None else snapshots.decode(ACCOUNT, row.state)
        if row is None or state is None or not state.enrolled or state.forgotten:
            # A cached link to a member forgotten by another process: drop it.
            self._members.drop(program_id, member_id)
            raise not_found(field_name)
        return key, state, row

    async def list_referrals(
        self, program_id: str, member_id: str, *, deadline: float | None = None
    ) -> list[ReferralView]:
        """Every referral of the member (README "Referrals"), at most 1 + the referrals one
        account keeps (MAX_REFERRALS_PER_MEMBER); the caller pages them."""
        _, state, _ = await self._account(program_id, member_id, "parent", deadline)
        keys = {(program_id, key) for key in state.referrals}
        if state.referral is not None and state.referral.referrer_key:
            keys.add((program_id, state.referral.referrer_key))
        ids = await self.log.member_ids(keys, deadline=deadline) if keys else {}
        return views_of(
            state.referral,
            list(state.referrals.items()),
            {key[1]: member for key, member in ids.items()},
        )

    async def get_program(
        self, program_id: str, field_name: str, *, deadline: float | None = None
    ) -> ProgramView:
        row = await self.log.get_stream(program_stream(program_id), deadline=deadline)
        if row is None:
            raise NotFound("no such program", field_name=field_name, reason="PROGRAM_NOT_FOUND")
        return ProgramView(
            snapshots.decode(PROGRAM, row.state),
            clock.instant(row.created_at),
            clock.instant(row.updated_at),
        )

    async def get_program_revision(
        self, program_id: str, revision: int, field_name: str, *, deadline: float | None = None
    ) -> ProgramView:
        """The program as of `revision` (from 1); NotFound naming `revision` past its head."""
        return await program_history.program_at(
            self.log, program_id, revision, field_name, deadline
        )

    async def program_head(
        self, program_id: str, field_name: str, *, deadline: float | None = None
    ) -> tuple[int, str]:
        """The program's current revision and its creation instant; NotFound naming
        `field_name` for no such program."""
        row = await program_history.head(self.log, program_id, field_name, deadline)
        return row.version, clock.instant(row.created_at)

    async def program_revisions(
        self, program_id: str, first: int, last: int, *, deadline: float | None = None
    ) -> list[ProgramRevision]:
        """Revisions `first` to `last` of the program, oldest first."""
        return await program_history.revisions(self.log, program_id, first, last, deadline)

    async def list_entries(
        self,
        program_id: str,
        member_id: str,
        *,
        after_version: int,
        limit: int,
        event_types: Sequence[str] = (),
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        deadline: float | None = None,
    ) -> list[Entry]:
        key, _, _ = await self._account(program_id, member_id, "parent", deadline)
        records = await self.log.list_entries(
            account_key(program_id, key),
            after_version=after_version,
            limit=limit,
            event_types=event_types,
            start_time=start_time,
            end_time=end_time,
            deadline=deadline,
        )
        return [entry_of(record, member_id) for record in records]

    async def entries_of(
        self, records: Sequence[EventRecord], *, deadline: float | None = None
    ) -> list[Entry]:
        """Entries of the global order named by member ids, looked up in one round trip
        after the records were read: a member forgotten by then is named by no id."""
        keys = {record.stream for record in records if member_of(record.stream_id) is not None}
        ids = await self.log.member_ids(keys, deadline=deadline) if keys else {}
        return [entry_of(record, ids.get(record.stream)) for record in records]

    async def balance_as_of(
        self, program_id: str, member_id: str, as_of: datetime, *, deadline: float | None = None
    ) -> tuple[int, Balances]:
        key, _, _ = await self._account(program_id, member_id, "name", deadline)
        found = await self.log.balance_as_of(account_key(program_id, key), as_of, deadline=deadline)
        return found if found is not None else (0, Balances())

    async def read_all(
        self,
        after: Position,
        limit: int,
        program_id: str | None = None,
        *,
        deadline: float | None = None,
    ) -> list[EventRecord]:
        return await self.log.read_all(after, limit, program_id, deadline=deadline)

    async def list_accounts(self, query: DirectoryQuery) -> list[DirectoryEntry]:
        """A page of the member directory, a projection a moment behind the log."""
        if self._directory is None:
            raise StoreUnavailable("this ledger keeps no member directory")
        return await self._directory.list_accounts(query)

    async def program_statistics(self, query: StatisticsQuery) -> ProgramFigures:
        """A program's figures for a period, from a projection a moment behind the log."""
        if self._statistics is None:
            raise StoreUnavailable("this ledger keeps no program statistics")
        return await self._statistics.program_statistics(query)

    async def read_horizon(self) -> ReadHorizon:
        """How far running transactions hold readers of the global order back."""
        return await self.log.read_horizon()

    async def ping(self, *, deadline: float | None = None) -> None:
        """Returns when the event log answers."""
        await self.log.ping(deadline=deadline)

    async def schema_status(self, *, deadline: float | None = None) -> SchemaStatus:
        """Whether the event log's schema has every migration this code needs (the health
        check: one round trip, which also says the log answers)."""
        return await self.log.schema_status(deadline=deadline)


def _still_waiting(items: list[_Queued]) -> list[_Queued]:
    """The items whose callers still wait: not cancelled, and not past their deadline (those
    are answered StoreTimeout now, before anything is decided or appended for them)."""
    now = time.monotonic()
    waiting = []
    for item in items:
        if item.future.done():
            continue
        deadline = item.request.deadline
        if deadline is not None and deadline <= now:
            item.future.set_exception(StoreTimeout("the caller's deadline passed"))
            continue
        waiting.append(item)
    return waiting


def _latest_deadline(items: list[_Queued]) -> float | None:
    """The batch's round trips serve every item: they may run until the last caller stops
    waiting (None: one caller waits without a deadline)."""
    deadlines = [item.request.deadline for item in items]
    if any(deadline is None for deadline in deadlines):
        return None
    return max(deadline for deadline in deadlines if deadline is not None)


def _fail(items: list[_Queued], error: Exception) -> None:
    for item in items:
        if not item.future.done():
            item.future.set_exception(error)


_T = TypeVar("_T")


async def _by(deadline: float | None, reading: Awaitable[_T]) -> _T:
    """`reading`, given up (StoreTimeout) at `deadline`, an instant of time.monotonic()."""
    if deadline is None:
        return await reading
    try:
        async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
            return await reading
    except TimeoutError:
        raise StoreTimeout("the caller's deadline passed") from None
