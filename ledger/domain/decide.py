"""`decide` for account streams: given an account's state, its program, the orders the command
names and a command at a time, the events to append; and `result`, what those events answer.

Pure: no I/O and no clock; `now` is passed in. Raises a LedgerError when the command cannot be
applied, and then nothing at all is appended.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from ledger.domain import actions, clock, inactivity, limits, milestones, referrals, rewards, tiers
from ledger.domain import lots as lot_math
from ledger.domain.account import AccountState, Hold, evolve
from ledger.domain.commands import (
    AdjustPoints,
    CancelReservation,
    ChangeTier,
    Command,
    CommitReservation,
    ConfirmOrder,
    EarnPoints,
    Enroll,
    ForgetMember,
    GrantBonus,
    ImportHistory,
    RecordAction,
    RecordFeedback,
    RecordPurchase,
    RedeemPoints,
    RedeemReward,
    RefundPurchase,
    ReservePoints,
    Sweep,
    TransferPoints,
    validate,
)
from ledger.domain.earning import purchase_earning
from ledger.domain.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
)
from ledger.domain.events import (
    ActionRecorded,
    Event,
    FeedbackRecorded,
    HistoryImported,
    LotPortion,
    MemberEnrolled,
    MemberForgotten,
    MilestoneClawedBack,
    MilestoneReached,
    PendingPointsReleased,
    PointsAdjusted,
    PointsEarned,
    PointsExpired,
    PointsRedeemed,
    PointsReserved,
    PointsTransferredIn,
    PointsTransferredOut,
    PurchaseRecorded,
    PurchaseRefunded,
    ReservationCommitted,
    ReservationReleased,
    RewardRedeemed,
    RewardReserved,
)
from ledger.domain.expiry import points_expire_at
from ledger.domain.orders import Order
from ledger.domain.program import ProgramState
from ledger.domain.referral_codes import referral_code
from ledger.domain.results import (
    DONE,
    ActionResult,
    CancelResult,
    CommitResult,
    ConfirmResult,
    ImportResult,
    PurchaseResult,
    RefundResult,
    ReservationResult,
    Result,
    RewardResult,
)
from ledger.domain.settings import NegativeBalancePolicy

# --- account streams ------------------------------------------------------------------------


def order_named(command: Command) -> str | None:
    """The order whose events `decide` needs to see for `command`, if any."""
    if isinstance(command, (RecordPurchase, ConfirmOrder, RefundPurchase)):
        return command.order_id
    return None


def decide(
    state: AccountState,
    program: ProgramState,
    command: Command,
    now: datetime,
    orders: Mapping[str, Order],
) -> list[Event]:
    """Events for `command` on one account, after whatever housekeeping is due at `now`.
    `orders` holds the order the command names (order_named), if it was ever recorded."""
    validate(command)
    _require_program(program, command)
    if isinstance(command, Enroll):
        enrolment = _enroll(state, command)
        return enrolment + inactivity.rescheduled(state, program, enrolment, now, enrolling=True)
    if isinstance(command, ImportHistory):
        return _import(state, program, command, now)
    if not (isinstance(command, Sweep) and state.enrolled):
        # Housekeeping goes on after a member is forgotten: holds lapse, points expire.
        _require_account(state, command.account_field)
    events = housekeeping(state, now, program)
    # Spelled out rather than a call: every earn of a program without tiers passes here.
    tiered = (state.tier is not None or bool(program.settings.tiers.levels)) and not (
        state.forgotten
    )
    if tiered:
        events += tiers.before_command(state, program, now)
    for event in events:
        state = evolve(state, event)
    decided = _decide_on_account(state, program, command, now, orders)
    decided += _expired_after(state, decided, now, program)
    if tiered and not isinstance(command, ChangeTier):
        decided += tiers.upgraded(state, decided, program, now)
    if not program.settings.inactivity_expiry_days and state.balance_expires_at is None:
        # No deadline to move or drop: the batch folds these events once, not twice (a
        # fifth of an earn's time in the domain).
        return events + decided
    for event in decided:
        state = evolve(state, event)  # the deadline the command's own events leave
    return events + decided + inactivity.rescheduled(state, program, decided, now)


def _expired_after(
    before: AccountState, events: list[Event], now: datetime, program: ProgramState
) -> list[Event]:
    """Lots past their expiry that the command's own events gave back (a hold released or
    partly committed after its lot's expiry, or after the balance's inactivity deadline):
    expired at once, never made available."""
    if not any(isinstance(e, (ReservationCommitted, ReservationReleased)) for e in events):
        return []
    state = before
    for event in events:
        state = evolve(state, event)
    return _lapsed(state, clock.instant(now), program)


def _lapsed(state: AccountState, current: str, program: ProgramState | None) -> list[Event]:
    """Lots whose expiry has come by the instant `current`, then the rest of the balance if
    its inactivity deadline has."""
    events: list[Event] = [
        PointsExpired(portion.expires_on, portion.points)
        for portion in state.lots
        if portion.expires_on is not None and portion.expires_on <= current
    ]
    if state.balance_expires_at is not None:
        for event in events:
            state = evolve(state, event)
        events += inactivity.expired(state, current, program)
    return events


def decide_transfer(
    source: AccountState,
    destination: AccountState,
    program: ProgramState,
    command: TransferPoints,
    now: datetime,
    source_key: str,
) -> tuple[list[Event], list[Event]]:
    """Both halves of a transfer; the store appends them in one transaction. `source_key`:
    the source's member key (the command's destination_member_id holds the destination's)."""
    validate(command)
    _require_program(program, command)
    _require_account(source, command.account_field)
    _require_account(destination, "destination_account")
    destination_key = command.destination_member_id
    if source_key == destination_key:
        raise InvalidArgument.of(
            "destination_account", "must differ from source_account", reason="TRANSFER_TO_SELF"
        )
    source_events = housekeeping(source, now, program)
    for event in source_events:
        source = evolve(source, event)
    destination_events = housekeeping(destination, now, program)
    _require_available(source, command.points)
    taken = lot_math.take(source.lots, command.points)
    sent = PointsTransferredOut(command.transfer_id, destination_key, command.points, taken)
    source_events.append(sent)
    source_events += inactivity.rescheduled(evolve(source, sent), program, [sent], now)
    destination_events.append(
        PointsTransferredIn(command.transfer_id, source_key, command.points, taken)
    )
    return source_events, destination_events


def is_reward_command(state: AccountState, command: Command) -> bool:
    """Whether `command` goes through `decide_reward` (it may append to a reward's stock)."""
    if isinstance(command, RedeemReward):
        return True
    if isinstance(command, ReservePoints):
        return bool(command.reward_id)
    if isinstance(command, (CommitReservation, CancelReservation)):
        hold = state.holds.get(command.reservation_id)
        return hold is not None and bool(hold.reward_id)
    return False


def decide_reward(
    state: AccountState,
    stock: rewards.StockState | None,
    program: ProgramState,
    command: Command,
    now: datetime,
    member_key: str,
    code: str,
) -> tuple[list[Event], list[Event]]:
    """(account events, stock events) of a reward command (is_reward_command); the store
    appends both in one transaction. `stock`: the reward's stock stream (None when the
    command needs none), `code`: a fresh unguessable redemption code, used if one is issued."""
    validate(command)
    _require_program(program, command)
    _require_account(state, command.account_field)
    events = housekeeping(state, now, program)
    for event in events:
        state = evolve(state, event)
    decided: list[Event]
    match command:
        case RedeemReward():
            decided, stock_events = rewards.redeem(
                state, stock, program, command.reward_id, member_key, code, now
            )
        case ReservePoints():
            ttl = _checked_reservation(state, program, command)
            decided, stock_events = rewards.reserve(
                state,
                stock,
                program,
                command.reward_id,
                command.reservation_id,
                ttl,
                member_key,
                now,
            )
            reserved = decided[0]
            assert isinstance(reserved, RewardReserved)
            if command.points and command.points != reserved.points:
                raise InvalidArgument.of(
                    "points",
                    f"the reward costs {reserved.points} points (or leave it 0)",
                    reason="POINTS_NOT_REWARD_COST",
                )
        case CommitReservation():
            hold = _open_hold(state, command.reservation_id)
            decided, stock_events = rewards.commit(
                hold, program, command.reservation_id, command.points, member_key, code
            )
        case CancelReservation():
            hold = _open_hold(state, command.reservation_id)
            decided = [
                ReservationReleased(command.reservation_id, hold.points, hold.taken, "canceled")
            ]
            stock_events = rewards.released(hold, member_key, command.reservation_id)
        case _:
            raise AssertionError(f"not a reward command: {command!r}")
    decided += _expired_after(state, decided, now, program)
    for event in decided:
        state = evolve(state, event)
    decided += inactivity.rescheduled(state, program, decided, now)
    return events + decided, stock_events


def housekeeping(
    state: AccountState, now: datetime, program: ProgramState | None = None
) -> list[Event]:
    """What is due by `now`: lapsed holds given back, pending points past the return window
    made available, lots past their expiry expired (breakage), then the rest of the balance
    if its inactivity deadline has passed (unless `program`, when given, no longer has
    inactivity expiry). In that order, so a lapsed hold's points expire too if their lot
    has."""
    events: list[Event] = []
    folded = state
    current = clock.instant(now)
    # Most accounts hold nothing pending or held; every command looks, so they skip this.
    if state.holds or state.pending:
        for reservation_id, hold in sorted(state.holds.items()):
            if hold.expires_at <= current:
                events.append(
                    ReservationReleased(reservation_id, hold.points, hold.taken, "expired")
                )
        for order_id, entry in sorted(state.pending.items()):
            if entry.release_at <= current:
                events.append(
                    PendingPointsReleased(order_id, entry.points, entry.expires_on, "window_passed")
                )
        for event in events:
            folded = evolve(folded, event)
    events += _lapsed(folded, current, program)
    # Bounded so one command never appends an unbounded batch; the sweep comes back for more.
    return events[: limits.MAX_HOUSEKEEPING_EVENTS]


def next_due_at(state: AccountState) -> str | None:
    """The earliest instant at which `housekeeping` would append something, for the sweep."""
    candidates = [hold.expires_at for hold in state.holds.values()]
    candidates += [entry.release_at for entry in state.pending.values()]
    candidates += [portion.expires_on for portion in state.lots if portion.expires_on is not None]
    balance_due_at = inactivity.due_at(state)
    if balance_due_at is not None:
        candidates.append(balance_due_at)
    if state.tier is not None and state.tier.review_at is not None and not state.forgotten:
        candidates.append(state.tier.review_at)
    if state.referral is not None:
        referral_due_at = referrals.due_at(state)
        if referral_due_at is not None:
            candidates.append(referral_due_at)
    return min(candidates, default=None)


def _require_program(program: ProgramState, command: Command) -> None:
    if not program.exists:
        raise NotFound(
            "no such program", field_name=command.account_field, reason="PROGRAM_NOT_FOUND"
        )


def decide_forget(state: AccountState, command: ForgetMember) -> list[Event]:
    """Nothing to append for a member already forgotten (or never enrolled): forgetting is
    idempotent, and the erasure of the link happens either way."""
    validate(command)
    if not state.enrolled or state.forgotten:
        return []
    return [MemberForgotten(command.reason)]


def _require_account(state: AccountState, field_name: str) -> None:
    if not state.enrolled or state.forgotten:
        raise NotFound("no such account", field_name=field_name, reason="ACCOUNT_NOT_FOUND")


def _require_available(state: AccountState, points: int) -> None:
    if state.balances.available < points:
        raise FailedPrecondition(
            f"{points} points asked, {max(state.balances.available, 0)} available",
            reason="INSUFFICIENT_POINTS",
            points_available=str(max(state.balances.available, 0)),
            points_requested=str(points),
        )


def _enroll(state: AccountState, command: Enroll) -> list[Event]:
    if state.enrolled:
        raise AlreadyExists("member is already enrolled", reason="ACCOUNT_ALREADY_EXISTS")
    if state.forgotten:
        raise NotFound("no such account", field_name="member_id", reason="ACCOUNT_NOT_FOUND")
    return [MemberEnrolled(referral_code(command.program_id, command.member_id))]


def _decide_on_account(
    state: AccountState,
    program: ProgramState,
    command: Command,
    now: datetime,
    orders: Mapping[str, Order],
) -> list[Event]:
    match command:
        case RecordPurchase():
            recorded = _purchase(program, command, now, orders.get(command.order_id))
            if state.tier is not None:
                recorded = tiers.multiplied(recorded, state.tier)
            purchase: list[Event] = [recorded]
            if state.referral is not None:  # only members who enrolled with a code
                purchase += referrals.qualified(state, program, recorded, now)
            if not program.settings.milestones:
                return purchase  # most programs: no fold of the purchase to look at
            after = evolve(state, recorded)
            return [*purchase, *milestones.reached_by_purchase(after, program, recorded, now)]
        case ConfirmOrder():
            return _confirm(state, command, orders.get(command.order_id))
        case RefundPurchase():
            order = orders.get(command.order_id)
            refunded = _refund(state, program, command, order)
            assert order is not None, "_refund refuses an order never recorded"
            spend: list[Event] = []
            if state.tier is not None:
                spend += tiers.spend_refunded(state, command, order)
            if not order.milestone_bonuses:
                return [refunded, *spend]
            clawed = milestones.clawed_back_by_refund(
                evolve(state, refunded), program, command.order_id, order, command.amount_minor
            )
            return [refunded, *spend, *clawed]
        case RecordAction():
            return [actions.record_action(state, program, command, now)]
        case GrantBonus():
            return [actions.grant_bonus(program, command, now)]
        case RecordFeedback():
            return [
                FeedbackRecorded(
                    command.nps_score, command.ces_score, command.csat_score, command.channel
                )
            ]
        case EarnPoints():
            expires_on = points_expire_at(program.settings, now)
            return [PointsEarned(command.points, command.reason, expires_on, program.revision)]
        case AdjustPoints():
            return [_adjust(state, program, command, now)]
        case RedeemPoints():
            _require_available(state, command.points)
            taken = lot_math.take(state.lots, command.points)
            return [PointsRedeemed(command.points, command.reference, taken)]
        case ReservePoints():
            return [_reserve(state, program, command, now)]
        case CommitReservation():
            return [_commit(state, command)]
        case CancelReservation():
            hold = _open_hold(state, command.reservation_id)
            return [
                ReservationReleased(command.reservation_id, hold.points, hold.taken, "canceled")
            ]
        case ChangeTier():
            return tiers.changed_by_admin(state, program, command, now)
        case Sweep():
            return []
    raise AssertionError(f"not an account command: {command!r}")


def _purchase(
    program: ProgramState, command: RecordPurchase, now: datetime, order: Order | None
) -> PurchaseRecorded:
    if order is not None:
        raise AlreadyExists(
            "order already recorded", reason="ORDER_ALREADY_RECORDED", order_id=command.order_id
        )
    rate = program.settings.rate_for(command.currency_code)
    if rate is None:
        raise InvalidArgument.of(
            "amount.currency_code",
            f"the program has no earn rate for {command.currency_code}",
            reason="CURRENCY_NOT_EARNING",
        )
    earning = purchase_earning(
        program.settings,
        rate,
        command.currency_code,
        command.currency_exponent,
        command.amount_minor,
        command.lines,
    )
    points = earning.points
    # Amount and rate limits alone allow 10^21 points: the points limit keeps balances in int64.
    if points > limits.MAX_POINTS_PER_COMMAND:
        raise InvalidArgument.of(
            "amount",
            f"would earn more than {limits.MAX_POINTS_PER_COMMAND:,} points",
            reason="PURCHASE_POINTS_OVER_LIMIT",
        )
    window_days = program.settings.return_window_days
    release_at = clock.instant(now + timedelta(days=window_days)) if window_days else None
    return PurchaseRecorded(
        order_id=command.order_id,
        amount_minor=command.amount_minor,
        currency_code=command.currency_code,
        points=points,
        release_at=release_at,
        expires_on=points_expire_at(program.settings, now),
        program_revision=program.revision,
        rate_points=rate.points,
        rate_per_major_units=rate.per_major_units,
        currency_exponent=command.currency_exponent,
        rules=earning.rules,
        lines=command.lines,
    )


def _recorded(order: Order | None) -> Order:
    if order is None:
        raise NotFound(
            "no such order in this account", field_name="order_id", reason="ORDER_NOT_FOUND"
        )
    return order


def _confirm(state: AccountState, command: ConfirmOrder, order: Order | None) -> list[Event]:
    _recorded(order)
    entry = state.pending.get(command.order_id)
    if entry is None:
        return []  # already available (window passed, confirmed before, or refunded): nothing to do
    return [PendingPointsReleased(command.order_id, entry.points, entry.expires_on, "confirmed")]


def _refund(
    state: AccountState, program: ProgramState, command: RefundPurchase, found: Order | None
) -> PurchaseRefunded:
    order = _recorded(found)
    if command.currency_code != order.currency_code:
        raise InvalidArgument.of(
            "amount.currency_code",
            f"the order was paid in {order.currency_code}",
            reason="REFUND_CURRENCY_MISMATCH",
        )
    refundable = order.amount_minor - order.refunded_minor
    if command.amount_minor > refundable:
        raise InvalidArgument.of(
            "amount",
            f"at most {refundable} minor units of this order are left to refund",
            reason="REFUND_EXCEEDS_ORDER",
        )
    # Cumulative, from the stored earn: partial refunds never round away more than the order
    # earned, whatever today's rules say.
    refunded_total = order.refunded_minor + command.amount_minor
    clawback_total = order.points * refunded_total // order.amount_minor
    wanted = clawback_total - order.points_clawed_back - order.points_written_off
    pending_entry = state.pending.get(command.order_id)
    from_pending = min(wanted, pending_entry.points) if pending_entry else 0
    rest = wanted - from_pending
    policy = program.settings.negative_balance_policy
    from_available: tuple[LotPortion, ...] = ()
    negative_points = 0
    if rest and policy is not NegativeBalancePolicy.PENDING_ONLY:
        from_available = lot_math.take(state.lots, min(rest, max(state.balances.available, 0)))
        rest -= lot_math.total(from_available)
        if policy is NegativeBalancePolicy.ALLOW_NEGATIVE:
            negative_points, rest = rest, 0
    return PurchaseRefunded(
        order_id=command.order_id,
        amount_minor=command.amount_minor,
        points_clawed_back=wanted - rest,
        from_pending=from_pending,
        from_available=from_available,
        negative_points=negative_points,
        points_not_recovered=rest,
    )


def _adjust(
    state: AccountState, program: ProgramState, command: AdjustPoints, now: datetime
) -> PointsAdjusted:
    if command.points_delta > 0:
        expires_on = points_expire_at(program.settings, now)
        taken: tuple[LotPortion, ...] = ()
    else:
        _require_available(state, -command.points_delta)
        expires_on = None
        taken = lot_math.take(state.lots, -command.points_delta)
    return PointsAdjusted(
        command.points_delta, command.reason_code, command.note, command.actor, expires_on, taken
    )


def _checked_reservation(state: AccountState, program: ProgramState, command: ReservePoints) -> int:
    """The reservation's time to live, once its id, the account's open holds and the TTL
    pass."""
    if command.reservation_id in state.holds:
        raise AlreadyExists(
            "reservation id is open already",
            reason="RESERVATION_ALREADY_EXISTS",
            reservation_id=command.reservation_id,
        )
    if len(state.holds) >= limits.MAX_OPEN_RESERVATIONS:
        raise FailedPrecondition(
            f"at most {limits.MAX_OPEN_RESERVATIONS} open reservations per account",
            reason="TOO_MANY_RESERVATIONS",
        )
    ttl = command.ttl_seconds or program.settings.max_hold_ttl_seconds
    if ttl > program.settings.max_hold_ttl_seconds:
        raise InvalidArgument.of(
            "ttl_seconds",
            f"the program allows at most {program.settings.max_hold_ttl_seconds}",
            reason="HOLD_TTL_OVER_PROGRAM_MAX",
        )
    return ttl


def _reserve(
    state: AccountState, program: ProgramState, command: ReservePoints, now: datetime
) -> PointsReserved:
    ttl = _checked_reservation(state, program, command)
    _require_available(state, command.points)
    taken = lot_math.take(state.lots, command.points)
    expires_at = clock.instant(now + timedelta(seconds=ttl))
    return PointsReserved(command.reservation_id, command.points, expires_at, taken)


def _open_hold(state: AccountState, reservation_id: str) -> Hold:
    hold = state.holds.get(reservation_id)
    if hold is None:
        raise NotFound(
            "no open reservation with this id (never made, committed, canceled or lapsed)",
            field_name="reservation_id",
            reason="RESERVATION_NOT_FOUND",
        )
    return hold


def _commit(state: AccountState, command: CommitReservation) -> ReservationCommitted:
    hold = _open_hold(state, command.reservation_id)
    points = command.points or hold.points
    if points > hold.points:
        raise InvalidArgument.of(
            "points", f"the reservation holds {hold.points} points", reason="COMMIT_EXCEEDS_HOLD"
        )
    restored = lot_math.take_latest(hold.taken, hold.points - points)
    return ReservationCommitted(command.reservation_id, points, hold.points - points, restored)


def _import(
    state: AccountState, program: ProgramState, command: ImportHistory, now: datetime
) -> list[Event]:
    events: list[Event] = []
    if state.forgotten:
        raise NotFound("no such account", field_name="parent", reason="ACCOUNT_NOT_FOUND")
    if not state.enrolled:
        events.append(MemberEnrolled(referral_code(command.program_id, command.member_id)))
        state = evolve(state, events[-1])
    for entry in command.entries:
        occurred = clock.parse_instant(entry.occurred_at)
        if occurred > now:
            raise InvalidArgument.of(
                f"events[{entry.index}].occur_time",
                "must not be in the future",
                reason="OCCUR_TIME_IN_FUTURE",
            )
        if entry.points_delta > 0:
            expires_on = points_expire_at(program.settings, occurred)
            taken: tuple[LotPortion, ...] = ()
            negative = 0
        else:
            available = max(state.balances.available, 0)
            taken = lot_math.take(state.lots, min(-entry.points_delta, available))
            negative = -entry.points_delta - lot_math.total(taken)
            expires_on = None
        event = HistoryImported(
            entry.external_id,
            entry.kind,
            entry.points_delta,
            entry.occurred_at,
            expires_on,
            taken,
            negative,
        )
        events.append(event)
        state = evolve(state, event)
    return events


# --- what the events answer -------------------------------------------------------------------


def result(command: Command, events: Sequence[Event]) -> Result:
    """What `command` answers, from the events it appended (housekeeping included): the one
    place that knows which event carries which answer."""
    match command:
        case RecordPurchase():
            recorded = _only(events, PurchaseRecorded)
            reached = [event for event in events if isinstance(event, MilestoneReached)]
            return PurchaseResult(
                recorded.points,
                recorded.release_at is not None and recorded.points > 0,
                recorded.rules,
                recorded.program_revision,
                milestone_points=sum(event.points for event in reached),
                milestone_ids=tuple(event.milestone_id for event in reached),
            )
        case ConfirmOrder():
            released = sum(
                event.points
                for event in events
                if isinstance(event, PendingPointsReleased) and event.order_id == command.order_id
            )
            return ConfirmResult(released)
        case RefundPurchase():
            refunded = _only(events, PurchaseRefunded)
            clawed = [event for event in events if isinstance(event, MilestoneClawedBack)]
            return RefundResult(
                refunded.points_clawed_back,
                refunded.points_not_recovered,
                milestone_points_clawed_back=sum(event.points_clawed_back for event in clawed),
                milestone_ids_clawed_back=tuple(event.milestone_id for event in clawed),
            )
        case RecordAction():
            recorded_action = _only(events, ActionRecorded)
            return ActionResult(
                recorded_action.points, recorded_action.outcome, recorded_action.capped_by
            )
        case RedeemReward():
            return _reward_result(_only(events, RewardRedeemed))
        case ReservePoints():
            if command.reward_id:
                for_reward = _only(events, RewardReserved)
                return ReservationResult(
                    for_reward.reservation_id, for_reward.points, for_reward.expires_at
                )
            reserved = _only(events, PointsReserved)
            return ReservationResult(reserved.reservation_id, reserved.points, reserved.expires_at)
        case CommitReservation():
            rewarded = [event for event in events if isinstance(event, RewardRedeemed)]
            if rewarded:
                return _reward_result(rewarded[0])
            committed = _only(events, ReservationCommitted)
            return CommitResult(committed.points_redeemed, committed.points_released)
        case CancelReservation():
            released = sum(
                event.points_released
                for event in events
                if isinstance(event, ReservationReleased)
                and event.reservation_id == command.reservation_id
            )
            return CancelResult(released)
        case ImportHistory():
            return ImportResult(sum(isinstance(event, HistoryImported) for event in events))
    return DONE


_E = TypeVar("_E", bound=Event)


def _reward_result(event: RewardRedeemed) -> RewardResult:
    return RewardResult(
        reward_id=event.reward_id,
        redemption_code=event.redemption_code,
        points=event.points,
        display_name=event.display_name,
        benefit_kind=event.benefit_kind,
        amount_minor=event.amount_minor,
        currency_code=event.currency_code,
        percent=event.percent,
        sku=event.sku,
        program_revision=event.program_revision,
    )


def _only(events: Sequence[Event], kind: type[_E]) -> _E:
    (found,) = (event for event in events if isinstance(event, kind))
    return found
