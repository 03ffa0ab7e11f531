"""Proto messages <-> tier settings and a member's tier (README "Tiers"). Field names in
errors are the proto's."""

from collections.abc import Callable

from google.protobuf.timestamp_pb2 import Timestamp

from ledger.domain.errors import Violations
from ledger.domain.tier_settings import (
    POINTS,
    Tier,
    TierBasis,
    TierDowngrade,
    TierSettings,
    TierWindow,
)
from ledger.domain.tier_state import TierView
from loyalty.v1 import ledger_pb2 as pb

FULL_PERCENT = 100
"""What an unset (0) earn_multiplier_percent means: purchase points as they are."""

_BASIS_FROM_PROTO = {
    pb.TIER_BASIS_UNSPECIFIED: TierBasis.POINTS_EARNED,
    pb.TIER_BASIS_POINTS_EARNED: TierBasis.POINTS_EARNED,
    pb.TIER_BASIS_QUALIFYING_SPEND: TierBasis.QUALIFYING_SPEND,
}
_BASIS_TO_PROTO = {
    TierBasis.POINTS_EARNED: pb.TIER_BASIS_POINTS_EARNED,
    TierBasis.QUALIFYING_SPEND: pb.TIER_BASIS_QUALIFYING_SPEND,
}
_WINDOW_FROM_PROTO = {
    pb.TIER_WINDOW_ROLLING_MONTHS: TierWindow.ROLLING_MONTHS,
    pb.TIER_WINDOW_CALENDAR_YEAR: TierWindow.CALENDAR_YEAR,
    pb.TIER_WINDOW_LIFETIME: TierWindow.LIFETIME,
}
_WINDOW_TO_PROTO = {window: number for number, window in _WINDOW_FROM_PROTO.items()}
_DOWNGRADE_FROM_PROTO = {
    pb.TIER_DOWNGRADE_UNSPECIFIED: TierDowngrade.ONE_TIER,
    pb.TIER_DOWNGRADE_ONE_TIER: TierDowngrade.ONE_TIER,
    pb.TIER_DOWNGRADE_TO_QUALIFIED: TierDowngrade.TO_QUALIFIED,
}
_DOWNGRADE_TO_PROTO = {
    TierDowngrade.ONE_TIER: pb.TIER_DOWNGRADE_ONE_TIER,
    TierDowngrade.TO_QUALIFIED: pb.TIER_DOWNGRADE_TO_QUALIFIED,
}


def tiers_of(message: pb.Program, violations: Violations, prefix: str) -> TierSettings:
    """The tier settings `message` states; unknown enum values are added to `violations`
    (and read as the default), the rest is the domain's to check."""
    tiers = message.tiers
    where = f"{prefix}.tiers"
    basis = _BASIS_FROM_PROTO.get(tiers.basis)
    if basis is None:
        violations.add(f"{where}.basis", "is not a known basis")
    downgrade = _DOWNGRADE_FROM_PROTO.get(tiers.downgrade)
    if downgrade is None:
        violations.add(f"{where}.downgrade", "is not a known downgrade")
    window = _WINDOW_FROM_PROTO.get(tiers.window)
    if window is None and (tiers.levels or tiers.window != pb.TIER_WINDOW_UNSPECIFIED):
        violations.add(
            f"{where}.window",
            "is required with tiers: ROLLING_MONTHS, CALENDAR_YEAR or LIFETIME",
        )
    return TierSettings(
        levels=tuple(
            Tier(
                level.name,
                level.threshold,
                level.earn_multiplier_percent or FULL_PERCENT,
                tuple(level.perks),
            )
            for level in tiers.levels
        ),
        basis=basis or TierBasis.POINTS_EARNED,
        spend_currency_code=tiers.spend_currency_code,
        window=window or TierWindow.CALENDAR_YEAR,
        window_months=tiers.window_months,
        grace_days=tiers.grace_days,
        downgrade=downgrade or TierDowngrade.ONE_TIER,
    )


def fill_program(message: pb.Program, tiers: TierSettings) -> None:
    """Sets `message.tiers` from `tiers` (left unset for a program without tiers)."""
    if tiers == TierSettings():
        return
    target = message.tiers
    for tier in tiers.levels:
        target.levels.add(
            name=tier.name,
            threshold=tier.threshold,
            earn_multiplier_percent=tier.earn_multiplier_percent,
            perks=tier.perks,
        )
    target.basis = _BASIS_TO_PROTO[tiers.basis]
    target.spend_currency_code = tiers.spend_currency_code
    target.window = _WINDOW_TO_PROTO[tiers.window]
    target.window_months = tiers.window_months
    target.grace_days = tiers.grace_days
    target.downgrade = _DOWNGRADE_TO_PROTO[tiers.downgrade]


def fill_account(
    message: pb.Account, view: TierView, set_time: Callable[[Timestamp, str], None]
) -> None:
    """Sets `message.tier` from the member's tier."""
    target = message.tier
    target.tier = view.tier
    if view.term_ends_at is not None:
        set_time(target.term_end_time, view.term_ends_at)
    if view.review_at is not None:
        set_time(target.review_time, view.review_at)
    target.perks.extend(view.perks)
    target.earn_multiplier_percent = view.earn_multiplier_percent
    target.qualifying_figure = view.qualifying_figure
    target.next_tier = view.next_tier
    target.needed_for_next_tier = view.needed_for_next_tier
    if view.counts != POINTS:
        target.spend_currency_code = view.counts
