"""What a year of referrals should come to, computed the plain way from the program's rules
as README "Referrals" states them, without any of the ledger's code: each referral's status,
reason and points, for tests/e2e/test_referral_year.py to compare with ListReferrals."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("Europe/Paris")
RETURN_WINDOW = timedelta(days=14)
REFERRER_POINTS = 300
FRIEND_POINTS = 100
MINIMUM_MINOR = 4_000
"""$40.00: the least a first purchase must amount to."""
CAP_PER_MONTH = 2


@dataclass
class Referral:
    referrer: str
    """The referrer's member id ("" when the code named nobody)."""
    friend: str
    status: str = "pending"
    reason: str = ""
    order_id: str = ""
    order_left_minor: int = 0
    release_at: datetime | None = None
    friend_points: int = 0
    referrer_points: int = 0


@dataclass
class Program:
    enabled: bool = True
    referrals: dict[str, Referral] = field(default_factory=dict)
    """By friend member id."""
    forgotten: set[str] = field(default_factory=set)
    fingerprints: dict[str, str] = field(default_factory=dict)
    credits: dict[tuple[str, str], int] = field(default_factory=dict)
    """(referrer, month in the program's zone) -> credits."""

    def enrol(
        self,
        friend: str,
        referrer: str | None,
        fingerprint: str = "",
        *,
        purchased_before: bool = False,
    ) -> None:
        """`referrer`: the member whose code the friend typed (None: a code of nobody)."""
        if fingerprint:
            self.fingerprints[friend] = fingerprint
        if referrer is None or referrer in self.forgotten:
            self.referrals[friend] = Referral("", friend, "refused", "unknown_code")
            return
        referral = Referral(referrer, friend)
        if not self.enabled:
            referral.status, referral.reason = "refused", "referrals_disabled"
        elif fingerprint and self.fingerprints.get(referrer) == fingerprint:
            referral.status, referral.reason = "refused", "self_referral"
        elif purchased_before:
            referral.status, referral.reason = "refused", "already_purchased"
        self.referrals[friend] = referral

    def purchase(self, friend: str, order_id: str, amount_minor: int, at: datetime) -> None:
        referral = self.referrals.get(friend)
        if referral is None or referral.status != "pending" or referral.order_id:
            return
        if amount_minor >= MINIMUM_MINOR:
            referral.order_id = order_id
            referral.order_left_minor = amount_minor
            referral.release_at = at + RETURN_WINDOW

    def due(self, at: datetime) -> list[Referral]:
        """Referrals whose window has passed by `at` and are not yet decided, oldest first."""
        found = [
            r
            for r in self.referrals.values()
            if r.status == "pending" and r.release_at is not None and r.release_at <= at
        ]
        return sorted(found, key=lambda r: r.release_at or at)

    def credit(self, referral: Referral, at: datetime) -> None:
        if referral.referrer in self.forgotten:
            referral.status, referral.reason = "refused", "referrer_forgotten"
            return
        if not self.enabled:
            referral.status, referral.reason = "refused", "referrals_disabled"
            return
        month = at.astimezone(ZONE).strftime("%Y-%m")
        counted = self.credits.get((referral.referrer, month), 0)
        if counted >= CAP_PER_MONTH:
            referral.status, referral.reason = "refused", "referrer_cap_reached"
            return
        self.credits[(referral.referrer, month)] = counted + 1
        referral.status = "credited"
        referral.friend_points = FRIEND_POINTS
        referral.referrer_points = REFERRER_POINTS

    def refund(self, friend: str, order_id: str, amount_minor: int) -> None:
        """Reversed inside the window (nothing was credited) and after it (the program takes
        credits back), once what is left of the qualifying order is under the minimum."""
        referral = self.referrals.get(friend)
        if referral is None or referral.order_id != order_id:
            return
        if referral.status not in ("pending", "credited"):
            return
        referral.order_left_minor -= amount_minor
        if referral.order_left_minor < MINIMUM_MINOR:
            referral.status, referral.reason = "reversed", "order_refunded"

    def forget(self, member: str) -> None:
        self.forgotten.add(member)
