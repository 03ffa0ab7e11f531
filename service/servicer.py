"""The LedgerService handlers: parse the request, execute on the ledger, map the outcome.

Handlers stay short: rules live in ledger.domain, storage in ledger.store, and the mapping
between proto and ledger values in service.mapping.
"""

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import grpc
import structlog
from google.longrunning import operations_pb2
from opentelemetry import trace

from ledger.application import Ledger
from ledger.currency import to_minor_units
from ledger.domain import commands as cmd
from ledger.domain import limits, results
from ledger.domain.decisions import Target
from ledger.domain.errors import InvalidArgument, LedgerError, Violations
from ledger.domain.patterns import EVENT_TYPE_PATTERN
from ledger.eventlog.records import Position
from ledger.feed import EventFeed
from ledger.outcomes import Outcome
from ledger.requests import Request, request_id_problem
from loyalty.v1 import ledger_pb2 as pb
from loyalty.v1 import ledger_pb2_grpc
from service import (
    account_reads,
    action_mapping,
    mapping,
    purchase_mapping,
    referral_mapping,
    rewards,
)
from service.auth import authenticated_actor
from service.directory import AccountDirectory
from service.errors import to_status
from service.import_mapping import import_shares
from service.names import parse_account, parse_program
from service.program_revisions import list_program_revisions
from service.program_updates import refuse_bad_creation, refuse_bad_update
from service.simulate import start_simulation
from service.simulations import Simulations
from service.stage_feed import stage_changes
from service.statistics import ProgramStatisticsApi
from service.stream_filters import parse_event_types

log = structlog.get_logger(__name__)

ACTOR_METADATA_KEY = "loyalty-actor"
MAX_PAGE_SIZE = 1_000
DEFAULT_PAGE_SIZE = 100
MAX_TOKEN_DIGITS = 18
"""A page token is "v" and a version; 18 digits always fit a bigint."""

Req = TypeVar("Req")
Res = TypeVar("Res")
Handler = Callable[[Any, Req, grpc.aio.ServicerContext[Req, Res]], Awaitable[Res]]


def unary(handler: Handler[Req, Res]) -> Handler[Req, Res]:
    """Turns ledger errors into statuses with details; anything else is a bug: INTERNAL."""

    @functools.wraps(handler)
    async def wrapper(self: Any, request: Req, context: grpc.aio.ServicerContext[Req, Res]) -> Res:
        try:
            return await handler(self, request, context)
        except LedgerError as error:
            await context.abort_with_status(to_status(error))
        except (asyncio.CancelledError, grpc.aio.AbortError):
            raise
        except Exception:
            log.exception("rpc_failed", rpc=handler.__name__)
            await context.abort(grpc.StatusCode.INTERNAL, "internal error; it has been logged")
        raise AssertionError("abort always raises")

    return wrapper


def _actor(context: grpc.aio.ServicerContext[Any, Any]) -> str:
    authenticated = authenticated_actor()
    if authenticated is not None:
        return authenticated
    # Unauthenticated development mode only: the header is taken as sent.
    metadata = context.invocation_metadata()
    if metadata:
        for key, value in metadata:
            if key == ACTOR_METADATA_KEY and isinstance(value, str):
                return value[: limits.MAX_ID_LENGTH]
    return "anonymous"


def _trace_id() -> str:
    span_context = trace.get_current_span().get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else ""


def _deadline(context: grpc.aio.ServicerContext[Any, Any]) -> float | None:
    """The caller's gRPC deadline as an instant of time.monotonic(): the ledger's reads and
    appends for this call stop there."""
    remaining = context.time_remaining()
    return None if remaining is None else time.monotonic() + remaining


_R = TypeVar("_R", bound=results.Result)


def _result(outcome: Outcome, kind: type[_R]) -> _R:
    assert isinstance(outcome.result, kind), outcome.result
    return outcome.result


class LedgerServicer(ledger_pb2_grpc.LedgerServiceServicer):
    def __init__(
        self,
        ledger: Ledger,
        directory: AccountDirectory,
        feed: EventFeed,
        *,
        referral_fingerprint_key: str = "",
        simulations: Simulations | None = None,
    ) -> None:
        self._ledger = ledger
        self._simulations = simulations
        self._fingerprint_key = referral_fingerprint_key
        self._directory = directory
        self._feed = feed
        self._statistics = ProgramStatisticsApi(ledger)

    async def _execute(
        self,
        context: grpc.aio.ServicerContext[Any, Any],
        request_id: str,
        target: Target,
        command: cmd.Command,
        found: Violations | None = None,
    ) -> Outcome:
        """`found`: what parsing the request's names found wrong, reported together with
        every other bad field of the request (its request id, the command's fields), so the
        caller fixes them all in one round."""
        if found is not None and found.items:
            problem = request_id_problem(request_id)
            if problem is not None:
                found.add("request_id", problem, reason="REQUEST_ID_INVALID")
            # The command holds stand-ins ("" for a name) for what was found wrong: those
            # fields are named once.
            more = Violations()
            command.validate(more)
            found.add_unless_named(more.items)
            found.raise_if_any()
        request = Request(
            target,
            command,
            request_id,
            actor=_actor(context),
            trace_id=_trace_id(),
            deadline=_deadline(context),
        )
        return await self._ledger.execute(request)

    # --- programs -------------------------------------------------------------------------

    @unary
    async def CreateProgram(
        self, request: pb.CreateProgramRequest, context: Any
    ) -> pb.CreateProgramResponse:
        decoding = Violations()
        settings = mapping.program_settings(request.program, found=decoding)
        command = cmd.CreateProgram(request.program_id, settings)
        refuse_bad_creation(command, decoding, request.request_id)
        outcome = await self._execute(
            context, request.request_id, Target(request.program_id), command
        )
        assert outcome.program is not None
        return pb.CreateProgramResponse(program=mapping.program(outcome.program))

    @unary
    async def UpdateProgram(
        self, request: pb.UpdateProgramRequest, context: Any
    ) -> pb.UpdateProgramResponse:
        found = Violations()
        program_id = parse_program(request.program.name, "program.name", found)
        settings = mapping.program_settings(request.program, found=found)
        command = cmd.UpdateProgram(
            settings, request.expected_revision, update_mask=tuple(request.update_mask.paths)
        )
        await refuse_bad_update(
            self._ledger, program_id, command, found, request.request_id, _deadline(context)
        )
        outcome = await self._execute(context, request.request_id, Target(program_id), command)
        assert outcome.program is not None
        return pb.UpdateProgramResponse(program=mapping.program(outcome.program))

    @unary
    async def GetProgram(
        self, request: pb.GetProgramRequest, context: Any
    ) -> pb.GetProgramResponse:
        found = Violations()
        program_id = parse_program(request.name, "name", found)
        if request.revision < 0:
            found.add(
                "revision",
                "must not be negative (0 reads the current one)",
                reason="REVISION_NEGATIVE",
            )
        found.raise_if_any()
        if request.revision:
            view = await self._ledger.get_program_revision(
                program_id, request.revision, "name", deadline=_deadline(context)
            )
        else:
            view = await self._ledger.get_program(program_id, "name", deadline=_deadline(context))
        return pb.GetProgramResponse(program=mapping.program(view))

    @unary
    async def ListProgramRevisions(
        self, request: pb.ListProgramRevisionsRequest, context: Any
    ) -> pb.ListProgramRevisionsResponse:
        return await list_program_revisions(self._ledger, request, _deadline(context))

    # --- account writes -------------------------------------------------------------------

    @unary
    async def EnrollMember(
        self, request: pb.EnrollMemberRequest, context: Any
    ) -> pb.EnrollMemberResponse:
        found = Violations()
        program_id = parse_program(request.parent, "parent", found)
        command = referral_mapping.enrolment(program_id, request, self._fingerprint_key, found)
        outcome = await self._execute(
            context, request.request_id, Target(program_id, request.member_id), command, found
        )
        return pb.EnrollMemberResponse(account=mapping.account(outcome.accounts[request.member_id]))

    @unary
    async def RecordPurchase(
        self, request: pb.RecordPurchaseRequest, context: Any
    ) -> pb.RecordPurchaseResponse:
        found = Violations()
        program_id, member_id = parse_account(request.account, "account", found)
        command = purchase_mapping.purchase(request, found)
        outcome = await self._execute(
            context, request.request_id, Target(program_id, member_id), command, found
        )
        recorded = _result(outcome, results.PurchaseResult)
        response = pb.RecordPurchaseResponse(
            points=recorded.points,
            pending=recorded.pending,
            account=mapping.account(outcome.accounts[member_id]),
            program_revision=recorded.program_revision,
            milestone_points=recorded.milestone_points,
            milestone_ids=recorded.milestone_ids,
        )
        purchase_mapping.add_applied_rules(response.applied_rules, recorded.rules)
        return response

    @unary
    async def ConfirmOrder(
        self, request: pb.ConfirmOrderRequest, context: Any
    ) -> pb.ConfirmOrderResponse:
        found = Violations()
        program_id, member_id = parse_account(request.account, "account", found)
        command = cmd.ConfirmOrder(request.order_id)
        outcome = await self._execute(
            context, request.request_id, Target(program_id, member_id), command, found
        )
        confirmed = _result(outcome, results.ConfirmResult)
        return pb.ConfirmOrderResponse(
            points_released=confirmed.points_released,
            account=mapping.account(outcome.accounts[member_id]),
        )

    @unary
    async def RefundPurchase(
        self, request: pb.RefundPurchaseRequest, context: Any
    ) -> pb.RefundPurchaseResponse:
        found = Violations()
        program_id, member_id = parse_account(request.account, "account", found)
        amount = request.amount
        minor, _ = to_minor_units(amount.units, amount.nanos, amount.currency_code, "amount", found)
        command = cmd.RefundPurchase(request.order_id, minor, amount.currency_code)
        outcome = await self._execute(
            context, request.request_id, Target(program_id, member_id), command, found
        )
        refunded = _result(outcome, results.RefundResult)
        return pb.RefundPurchaseResponse(
            points_clawed_back=refunded.points_clawed_back,
            points_not_recovered=refunded.points_not_recovered,
            account=mapping.account(outcome.accounts[member_id]),
            milestone_points_clawed_back=refunded.milestone_points_clawed_back,
            milestone_ids_clawed_back=refunded.milestone_ids_clawed_back,
        )

    @unary
    async def EarnPoints(
        self, request: pb.EarnPointsRequest, context: Any
    ) -> pb.EarnPointsResponse:
        found = Violations()
        program_id, member_id = parse_account(request.account, "account", found)
        command = cmd.EarnPoints(request.points, request.reason)
        outcome = await self._execute(
            context, request.request_id, Target(program_id, member_id), command, found
        )
        return pb.EarnPointsResponse(account=mapping.account(outcome.accounts[member_id]))

    @unary
    async def AdjustPoints(
        self, request: pb.AdjustPointsRequest, context: Any
    ) -> pb.AdjustPointsResponse:
        found = Violations()
        program_id, member_id = parse_account(request.account, "account", found)
        command = cmd.AdjustPoints(
            request.points_delta, request.reason_code, request.note, _actor(context)
        )
        outcome = await self._execute(
            context, request.request_id, Target(program_id, member_id), command, found
        )
        return pb.AdjustPointsResponse(account=mapping.account(outcome.accounts[member_id]))

    @unary
    async def RecordAction(
        self, request: pb.RecordActionRequest, context: Any
    ) -> pb.RecordActionResponse:
        found = Violations()
        program_id, member_id = parse_account(request.account, "account", found)
        command = cmd.RecordAction(request.action_id, request.reference)
        outcome = await self._execute(
            context, request.request_id, Target(program_id, member_id), command, found
        )
        return action_mapping.action_response(
            _result(outcome, results.ActionResult), mapping.account(outcome.accounts[member_id])
        )

    @unary
    async def GrantBonus(
        self, request: pb.GrantBonusRequest, context: Any
    ) -> pb.GrantBonusResponse:
        found = Violations()
        program_id, member_id = parse_account(request.account, "account", found)
        command = cmd.GrantBonus(request.points, request.reason_code, request.note, _actor(context))
        outcome = await self._execute(
            context, request.request_id, Target(program_id, member_id), command, found
        )
        return pb.GrantBonusResponse(account=mapping.account(outcome.accounts[member_id]))

    @unary
    async def RecordFeedback(
        self, request: pb.RecordFeedbackRequest, context: Any
    ) -> pb.RecordFeedbackResponse:
        found = Violations()
        program_id, member_id = parse_account(request.account, "account", found)
        command = cmd.RecordFeedback(
            nps_score=request.nps_score if request.HasField("nps_score") else None,
            ces_score=request.ces_score if request.HasField("ces_score") else None,
            csat_score=request.csat_score if request.HasField("csat_score") else None,
            channel=request.channel,
        )
        outcome = await self._execute(
            context, request.request_id, Target(program_id, member_id), command, found
        )
        return pb.RecordFeedbackResponse(account=mapping.account(outcome.accounts[member_id]))

    @unary
    async def ChangeTier(
        self, request: pb.ChangeTierRequest, context: Any
    ) -> pb.ChangeTierResponse:
        found = Violations()
        program_id, member_id = parse_account(request.account, "account", found)
        command = cmd.ChangeTier(request.tier, request.reason_code, request.note, _actor(context))
        outcome = await self._execute(
            context, request.request_id, Target(program_id, member_id), command, found
        )
        return pb.ChangeTierResponse(account=mapping.account(outcome.accounts[member_id]))

    @unary
    async def TransferPoints(
        self, request: pb.TransferPointsRequest, context: Any
    ) -> pb.TransferPointsResponse:
        found = Violations()
        program_id, source_id = parse_account(request.source_account, "source_account", found)
        other_program, destination_id = parse_account(
            request.destination_account, "destination_account", found
        )
        if other_program != program_id and not found.items:
            found.add(
                "destination_account",
                "must be in the source's program",
                reason="TRANSFER_ACROSS_PROGRAMS",
            )
        command = cmd.TransferPoints(destination_id, request.points, request.request_id)
        outcome = await self._execute(
            context, request.request_id, Target(program_id, source_id), command, found
        )
        return pb.TransferPointsResponse(
            source_account=mapping.account(outcome.accounts[source_id]),
            destination_account=mapping.account(outcome.accounts[destination_id]),
        )

    @unary
    async def RedeemPoints(
        self, request: pb.RedeemPointsRequest, context: Any
    ) -> pb.RedeemPointsResponse:
        found = Violations()
        program_id, member_id = parse_account(request.account, "account", found)
        command = cmd.RedeemPoints(request.points, request.reference)
        outcome = await self._execute(
            context, request.request_id, Target(program_id, member_id), command, found
        )
        return pb.RedeemPointsResponse(account=mapping.account(outcome.accounts[member_id]))

    @unary
    async def ReservePoints(
        self, request: pb.ReservePointsRequest, context: Any
    ) -> pb.ReservePointsResponse:
        found = Violations()
        program_id, member_id = parse_account(request.account, "account", found)
        command = cmd.ReservePoints(
            request.reservation_id, request.points, request.ttl_seconds, request.reward_id
        )
        outcome = await self._execute(
            context, request.request_id, Target(program_id, member_id), command, found
        )
        reserved = _result(outcome, results.ReservationResult)
        return pb.ReservePointsResponse(
            reservation=pb.Reservation(
                reservation_id=reserved.reservation_id,
                points=reserved.points,
                expire_time=mapping.timestamp(reserved.expires_at),
            ),
            account=mapping.account(outcome.accounts[member_id]),
        )

    @unary
    async def CommitReservation(
        self, request: pb.CommitReservationRequest, context: Any
    ) -> pb.CommitReservationResponse:
        found = Violations()
        program_id, member_id = parse_account(request.account, "account", found)
        command = cmd.CommitReservation(request.reservation_id, request.points)
        outcome = await self._execute(
            context, request.request_id, Target(program_id, member_id), command, found
        )
        account = mapping.account(outcome.accounts[member_id])
        if isinstance(outcome.result, results.RewardResult):
            return pb.CommitReservationResponse(
                points_redeemed=outcome.result.points,
                account=account,
                redeemed_reward=rewards.redeemed_reward(outcome.result),
            )
        committed = _result(outcome, results.CommitResult)
        return pb.CommitReservationResponse(
            points_redeemed=committed.points_redeemed,
            points_released=committed.points_released,
            account=account,
        )

    @unary
    async def RedeemReward(
        self, request: pb.RedeemRewardRequest, context: Any
    ) -> pb.RedeemRewardResponse:
        found = Violations()
        program_id, member_id = parse_account(request.account, "account", found)
        command = cmd.RedeemReward(request.reward_id)
        outcome = await self._execute(
            context, request.request_id, Target(program_id, member_id), command, found
        )
        return pb.RedeemRewardResponse(
            redeemed_reward=rewards.redeemed_reward(_result(outcome, results.RewardResult)),
            account=mapping.account(outcome.accounts[member_id]),
        )

    @unary
    async def CancelReservation(
        self, request: pb.CancelReservationRequest, context: Any
    ) -> pb.CancelReservationResponse:
        found = Violations()
        program_id, member_id = parse_account(request.account, "account", found)
        command = cmd.CancelReservation(request.reservation_id)
        outcome = await self._execute(
            context, request.request_id, Target(program_id, member_id), command, found
        )
        canceled = _result(outcome, results.CancelResult)
        return pb.CancelReservationResponse(
            points_released=canceled.points_released,
            account=mapping.account(outcome.accounts[member_id]),
        )

    @unary
    async def ImportHistory(
        self, request: pb.ImportHistoryRequest, context: Any
    ) -> pb.ImportHistoryResponse:
        found = Violations()
        program_id = parse_program(request.parent, "parent", found)
        commands = import_shares(request, program_id, self._ledger.now(), found)
        # Every event is checked before any is appended: bad input appends nothing.
        found.raise_if_any()
        # One request per account, keyed by the import's request id: a retry after a partial
        # failure finds the accounts already done and completes the rest, never doubling one.
        outcomes = await asyncio.gather(
            *(
                self._execute(context, request.request_id, Target(program_id, member_id), command)
                for member_id, command in commands.items()
            )
        )
        imported = sum(
            _result(outcome, results.ImportResult).events_imported for outcome in outcomes
        )
        return pb.ImportHistoryResponse(imported_count=imported)

    # --- reads ----------------------------------------------------------------------------

    @unary
    async def GetAccount(
        self, request: pb.GetAccountRequest, context: Any
    ) -> pb.GetAccountResponse:
        return await account_reads.get_account(self._ledger, request, _deadline(context))

    @unary
    async def BatchGetAccounts(
        self, request: pb.BatchGetAccountsRequest, context: Any
    ) -> pb.BatchGetAccountsResponse:
        return await account_reads.batch_get_accounts(self._ledger, request, _deadline(context))

    @unary
    async def ListLedgerEntries(
        self, request: pb.ListLedgerEntriesRequest, context: Any
    ) -> pb.ListLedgerEntriesResponse:
        found = Violations()
        program_id, member_id = parse_account(request.parent, "parent", found)
        if request.page_size < 0:
            found.add("page_size", "must not be negative", reason="PAGE_SIZE_OUT_OF_RANGE")
        # A larger page_size is coerced to the most served (AIP-158), as every List does.
        page_size = min(request.page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        after_version = _page_token(request.page_token, found)
        for index, event_type in enumerate(request.event_types):
            if not EVENT_TYPE_PATTERN.fullmatch(event_type):
                found.add(
                    f"event_types[{index}]",
                    "is not an event type name",
                    reason="EVENT_TYPE_UNKNOWN",
                )
        start_time = _optional_time(request, "start_time", found)
        end_time = _optional_time(request, "end_time", found)
        found.raise_if_any()
        entries = await self._ledger.list_entries(
            program_id,
            member_id,
            after_version=after_version,
            limit=page_size + 1,
            event_types=list(request.event_types),
            start_time=start_time,
            end_time=end_time,
            deadline=_deadline(context),
        )
        page, more = entries[:page_size], len(entries) > page_size
        return pb.ListLedgerEntriesResponse(
            entries=[mapping.entry(entry) for entry in page],
            next_page_token=f"v{page[-1].record.version}" if more else "",
        )

    @unary
    async def GetBalanceAsOf(
        self, request: pb.GetBalanceAsOfRequest, context: Any
    ) -> pb.GetBalanceAsOfResponse:
        found = Violations()
        program_id, member_id = parse_account(request.name, "name", found)
        as_of = _optional_time(request, "as_of_time", found)
        if as_of is None:
            found.add("as_of_time", "is required", reason="AS_OF_TIME_REQUIRED")
        found.raise_if_any()
        assert as_of is not None
        version, values = await self._ledger.balance_as_of(
            program_id, member_id, as_of, deadline=_deadline(context)
        )
        return pb.GetBalanceAsOfResponse(balances=mapping.balances(values), version=version)

    @unary
    async def ListAccounts(
        self, request: pb.ListAccountsRequest, context: Any
    ) -> pb.ListAccountsResponse:
        return await self._directory.list_accounts(request)

    @unary
    async def ForgetMember(
        self, request: pb.ForgetMemberRequest, context: Any
    ) -> pb.ForgetMemberResponse:
        found = Violations()
        program_id, member_id = parse_account(request.name, "name", found)
        reason = request.reason or "member_request"
        cmd.ForgetMember(reason).validate(found)
        found.raise_if_any()
        forgotten = await self._ledger.forget_member(
            program_id,
            member_id,
            reason=reason,
            actor=_actor(context),
            trace_id=_trace_id(),
            deadline=_deadline(context),
        )
        return pb.ForgetMemberResponse(forgotten=forgotten)

    @unary
    async def GetProgramStatistics(
        self, request: pb.GetProgramStatisticsRequest, context: Any
    ) -> pb.GetProgramStatisticsResponse:
        return await self._statistics.get(request, _deadline(context))

    @unary
    async def SimulateProgramChange(
        self, request: pb.SimulateProgramChangeRequest, context: Any
    ) -> operations_pb2.Operation:
        assert self._simulations is not None, "the server gives the servicer its simulations"
        return await start_simulation(self._ledger, self._simulations, request, _deadline(context))

    async def StreamEvents(
        self, request: pb.StreamEventsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.StreamEventsResponse]:
        found = Violations()
        position = _position(request.after_position, found)
        program_id = parse_program(request.program, "program", found) if request.program else None
        event_types = parse_event_types(request.event_types, "event_types", found)
        if found.items:
            await context.abort_with_status(to_status(InvalidArgument(found.items)))
        # The process's one feed does the reading; live calls share its reads (ledger/feed.py).
        batches = self._feed.follow(
            position, program_id, live=not request.catch_up_only, event_types=event_types
        )
        try:
            async for batch in batches:
                # Named by member ids looked up now, once per batch: a member forgotten by
                # now shows by key only.
                for entry in await self._ledger.entries_of(batch, deadline=_deadline(context)):
                    position = Position.of(entry.record)
                    yield pb.StreamEventsResponse(
                        entry=mapping.entry(entry), position=position.encode()
                    )
        except LedgerError as error:
            await context.abort_with_status(to_status(error))
        finally:
            await batches.aclose()

    async def StreamStageChanges(
        self, request: pb.StreamStageChangesRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.StreamStageChangesResponse]:
        changes = stage_changes(self._ledger, request)
        try:
            async for change in changes:
                yield change
        except LedgerError as error:
            await context.abort_with_status(to_status(error))
        finally:
            await changes.aclose()

    # --- referrals ------------------------------------------------------------------------

    @unary
    async def ListReferrals(
        self, request: pb.ListReferralsRequest, context: Any
    ) -> pb.ListReferralsResponse:
        return await referral_mapping.list_referrals(self._ledger, request, _deadline(context))


def _optional_time(message: Any, field_name: str, found: Violations) -> datetime | None:
    """The instant in `message`'s Timestamp field, None when unset; a bad one is added to
    `found`."""
    if not message.HasField(field_name):
        return None
    return mapping.datetime_of(getattr(message, field_name), field_name, found)


def _page_token(token: str, found: Violations) -> int:
    if not token:
        return 0
    digits = token[1:]
    if (
        token.startswith("v")
        and digits.isascii()
        and digits.isdigit()
        and len(digits) <= MAX_TOKEN_DIGITS
    ):
        return int(token[1:])
    found.add("page_token", "is not a token this service returned", reason="PAGE_TOKEN_INVALID")
    return 0


def _position(text: str, found: Violations) -> Position:
    if not text:
        return Position()
    try:
        position = Position.decode(text)
    except ValueError:
        position = None
    # Within xid8 and bigint, or the database refuses the query: INTERNAL for a caller's typo.
    if position is None or position.transaction_id >= 2**64 or position.position >= 2**63:
        found.add(
            "after_position", "is not a position this service returned", reason="POSITION_INVALID"
        )
        return Position()
    return position
