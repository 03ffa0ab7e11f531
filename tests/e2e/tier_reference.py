"""What a member's tier history must be, computed the plain way from the README's tier rules,
without any of the ledger's code: months counted in Tokyo, a rolling window of three months,
upgrades the moment the figure reaches a tier, reviews after the term and ten days of grace,
one tier down at a time.

The rules as the README states them, for this program:
- the figure is the points earned in the current Tokyo month and the two before (purchases,
  EarnPoints), less what refunds take back of an order's points, counted in the month of the
  refund; redemptions never count;
- a tier reached (or renewed, or stepped down to, or set by an admin) in month M is held
  through month M + 3 and reviewed at Tokyo midnight ten days after;
- the review comes at the first of the sweep or the member's next command at or after that
  time, before whatever that command does; it keeps the tier for a new term if the figure
  still reaches it, else takes the member one tier down;
- after a command whose points raise the figure to a higher tier's threshold, the member is
  upgraded at once (a refund or a redemption never upgrades, even a member an admin put
  below their figure's tier).
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("Asia/Tokyo")
WINDOW_MONTHS = 3
GRACE = timedelta(days=10)
TIERS = (("silver", 400, 100), ("gold", 1_500, 150), ("platinum", 4_000, 200))
"""(name, threshold in points, purchase multiplier in percent), lowest first."""
PERKS = {"silver": ["free_shipping"], "gold": ["free_shipping", "early_access"]}
PERKS["platinum"] = [*PERKS["gold"], "concierge"]


def _month(moment: datetime) -> int:
    local = moment.astimezone(ZONE)
    return local.year * 12 + local.month - 1


def _month_start(index: int) -> datetime:
    return datetime.combine(date(index // 12, index % 12 + 1, 1), time(), tzinfo=ZONE)


def _rank(name: str) -> int:
    return 0 if not name else [tier[0] for tier in TIERS].index(name) + 1


@dataclass
class Change:
    from_tier: str
    to_tier: str
    reason: str
    figure: int


@dataclass
class Order:
    points: int
    amount_minor: int
    refunded_minor: int = 0


@dataclass
class Member:
    tier: str = ""
    review_at: datetime | None = None
    by_month: dict[int, int] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    history: list[Change] = field(default_factory=list)
    available: int = 0

    def figure(self, now: datetime) -> int:
        current = _month(now)
        return sum(self.by_month.get(current - back, 0) for back in range(WINDOW_MONTHS))

    def _qualified(self, figure: int) -> int:
        return sum(1 for _, threshold, _ in TIERS if threshold <= figure)

    def _set(self, now: datetime, rank: int, reason: str, figure: int) -> None:
        name = TIERS[rank - 1][0] if rank else ""
        self.history.append(Change(self.tier, name, reason, figure))
        self.tier = name
        if rank:
            term_end = _month_start(_month(now) + WINDOW_MONTHS + 1)
            self.review_at = datetime.combine(
                term_end.date() + GRACE, time(), tzinfo=ZONE
            ).astimezone(UTC)
        else:
            self.review_at = None

    def review_if_due(self, now: datetime) -> None:
        if self.review_at is None or self.review_at > now:
            return
        figure = self.figure(now)
        qualified, current = self._qualified(figure), _rank(self.tier)
        if qualified >= current:
            self._set(now, qualified, "renewed" if qualified == current else "qualified", figure)
        else:
            self._set(now, current - 1, "term_ended", figure)

    def _upgrade(self, now: datetime) -> None:
        figure = self.figure(now)
        if self._qualified(figure) > _rank(self.tier):
            self._set(now, self._qualified(figure), "qualified", figure)

    def _count(self, now: datetime, points: int) -> None:
        month = _month(now)
        self.by_month[month] = self.by_month.get(month, 0) + points

    def multiplier(self) -> int:
        return 100 if not self.tier else TIERS[_rank(self.tier) - 1][2]

    def purchase(self, now: datetime, order_id: str, amount_minor: int) -> int:
        """Points of a USD purchase at 1 point per dollar, rounded down, times the tier's
        multiplier (the extra rounded down); returns them."""
        self.review_if_due(now)
        base = amount_minor // 100
        points = base + base * (self.multiplier() - 100) // 100
        self.orders[order_id] = Order(points, amount_minor)
        self.available += points
        self._count(now, points)
        self._upgrade(now)
        return points

    def earn(self, now: datetime, points: int) -> None:
        self.review_if_due(now)
        self.available += points
        self._count(now, points)
        self._upgrade(now)

    def refund(self, now: datetime, order_id: str, amount_minor: int) -> None:
        """Takes back the order's points in proportion to the refunded share (cumulative,
        rounded down), from the balance as far as it goes; the figure loses all of them."""
        self.review_if_due(now)
        order = self.orders[order_id]
        before = order.points * order.refunded_minor // order.amount_minor
        order.refunded_minor += amount_minor
        taken = order.points * order.refunded_minor // order.amount_minor - before
        self.available -= min(taken, self.available)
        self._count(now, -taken)

    def redeem(self, now: datetime, points: int) -> None:
        self.review_if_due(now)
        self.available -= points

    def change(self, now: datetime, tier: str) -> None:
        self.review_if_due(now)
        self._set(now, _rank(tier), "manual", self.figure(now))

    def needed_for_next(self, figure: int) -> tuple[str, int]:
        rank = _rank(self.tier)
        if rank == len(TIERS):
            return "", 0
        name, threshold, _ = TIERS[rank]
        return name, max(threshold - figure, 0)
