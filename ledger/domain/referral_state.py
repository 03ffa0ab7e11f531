"""What an account remembers of referrals: the one it enrolled with (as a friend) and those
made with its code (as a referrer), each with its status and why."""

from dataclasses import dataclass
from typing import Final

PENDING: Final = "pending"
"""Enrolled with the code; no qualifying purchase yet."""
QUALIFIED: Final = "qualified"
"""A qualifying purchase made; credited once its return window has passed (listed as
pending: nothing is owed before then)."""
CREDITED: Final = "credited"
REFUSED: Final = "refused"
REVERSED: Final = "reversed"

UNKNOWN_CODE: Final = "unknown_code"
REFERRALS_DISABLED: Final = "referrals_disabled"
SELF_REFERRAL: Final = "self_referral"
ALREADY_PURCHASED: Final = "already_purchased"
REFERRER_CAP_REACHED: Final = "referrer_cap_reached"
REFERRER_FORGOTTEN: Final = "referrer_forgotten"
REFERRER_LIMIT: Final = "referrer_limit"
ORDER_REFUNDED: Final = "order_refunded"


@dataclass(frozen=True)
class FriendReferral:
    """The referral a member enrolled with."""

    referrer_key: str
    """"" when the code named nobody."""
    status: str
    reason: str = ""
    order_id: str = ""
    """The qualifying order, once there is one."""
    release_at: str = ""
    """When the qualifying order's return window ends (the credit is due)."""
    points: int = 0
    """Points the friend was credited (before any reversal)."""


@dataclass(frozen=True)
class ReferrerEntry:
    """A referral made with this member's code, keyed by the friend's member key."""

    status: str
    reason: str = ""
    points: int = 0
    """Points this member was credited for it (before any reversal)."""
