"""Redeeming rewards, and the stream that keeps a limited reward's stock.

Stock is shared by every member, so it cannot live in an account's stream: each limited
reward has a stream of its own (kind "reward_stock"), and a redemption appends to the
member's account and to that stream in one transaction. Two members taking the last unit at
once both append at the same stream version; the store lets one through and the other is
decided again, against the stock the first left: it finds none.

Holds (a POS reserving a reward until payment) hold a unit too, until the account's hold is
committed, canceled or lapses. A lapsed unit hold needs no event to be free again: the stock
counts only the holds whose time has not passed, at the same instant the account's
housekeeping gives its points back; the stream drops lapsed holds (RewardUnitReleased, reason
"lapsed") the next time something is appended to it.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ledger.domain import clock, limits
from ledger.domain import lots as lot_math
from ledger.domain.account import AccountState, Hold
from ledger.domain.catalogue import Reward, reward_named
from ledger.domain.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from ledger.domain.events import (
    Event,
    Lots,
    RewardRedeemed,
    RewardReserved,
    RewardUnitHeld,
    RewardUnitIssued,
    RewardUnitReleased,
)
from ledger.domain.frozen import replace
from ledger.domain.program import ProgramState


@dataclass(frozen=True)
class StockState:
    """A reward's stock stream folded: units issued for good, and units held by open
    reservations ("member key/reservation id" -> when the hold lapses)."""

    issued: int = 0
    holds: dict[str, str] = field(default_factory=dict)

    def held_at(self, now: datetime) -> int:
        current = clock.instant(now)
        return sum(1 for expires_at in self.holds.values() if expires_at > current)

    def check_invariants(self) -> None:
        assert self.issued >= 0, self
        assert len(self.holds) <= limits.MAX_OPEN_STOCK_HOLDS, "too many stock holds"


def hold_key(member_key: str, reservation_id: str) -> str:
    return f"{member_key}/{reservation_id}"


def evolve_stock(state: StockState, event: Event) -> StockState:
    match event:
        case RewardUnitIssued():
            holds = state.holds
            if event.reservation_id:
                holds = dict(holds)
                del holds[hold_key(event.member_key, event.reservation_id)]
            return StockState(state.issued + 1, holds)
        case RewardUnitHeld():
            key = hold_key(event.member_key, event.reservation_id)
            return replace(state, holds={**state.holds, key: event.expires_at})
        case RewardUnitReleased():
            holds = dict(state.holds)
            del holds[hold_key(event.member_key, event.reservation_id)]
            return replace(state, holds=holds)
    raise AssertionError(f"reward stock streams do not hold {type(event).__name__}")


def lapsed_holds(state: StockState, now: datetime) -> list[Event]:
    """Unit holds whose time has passed, dropped before anything else is appended."""
    current = clock.instant(now)
    lapsed: list[Event] = []
    for key, expires_at in sorted(state.holds.items()):
        if expires_at <= current and len(lapsed) < limits.MAX_HOUSEKEEPING_EVENTS:
            member_key, reservation_id = key.split("/", 1)
            lapsed.append(RewardUnitReleased(member_key, reservation_id, "lapsed"))
    return lapsed


# --- what a redemption checks --------------------------------------------------------------


def reward_for(program: ProgramState, reward_id: str) -> Reward:
    reward = reward_named(program.settings.rewards, reward_id)
    if reward is None:
        raise NotFound(
            "the program's catalogue has no such reward",
            field_name="reward_id",
            reason="REWARD_NOT_FOUND",
        )
    return reward


def check_member_limit(account: AccountState, reward: Reward) -> None:
    if not reward.limit_per_member:
        return
    open_holds = sum(1 for hold in account.holds.values() if hold.reward_id == reward.reward_id)
    used = account.rewards_redeemed.get(reward.reward_id, 0) + open_holds
    if used >= reward.limit_per_member:
        raise FailedPrecondition(
            f"the member has redeemed this reward {used} times, its limit",
            reason="REWARD_LIMIT_REACHED",
            reward_id=reward.reward_id,
            limit_per_member=str(reward.limit_per_member),
        )


def check_stock(stock: StockState, reward: Reward, now: datetime) -> None:
    assert reward.stock is not None
    left = reward.stock - stock.issued - stock.held_at(now)
    if left <= 0:
        raise FailedPrecondition(
            "the reward is out of stock",
            reason="REWARD_OUT_OF_STOCK",
            reward_id=reward.reward_id,
        )


def check_points(account: AccountState, points: int) -> None:
    if account.balances.available < points:
        available = max(account.balances.available, 0)
        raise FailedPrecondition(
            f"{points} points asked, {available} available",
            reason="INSUFFICIENT_POINTS",
            points_available=str(available),
            points_requested=str(points),
        )


# --- decisions -----------------------------------------------------------------------------


def redeemed(
    reward: Reward,
    program: ProgramState,
    code: str,
    points: int,
    taken: Lots,
    reservation_id: str = "",
) -> RewardRedeemed:
    benefit = reward.benefit
    return RewardRedeemed(
        reward_id=reward.reward_id,
        redemption_code=code,
        points=points,
        taken=taken,
        reservation_id=reservation_id,
        program_revision=program.revision,
        display_name=reward.display_name,
        benefit_kind=benefit.kind.value,
        amount_minor=benefit.amount_minor,
        currency_code=benefit.currency_code,
        percent=benefit.percent,
        sku=benefit.sku,
    )


def redeem(
    account: AccountState,
    stock: StockState | None,
    program: ProgramState,
    reward_id: str,
    member_key: str,
    code: str,
    now: datetime,
) -> tuple[list[Event], list[Event]]:
    """(account events, stock events) of redeeming `reward_id` in one step; `account` after
    its housekeeping, `stock` None when the reward's stock is unlimited."""
    reward = reward_for(program, reward_id)
    check_member_limit(account, reward)
    stock_events: list[Event] = []
    if reward.stock is not None:
        assert stock is not None, "a limited reward's stock stream is read"
        stock_events = lapsed_holds(stock, now)
        check_stock(stock, reward, now)
        stock_events.append(RewardUnitIssued(member_key, code, ""))
    check_points(account, reward.points_cost)
    taken = lot_math.take(account.lots, reward.points_cost)
    return [redeemed(reward, program, code, reward.points_cost, taken)], stock_events


def reserve(
    account: AccountState,
    stock: StockState | None,
    program: ProgramState,
    reward_id: str,
    reservation_id: str,
    ttl_seconds: int,
    member_key: str,
    now: datetime,
) -> tuple[list[Event], list[Event]]:
    """(account events, stock events) of holding `reward_id`'s cost (and a unit of its
    stock) for `ttl_seconds`; the caller checked the reservation id and the TTL."""
    reward = reward_for(program, reward_id)
    check_member_limit(account, reward)
    expires_at = clock.instant(now + timedelta(seconds=ttl_seconds))
    stock_events: list[Event] = []
    if reward.stock is not None:
        assert stock is not None, "a limited reward's stock stream is read"
        stock_events = lapsed_holds(stock, now)
        check_stock(stock, reward, now)
        if len(stock.holds) - len(stock_events) >= limits.MAX_OPEN_STOCK_HOLDS:
            raise FailedPrecondition(
                f"at most {limits.MAX_OPEN_STOCK_HOLDS} open reservations of one reward",
                reason="TOO_MANY_RESERVATIONS",
            )
        stock_events.append(RewardUnitHeld(member_key, reservation_id, expires_at))
    check_points(account, reward.points_cost)
    taken = lot_math.take(account.lots, reward.points_cost)
    event = RewardReserved(
        reservation_id,
        reward.reward_id,
        reward.points_cost,
        expires_at,
        taken,
        reward.stock is not None,
        program.revision,
    )
    return [event], stock_events


def commit(
    hold: Hold,
    program: ProgramState,
    reservation_id: str,
    points: int,
    member_key: str,
    code: str,
) -> tuple[list[Event], list[Event]]:
    """(account events, stock events) of committing a reward's hold: whole, as the reward
    the program states now (or as it was reserved, if it left the catalogue since)."""
    if points and points != hold.points:
        raise InvalidArgument.of(
            "points",
            f"a reward's reservation commits whole ({hold.points} points) or not at all",
            reason="POINTS_NOT_REWARD_COST",
        )
    reward = reward_named(program.settings.rewards, hold.reward_id)
    if reward is None:
        raise FailedPrecondition(
            "the reward left the program's catalogue; cancel the reservation",
            reason="REWARD_NOT_FOUND",
            reward_id=hold.reward_id,
        )
    account_event = redeemed(reward, program, code, hold.points, hold.taken, reservation_id)
    stock_events: list[Event] = []
    if hold.stock_held:
        stock_events.append(RewardUnitIssued(member_key, code, reservation_id))
    return [account_event], stock_events


def released(hold: Hold, member_key: str, reservation_id: str) -> list[Event]:
    """The stock stream's events when the account gives a reward hold back (canceled)."""
    if not hold.stock_held:
        return []
    return [RewardUnitReleased(member_key, reservation_id, "canceled")]


def require_new_reservation(account: AccountState, reservation_id: str) -> None:
    if reservation_id in account.holds:
        raise AlreadyExists(
            "reservation id is open already",
            reason="RESERVATION_ALREADY_EXISTS",
            reservation_id=reservation_id,
        )
