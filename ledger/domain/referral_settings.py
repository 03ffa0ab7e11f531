"""What a program says about referrals: whether they are on, what a credit gives the referrer
(and the friend), what purchase qualifies, how many credits one referrer may earn per period,
and whether a refund after the return window takes a credit back (README "Referrals")."""

from dataclasses import dataclass

from ledger.domain import limits
from ledger.domain.action_settings import CapPeriod
from ledger.domain.errors import Violations
from ledger.domain.patterns import CURRENCY_PATTERN


@dataclass(frozen=True)
class ReferralMinimum:
    """A purchase in `currency_code` qualifies a referral from `amount_minor` on."""

    currency_code: str
    amount_minor: int


@dataclass(frozen=True)
class ReferralSettings:
    enabled: bool = False
    """Off: codes are still issued, but an enrolment with one records a refused referral
    (referrals_disabled) and a pending one is refused when it would be credited."""
    referrer_points: int = 0
    """Points the referrer gets per credited referral (1 or more when enabled)."""
    friend_points: int = 0
    """Points the friend gets with the same credit (0: none)."""
    minimum_purchases: tuple[ReferralMinimum, ...] = ()
    """Per currency, the least a first purchase must amount to; a currency not listed
    qualifies from any amount above zero."""
    cap_period: CapPeriod = CapPeriod.MONTH
    """The period `max_credits_per_period` counts in, in the program's time zone."""
    max_credits_per_period: int = 0
    """Credits one referrer may earn per `cap_period` (0: no cap); beyond it a referral is
    refused (referrer_cap_reached)."""
    reverse_after_window: bool = False
    """A refund of the qualifying order after the credit takes both credits back (under the
    negative-balance policy); False: a credit paid stays paid. A refund inside the window
    always cancels the referral before anything is credited."""

    def minimum_for(self, currency_code: str) -> int:
        for minimum in self.minimum_purchases:
            if minimum.currency_code == currency_code:
                return minimum.amount_minor
        return 1


def validate_referrals(
    settings: ReferralSettings, earning: frozenset[str], violations: Violations, prefix: str
) -> None:
    """`earning`: the currencies the program has an earn rate for (purchases in any other
    are refused, so a minimum in one could never apply)."""
    where = f"{prefix}.referrals"
    if settings.enabled and settings.referrer_points < 1:
        violations.add(f"{where}.referrer_points", "must be at least 1 when referrals are on")
    if not 0 <= settings.referrer_points <= limits.MAX_REFERRAL_POINTS:
        violations.add(f"{where}.referrer_points", f"must be 0 to {limits.MAX_REFERRAL_POINTS:,}")
    if not 0 <= settings.friend_points <= limits.MAX_REFERRAL_POINTS:
        violations.add(f"{where}.friend_points", f"must be 0 to {limits.MAX_REFERRAL_POINTS:,}")
    if not 0 <= settings.max_credits_per_period <= limits.MAX_CAP_TIMES:
        violations.add(f"{where}.max_credits_per_period", f"must be 0 to {limits.MAX_CAP_TIMES:,}")
    if len(settings.minimum_purchases) > limits.MAX_EARN_RATES:
        violations.add(f"{where}.minimum_purchases", f"at most {limits.MAX_EARN_RATES} currencies")
    seen: set[str] = set()
    for index, minimum in enumerate(settings.minimum_purchases):
        at = f"{where}.minimum_purchases[{index}]"
        if not CURRENCY_PATTERN.fullmatch(minimum.currency_code):
            violations.add(f"{at}.currency_code", "must be an ISO 4217 code, such as EUR")
        elif minimum.currency_code not in earning:
            violations.add(f"{at}.currency_code", "the program has no earn rate for it")
        elif minimum.currency_code in seen:
            violations.add(f"{at}.currency_code", "one minimum per currency")
        seen.add(minimum.currency_code)
        if not 0 <= minimum.amount_minor <= limits.MAX_AMOUNT_MINOR_UNITS:
            violations.add(f"{at}.amount_minor", f"must be 0 to {limits.MAX_AMOUNT_MINOR_UNITS:,}")
