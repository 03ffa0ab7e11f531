"""A member's referrals as ListReferrals shows them: members named by their ids."""

from dataclasses import dataclass

from ledger.domain.referral_state import QUALIFIED, FriendReferral, ReferrerEntry


@dataclass(frozen=True)
class ReferralView:
    referrer: bool
    """The account listed is the referrer (else the friend)."""
    other_member_id: str
    """"" when the other member is unknown or forgotten."""
    status: str
    """pending, credited, refused or reversed (a qualified referral is still pending)."""
    reason: str
    points: int
    order_id: str = ""
    credit_at: str = ""


def views_of(
    referral: FriendReferral | None,
    entries: list[tuple[str, ReferrerEntry]],
    ids: dict[str, str],
) -> list[ReferralView]:
    """The friend side first, then the referrals made with the member's code, oldest first;
    `ids`: member key -> member id of the members still linked."""
    views = []
    if referral is not None:
        views.append(
            ReferralView(
                referrer=False,
                other_member_id=ids.get(referral.referrer_key, ""),
                status="pending" if referral.status == QUALIFIED else referral.status,
                reason=referral.reason,
                points=referral.points,
                order_id=referral.order_id,
                credit_at=referral.release_at if referral.status == QUALIFIED else "",
            )
        )
    for friend_key, entry in entries:
        views.append(
            ReferralView(True, ids.get(friend_key, ""), entry.status, entry.reason, entry.points)
        )
    return views
