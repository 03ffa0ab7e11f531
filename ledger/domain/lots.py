"""Lots: points grouped by expiry date. Redemptions take the soonest-expiring first.

Lots that expire on the same day are one lot: an account's lots are bounded by the number of
distinct expiry dates, not by the number of earns, so the account state stays small.
"""

from ledger.domain.events import LotPortion, Lots


def _sort_key(portion: LotPortion) -> tuple[bool, str]:
    # Points that never expire (None) are spent last.
    return (portion.expires_on is None, portion.expires_on or "")


def total(lots: Lots) -> int:
    if len(lots) == 1:
        return lots[0].points
    return sum(portion.points for portion in lots)


def add(lots: Lots, added: Lots) -> Lots:
    if not added:
        return lots
    if len(added) == 1:
        # The usual case (one earn into a day the account already has a lot for) rebuilds
        # only that lot.
        portion = added[0]
        for index, existing in enumerate(lots):
            if existing.expires_on == portion.expires_on:
                merged = LotPortion(portion.expires_on, existing.points + portion.points)
                kept = (merged,) if merged.points else ()
                return lots[:index] + kept + lots[index + 1 :]
    # Portions are immutable, so the ones left unchanged are kept rather than rebuilt; the
    # order only changes when a new expiry day comes in.
    by_day: dict[str | None, LotPortion] = {portion.expires_on: portion for portion in lots}
    new_day = False
    for portion in added:
        current = by_day.get(portion.expires_on)
        if current is None:
            by_day[portion.expires_on] = portion
            new_day = True
        else:
            by_day[portion.expires_on] = LotPortion(
                portion.expires_on, current.points + portion.points
            )
    result = tuple(portion for portion in by_day.values() if portion.points)
    return tuple(sorted(result, key=_sort_key)) if new_day else result


def subtract(lots: Lots, taken: Lots) -> Lots:
    if not taken:
        return lots
    remaining: dict[str | None, LotPortion] = {portion.expires_on: portion for portion in lots}
    for portion in taken:
        existing = remaining.get(portion.expires_on)
        left = (existing.points if existing else 0) - portion.points
        assert left >= 0, f"took {portion.points} from lot {portion.expires_on} holding less"
        remaining[portion.expires_on] = LotPortion(portion.expires_on, left)
    # Taking never adds an expiry day, so the remaining lots keep their order.
    return tuple(portion for portion in remaining.values() if portion.points)


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
