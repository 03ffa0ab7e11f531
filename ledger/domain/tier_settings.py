"""What a program says about tiers: the ladder (names, order, thresholds, benefits), what a
member qualifies on, over which window, and how a member leaves a tier.

Values only, and their checks; the rules over time are in tiers.py.
"""

from dataclasses import dataclass
from enum import Enum

from ledger.domain.errors import Violations
from ledger.domain.patterns import CODE_PATTERN, CURRENCY_PATTERN

MAX_TIERS = 10
MAX_PERKS_PER_TIER = 20
MAX_TIER_THRESHOLD = 10**15
"""Points or minor units; a figure past it would not fit the balances' int64 anyway."""
MIN_EARN_MULTIPLIER_PERCENT = 100
MAX_EARN_MULTIPLIER_PERCENT = 1_000
MAX_WINDOW_MONTHS = 36
MAX_GRACE_DAYS = 365
LIFETIME_TERM_MONTHS = 12
"""A tier reached on lifetime figures is reviewed this often (a refund may have lowered the
figure since)."""
SHORTEST_MONTH_DAYS = 28
SHORTEST_YEAR_DAYS = 365


class TierBasis(Enum):
    """What the qualifying figure counts (which events: ledger/domain/tier_state.py)."""

    POINTS_EARNED = "points_earned"
    """Points earned (purchases, EarnPoints, actions, milestones, bonuses), less the points
    refunds and milestone clawbacks take back. Never the balance: spending never lowers it."""
    QUALIFYING_SPEND = "qualifying_spend"
    """Amounts of purchases in `spend_currency_code` (minor units), less refunds of them;
    purchases in other currencies do not count."""


class TierWindow(Enum):
    """Over which time the qualifying figure counts, in the program's time zone."""

    ROLLING_MONTHS = "rolling_months"
    """The current calendar month and the `window_months` - 1 before it."""
    CALENDAR_YEAR = "calendar_year"
    """The current calendar year; a tier reached in a year is kept through the next one."""
    LIFETIME = "lifetime"
    """Everything since the program adopted tiers."""


class TierDowngrade(Enum):
    """Where a member whose figure no longer holds their tier goes at the review."""

    ONE_TIER = "one_tier"
    TO_QUALIFIED = "to_qualified"


@dataclass(frozen=True)
class Tier:
    name: str
    threshold: int
    """Qualifying figure that reaches the tier (points, or minor units of the spend currency)."""
    earn_multiplier_percent: int = 100
    """Purchase points earned in this tier are multiplied by it (150: half as much again)."""
    perks: tuple[str, ...] = ()
    """Brand-defined benefits the storefront applies ("free_shipping"); the ledger lists them."""


@dataclass(frozen=True)
class TierSettings:
    levels: tuple[Tier, ...] = ()
    """Lowest first; none: the program has no tiers (and costs nothing more)."""
    basis: TierBasis = TierBasis.POINTS_EARNED
    spend_currency_code: str = ""
    window: TierWindow = TierWindow.CALENDAR_YEAR
    window_months: int = 0
    """Months of a rolling window (1 to 36); 0 with the other windows."""
    grace_days: int = 0
    """Days after a term ends before a member who no longer qualifies goes down."""
    downgrade: TierDowngrade = TierDowngrade.ONE_TIER

    @property
    def counts(self) -> str:
        """What the figure counts, as member states record it: "points" or a currency."""
        if self.basis is TierBasis.QUALIFYING_SPEND:
            return self.spend_currency_code
        return POINTS

    def term_days_at_least(self) -> int:
        """The shortest a term can be, in days."""
        if self.window is TierWindow.ROLLING_MONTHS:
            return self.window_months * SHORTEST_MONTH_DAYS
        if self.window is TierWindow.LIFETIME:
            return LIFETIME_TERM_MONTHS * SHORTEST_MONTH_DAYS
        return SHORTEST_YEAR_DAYS


POINTS = "points"


def validate_tiers(tiers: TierSettings, violations: Violations, prefix: str) -> None:
    where = f"{prefix}.tiers"
    if len(tiers.levels) > MAX_TIERS:
        violations.add(f"{where}.levels", f"at most {MAX_TIERS} tiers")
    names: set[str] = set()
    previous = 0
    for index, tier in enumerate(tiers.levels):
        at = f"{where}.levels[{index}]"
        if not tier.name:
            violations.add(f"{at}.name", "is required")
        elif not CODE_PATTERN.fullmatch(tier.name):
            violations.add(f"{at}.name", f"must match {CODE_PATTERN.pattern}")
        elif tier.name in names:
            violations.add(f"{at}.name", "each tier name once")
        names.add(tier.name)
        if not 1 <= tier.threshold <= MAX_TIER_THRESHOLD:
            violations.add(f"{at}.threshold", f"must be 1 to {MAX_TIER_THRESHOLD:,}")
        elif tier.threshold <= previous:
            violations.add(
                f"{at}.threshold",
                f"must be more than the tier below's ({previous}): tiers go lowest first",
            )
        previous = max(previous, tier.threshold)
        if (
            not MIN_EARN_MULTIPLIER_PERCENT
            <= tier.earn_multiplier_percent
            <= (MAX_EARN_MULTIPLIER_PERCENT)
        ):
            violations.add(
                f"{at}.earn_multiplier_percent",
                f"must be {MIN_EARN_MULTIPLIER_PERCENT} to {MAX_EARN_MULTIPLIER_PERCENT}",
            )
        _validate_perks(tier.perks, violations, at)
    _validate_basis(tiers, violations, where)
    _validate_term(tiers, violations, where)


def _validate_perks(perks: tuple[str, ...], violations: Violations, at: str) -> None:
    if len(perks) > MAX_PERKS_PER_TIER:
        violations.add(f"{at}.perks", f"at most {MAX_PERKS_PER_TIER} perks")
    for index, perk in enumerate(perks):
        if not CODE_PATTERN.fullmatch(perk):
            violations.add(f"{at}.perks[{index}]", f"must match {CODE_PATTERN.pattern}")
    if len(set(perks)) != len(perks):
        violations.add(f"{at}.perks", "each perk once")


def _validate_basis(tiers: TierSettings, violations: Violations, where: str) -> None:
    if tiers.basis is TierBasis.QUALIFYING_SPEND:
        if not CURRENCY_PATTERN.fullmatch(tiers.spend_currency_code):
            violations.add(
                f"{where}.spend_currency_code",
                "must be an ISO 4217 code: qualifying spend counts one currency",
            )
    elif tiers.spend_currency_code:
        violations.add(f"{where}.spend_currency_code", "only with the qualifying_spend basis")


def _validate_term(tiers: TierSettings, violations: Violations, where: str) -> None:
    if tiers.window is TierWindow.ROLLING_MONTHS:
        if not 1 <= tiers.window_months <= MAX_WINDOW_MONTHS:
            violations.add(f"{where}.window_months", f"must be 1 to {MAX_WINDOW_MONTHS}")
            return
    elif tiers.window_months:
        violations.add(f"{where}.window_months", "only with a rolling_months window")
        return
    if not 0 <= tiers.grace_days <= MAX_GRACE_DAYS:
        violations.add(f"{where}.grace_days", f"must be 0 to {MAX_GRACE_DAYS}")
    elif tiers.grace_days >= tiers.term_days_at_least():
        violations.add(
            f"{where}.grace_days",
            f"must be shorter than the tier's term ({tiers.term_days_at_least()} days at least)",
        )
