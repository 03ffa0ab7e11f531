"""A loyalty program's settings: what the rules of one program revision say."""

import unicodedata
import zoneinfo
from dataclasses import dataclass
from enum import Enum
from functools import cache

from ledger.domain import limits
from ledger.domain.action_settings import RewardedAction, validate_actions
from ledger.domain.catalogue import PointValue, Reward, validate_point_values, validate_rewards
from ledger.domain.compat import added_later
from ledger.domain.errors import Violations
from ledger.domain.milestone_settings import (
    Milestone,
    MilestoneRefundPolicy,
    validate_milestones,
)
from ledger.domain.purchase_rules import (
    EarnExclusion,
    EarnMultiplier,
    MinimumOrder,
    PointsRounding,
    validate_rules,
)
from ledger.domain.referral_settings import ReferralSettings, validate_referrals
from ledger.domain.stage_settings import StageSettings
from ledger.domain.tier_settings import TierSettings, validate_tiers


class NegativeBalancePolicy(Enum):
    """What a refund does when the points it claws back are already spent."""

    PENDING_ONLY = "pending_only"
    WITHIN_BALANCE = "within_balance"
    ALLOW_NEGATIVE = "allow_negative"


class ExpiryRounding(Enum):
    """Where a lot's expiry lands once its `points_expiry_days` have run: at the end of that
    day, or rounded up to the end of that month or year, in the program's time zone."""

    END_OF_DAY = "end_of_day"
    END_OF_MONTH = "end_of_month"
    END_OF_YEAR = "end_of_year"


class QualifyingActivity(Enum):
    """A member's own doing that can keep a balance from inactivity expiry (which events are
    which: ledger/domain/activity.py)."""

    PURCHASE = "purchase"
    EARN = "earn"
    """Points earned through EarnPoints (a storefront's own reasons: a review, a sign-up)."""
    REDEMPTION = "redemption"
    """Points spent: a redemption, a reservation committed, a reward redeemed."""
    TRANSFER = "transfer"
    """Points sent to another member (receiving them is not the receiver's activity)."""
    ACTION = "action"
    """An action recorded (RecordAction: a review, a survey...), rewarded or capped. Bonuses
    and milestones are the brand's doing, not the member's."""


@dataclass(frozen=True)
class EarnRate:
    """`points` for every `per_major_units` whole units of `currency_code`."""

    currency_code: str
    points: int
    per_major_units: int = 1


@dataclass(frozen=True)
class ProgramSettings:
    display_name: str = ""
    earn_rates: tuple[EarnRate, ...] = ()
    return_window_days: int = 0
    points_expiry_days: int = 0
    negative_balance_policy: NegativeBalancePolicy = NegativeBalancePolicy.WITHIN_BALANCE
    max_hold_ttl_seconds: int = limits.DEFAULT_HOLD_TTL_SECONDS
    time_zone: str = added_later("UTC")
    """IANA zone the program counts its days, weeks, months and years in (caps, expiry
    rounding, statistics); programs created before it existed counted in UTC."""
    # Earning rules of purchases with order lines (purchase_rules.py, earning.py). Their
    # defaults are what a program did before they existed: every line earns at the rate.
    multipliers: tuple[EarnMultiplier, ...] = added_later(())
    exclusions: tuple[EarnExclusion, ...] = added_later(())
    minimum_order_amounts: tuple[MinimumOrder, ...] = added_later(())
    points_rounding: PointsRounding = added_later(PointsRounding.DOWN)
    earn_on_gift_cards: bool = added_later(True)
    """Programs stored before order lines earned on the whole amount; a program created
    through the API says False unless it asks (a gift card bought earns, then what it buys
    would earn again)."""
    rewards: tuple[Reward, ...] = added_later(())
    """The rewards catalogue (ledger/domain/catalogue.py); programs before it had none."""
    point_values: tuple[PointValue, ...] = added_later(())
    """Money value of one point per currency, for finance's liability."""
    expiry_rounding: ExpiryRounding = added_later(ExpiryRounding.END_OF_DAY)
    """Lots expire at the end of the day (in `time_zone`) on which their `points_expiry_days`
    end, or rounded up to the end of that month or year. Before it existed lots expired at the
    start of that day, UTC (shorter than stated); those lots keep that instant."""
    inactivity_expiry_days: int = added_later(0)
    """The whole available balance expires after this many days without one of the
    `qualifying_activities` (0: never)."""
    qualifying_activities: tuple[QualifyingActivity, ...] = added_later(())
    """What counts as activity for `inactivity_expiry_days`."""
    actions: tuple[RewardedAction, ...] = added_later(())
    """Actions RecordAction rewards (action_settings.py); none before actions existed."""
    milestones: tuple[Milestone, ...] = added_later(())
    # An enum member is immutable; ruff only trusts literal arguments.
    milestone_refund_policy: MilestoneRefundPolicy = added_later(MilestoneRefundPolicy.CLAW_BACK)
    """What a full refund of the order that reached a milestone does to its bonus."""
    stage_settings: StageSettings = added_later(StageSettings())
    """Thresholds of the loyalty stages (stage_settings.py); their defaults before them."""
    tiers: TierSettings = added_later(TierSettings())
    """The tier ladder and its rules (tier_settings.py, tiers.py); none before tiers."""
    referrals: ReferralSettings = added_later(ReferralSettings())
    """Referral credits (referral_settings.py); off in programs stored before them."""

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zone_named(self.time_zone)

    def rate_for(self, currency_code: str) -> EarnRate | None:
        for rate in self.earn_rates:
            if rate.currency_code == currency_code:
                return rate
        return None

    def minimum_for(self, currency_code: str) -> MinimumOrder | None:
        for minimum in self.minimum_order_amounts:
            if minimum.currency_code == currency_code:
                return minimum
        return None

    def validate(self, violations: Violations, prefix: str = "program") -> None:
        if len(self.display_name) > limits.MAX_DISPLAY_NAME_LENGTH:
            violations.add(
                f"{prefix}.display_name", f"at most {limits.MAX_DISPLAY_NAME_LENGTH} characters"
            )
        elif any(unicodedata.category(char) == "Cc" for char in self.display_name):
            violations.add(f"{prefix}.display_name", "must not hold control characters")
        if len(self.earn_rates) > limits.MAX_EARN_RATES:
            violations.add(f"{prefix}.earn_rates", f"at most {limits.MAX_EARN_RATES} rates")
        seen: set[str] = set()
        for index, rate in enumerate(self.earn_rates):
            where = f"{prefix}.earn_rates[{index}]"
            if rate.currency_code in seen:
                violations.add(f"{where}.currency_code", "one rate per currency")
            seen.add(rate.currency_code)
            if not 0 <= rate.points <= limits.MAX_RATE_POINTS:
                violations.add(f"{where}.points", f"must be 0 to {limits.MAX_RATE_POINTS}")
            if not 1 <= rate.per_major_units <= limits.MAX_RATE_PER_MAJOR_UNITS:
                violations.add(
                    f"{where}.per_major_units",
                    f"must be 1 to {limits.MAX_RATE_PER_MAJOR_UNITS}",
                )
        if not 0 <= self.return_window_days <= limits.MAX_RETURN_WINDOW_DAYS:
            violations.add(
                f"{prefix}.return_window_days", f"must be 0 to {limits.MAX_RETURN_WINDOW_DAYS}"
            )
        if not 0 <= self.points_expiry_days <= limits.MAX_POINTS_EXPIRY_DAYS:
            violations.add(
                f"{prefix}.points_expiry_days", f"must be 0 to {limits.MAX_POINTS_EXPIRY_DAYS}"
            )
        _validate_expiry(self, violations, prefix)
        if not is_time_zone(self.time_zone):
            violations.add(f"{prefix}.time_zone", "must be an IANA time zone, such as Europe/Paris")
        validate_actions(self.actions, violations, prefix)
        validate_milestones(self.milestones, violations, prefix)
        validate_tiers(self.tiers, violations, prefix)
        if not 1 <= self.max_hold_ttl_seconds <= limits.MAX_HOLD_TTL_SECONDS:
            violations.add(
                f"{prefix}.max_hold_ttl_seconds", f"must be 1 to {limits.MAX_HOLD_TTL_SECONDS}"
            )
        validate_rules(
            violations, prefix, self.multipliers, self.exclusions, self.minimum_order_amounts
        )
        validate_rewards(violations, self.rewards, prefix)
        validate_point_values(violations, self.point_values, prefix)
        self.stage_settings.validate(violations, prefix)
        earning = frozenset(rate.currency_code for rate in self.earn_rates)
        validate_referrals(self.referrals, earning, violations, prefix)


def _validate_expiry(settings: ProgramSettings, violations: Violations, prefix: str) -> None:
    if (
        settings.expiry_rounding is not ExpiryRounding.END_OF_DAY
        and settings.points_expiry_days <= 0
    ):
        violations.add(
            f"{prefix}.expiry_rounding", "needs points_expiry_days: there is no expiry to round"
        )
    days = settings.inactivity_expiry_days
    if not 0 <= days <= limits.MAX_INACTIVITY_EXPIRY_DAYS:
        violations.add(
            f"{prefix}.inactivity_expiry_days",
            f"must be 0 to {limits.MAX_INACTIVITY_EXPIRY_DAYS}",
        )
    activities = settings.qualifying_activities
    if days > 0 and not activities:
        violations.add(
            f"{prefix}.qualifying_activities",
            "name at least one: inactivity_expiry_days needs something that counts as activity",
        )
    if activities and days == 0:
        violations.add(
            f"{prefix}.qualifying_activities",
            "only with inactivity_expiry_days: without it nothing expires for inactivity",
        )
    if len(set(activities)) != len(activities):
        violations.add(f"{prefix}.qualifying_activities", "each activity once")


@cache
def zone_named(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def is_time_zone(name: str) -> bool:
    if not name or len(name) > limits.MAX_TIME_ZONE_LENGTH:
        return False
    try:
        zone_named(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory
        return False
    return True
