"""A reference for the year-long program simulation: what every account must hold, computed
the plain way from the program's rules as the README states them, without any of the
ledger's code (no lots module, no decide, no codec). If the ledger and this disagree, one of
them misreads the rules.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("Europe/Berlin")
RETURN_WINDOW = timedelta(days=14)
EXPIRY_DAYS = 180
RATES = {"USD": Fraction(1, 100), "JPY": Fraction(1, 100), "KWD": Fraction(10, 1000)}
"""Points per minor unit: 1 per dollar, 1 per 100 yen, 10 per dinar (3 decimals)."""
EARNING_KINDS = {"goods"}
"""Shipping, tax and gift cards earn nothing."""
CATEGORY_MULTIPLIERS = {"shoes": 2}
MINIMUM_ORDER = {"USD": 500, "JPY": 500, "KWD": 1_500}
"""In minor units of the whole order: $5.00, ¥500, 1.500 KWD."""
ACTIONS = {
    "review": (50, "week", 2),
    "birthday": (200, "year", 1),
    "newsletter_signup": (20, "lifetime", 1),
}
"""action id -> (points, cap period, rewarded times per period)."""
MILESTONE_ORDERS = 5
"""The Nth purchase (refunded or not, earning or not) gives MILESTONE_POINTS, kept."""
MILESTONE_POINTS = 100
REWARD_COST = 500
REWARD_LIMIT_PER_MEMBER = 2
REWARD_STOCK = 30


def expiry_of(earned_at: datetime) -> datetime:
    """End of the month (in the program's zone) in which EXPIRY_DAYS after earning falls."""
    local = (earned_at + timedelta(days=EXPIRY_DAYS)).astimezone(ZONE)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return datetime(year, month, 1, tzinfo=ZONE)


def period_of(moment: datetime, period: str) -> str:
    local = moment.astimezone(ZONE)
    if period == "week":
        iso = local.isocalendar()
        return f"{iso.year}-W{iso.week}"
    if period == "year":
        return str(local.year)
    return "lifetime"


@dataclass(frozen=True)
class Line:
    kind: str
    category: str
    amount_minor: int


@dataclass
class Order:
    amount_minor: int
    points: int
    refunded_minor: int = 0
    clawed_back: int = 0
    written_off: int = 0


@dataclass
class Account:
    lots: dict[datetime, int] = field(default_factory=dict)
    pending: dict[str, tuple[int, datetime, datetime]] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    earned: int = 0
    redeemed: int = 0
    expired: int = 0
    actions: dict[tuple[str, str], int] = field(default_factory=dict)
    order_count: int = 0
    rewards: int = 0

    @property
    def available(self) -> int:
        return sum(self.lots.values())

    @property
    def pending_points(self) -> int:
        return sum(points for points, _, _ in self.pending.values())

    def catch_up(self, now: datetime) -> None:
        """What falls due by `now`: pending points past the window, then expired lots."""
        for order_id, (points, release_at, expires_at) in sorted(self.pending.items()):
            if release_at <= now:
                del self.pending[order_id]
                self._add(expires_at, points)
        for expires_at in sorted(self.lots):
            if expires_at <= now:
                self.expired += self.lots.pop(expires_at)

    def _add(self, expires_at: datetime, points: int) -> None:
        if points:
            self.lots[expires_at] = self.lots.get(expires_at, 0) + points

    def _take(self, points: int) -> int:
        """Takes up to `points`, soonest-expiring first; returns what it took."""
        taken = 0
        for expires_at in sorted(self.lots):
            used = min(self.lots[expires_at], points - taken)
            self.lots[expires_at] -= used
            taken += used
            if not self.lots[expires_at]:
                del self.lots[expires_at]
            if taken == points:
                break
        return taken

    def purchase(self, now: datetime, order_id: str, currency: str, lines: list[Line]) -> int:
        self.catch_up(now)
        total = sum(line.amount_minor for line in lines)
        earning = [line for line in lines if line.kind in EARNING_KINDS]
        exact = sum(
            (
                line.amount_minor * RATES[currency] * CATEGORY_MULTIPLIERS.get(line.category, 1)
                for line in earning
            ),
            Fraction(0),
        )
        # The minimum is on what earns: shipping and tax cannot lift an order over it.
        eligible = sum(line.amount_minor for line in earning)
        points = int(exact) if eligible >= MINIMUM_ORDER[currency] else 0  # rounded down
        self.orders[order_id] = Order(total, points)
        self.earned += points
        if points:
            self.pending[order_id] = (points, now + RETURN_WINDOW, expiry_of(now))
        self.order_count += 1
        if self.order_count == MILESTONE_ORDERS:
            self.earned += MILESTONE_POINTS
            self._add(expiry_of(now), MILESTONE_POINTS)
        return points

    def refund(self, now: datetime, order_id: str, amount_minor: int) -> int:
        self.catch_up(now)
        order = self.orders[order_id]
        order.refunded_minor += amount_minor
        wanted = (
            order.points * order.refunded_minor // order.amount_minor
            - order.clawed_back
            - order.written_off
        )
        from_pending = 0
        if order_id in self.pending:
            points, release_at, expires_at = self.pending[order_id]
            from_pending = min(wanted, points)
            if points - from_pending:
                self.pending[order_id] = (points - from_pending, release_at, expires_at)
            else:
                del self.pending[order_id]
        from_available = self._take(wanted - from_pending)  # never below zero
        clawed = from_pending + from_available
        order.clawed_back += clawed
        order.written_off += wanted - clawed
        self.earned -= clawed
        return clawed

    def action(self, now: datetime, action_id: str) -> int:
        self.catch_up(now)
        points, period, cap = ACTIONS[action_id]
        key = (action_id, period_of(now, period))
        if self.actions.get(key, 0) >= cap:
            return 0
        self.actions[key] = self.actions.get(key, 0) + 1
        self.earned += points
        self._add(expiry_of(now), points)
        return points

    def can_redeem_reward(self, now: datetime, stock_left: int) -> bool:
        self.catch_up(now)
        return (
            stock_left > 0
            and self.rewards < REWARD_LIMIT_PER_MEMBER
            and self.available >= REWARD_COST
        )

    def redeem_reward(self, now: datetime) -> None:
        self.catch_up(now)
        assert self._take(REWARD_COST) == REWARD_COST
        self.redeemed += REWARD_COST
        self.rewards += 1
