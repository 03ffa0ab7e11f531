"""Lots: points grouped by expiry date. Redemptions take the soonest-expiring first.

Lots that expire on the same day are one lot: an account's lots are bounded by the number of
distinct expiry dates, not by the number of earns, so the account state stays small.
"""

from ledger.domain.events import LotPortion, Lots


def _sort_key(portion: LotPortion) -> tuple[bool, str]:
    # Points that never expire (None) are spent last.
    return (portion.expires_on is None, portion.expires_on or "")


def total(lots: Lots) -> int:
    return sum(portion.points for portion in lots)


def add(lots: Lots, added: Lots) -> Lots:
    merged: dict[str | None, int] = {portion.expires_on: portion.points for portion in lots}
    for portion in added:
        merged[portion.expires_on] = merged.get(portion.expires_on, 0) + portion.points
    result = [LotPortion(day, points) for day, points in merged.items() if points]
    return tuple(sorted(result, key=_sort_key))


def subtract(lots: Lots, taken: Lots) -> Lots:
    remaining: dict[str | None, int] = {portion.expires_on: portion.points for portion in lots}
    for portion in taken:
        left = remaining.get(portion.expires_on, 0) - portion.points
        assert left >= 0, f"took {portion.points} from lot {portion.expires_on} holding less"
        remaining[portion.expires_on] = left
    result = [LotPortion(day, points) for day, points in remaining.items() if points]
    return tuple(sorted(result, key=_sort_key))


def take(lots: Lots, points: int) -> Lots:
    """The portions to take for `points`, soonest-expiring first (at most what the lots hold)."""
    assert points >= 0
    taken: list[LotPortion] = []
    wanted = points
    for portion in lots:
        if wanted == 0:
            break
        used = min(portion.points, wanted)
        taken.append(LotPortion(portion.expires_on, used))
        wanted -= used
    return tuple(taken)


def take_latest(lots: Lots, points: int) -> Lots:
    """The portions to give back for `points` of a hold, latest-expiring first, so the points
    that stay redeemed are the ones that would have expired soonest."""
    reversed_lots = tuple(reversed(lots))
    return tuple(sorted(take(reversed_lots, points), key=_sort_key))
