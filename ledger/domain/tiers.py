"""Tiers over time: which period a member's figure counts in, upgrades the moment the figure
reaches a tier, reviews at the end of a term, manual changes and program changes.

The rules (README "Tiers" says the same to users):
- Upgrade at once: after a command whose events raise the qualifying figure to a higher
  tier's threshold (on a calendar year, the current year's figure), TierChanged(qualified)
  follows in the same append, with a new term. A command that does not raise it (a refund,
  a redemption) never upgrades, even a member an admin put below their figure's tier.
  Nothing else ever lowers a tier mid-term: spending does not count at all, and a refund
  lowers the figure for the next review only.
- A term: a tier reached in month M of a rolling window of N months is held through month
  M + N; reached on a calendar year's figure, through the next calendar year; on lifetime
  figures, through month M + 12. Months and years are the program's time zone's.
- The review, at the term's end plus `grace_days` (the sweep appends it, or the member's
  next command if sooner): a member whose figure still reaches the tier keeps it for a new
  term (renewed); else goes one tier down or straight to the tier the figure reaches, as the
  program says (term_ended), with a new term for the tier stepped down to. On a calendar
  year the review takes the better of the year just ended and the current one.
- A manual change (ChangeTier) puts the member in any tier with a term from now; a later
  figure reaching a higher tier still upgrades.
- A change of the program's tiers is applied at the member's next command or review
  (program_changed): a tier that no longer exists goes to the tier the figure reaches; a
  figure reaching a higher tier upgrades; a kept tier takes its new benefits, its term
  unchanged. A change of basis or window starts the figure again from zero.
"""

import hashlib
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

from ledger.domain import clock
from ledger.domain.account import AccountState
from ledger.domain.commands import ChangeTier, RefundPurchase
from ledger.domain.errors import FailedPrecondition, InvalidArgument
from ledger.domain.events import (
    Event,
    PurchaseRecorded,
    TierChanged,
    TierPeriodStarted,
    TierSpendRefunded,
    TierStep,
)
from ledger.domain.frozen import build, replace
from ledger.domain.limits import MAX_POINTS_PER_COMMAND
from ledger.domain.orders import Order
from ledger.domain.program import ProgramState
from ledger.domain.purchase_rules import RuleApplication, RuleKind
from ledger.domain.settings import zone_named
from ledger.domain.tier_settings import (
    LIFETIME_TERM_MONTHS,
    POINTS,
    Tier,
    TierDowngrade,
    TierSettings,
    TierWindow,
)
from ledger.domain.tier_state import TierStatus, counted, evolve_tier

LIFETIME_PERIOD = "lifetime"
MONTHS_PER_YEAR = 12
QUALIFIED = "qualified"
TERM_ENDED = "term_ended"
RENEWED = "renewed"
MANUAL = "manual"
PROGRAM_CHANGED = "program_changed"
TIER_RULE_PREFIX = "tier:"
FULL = 100
"""A multiplier of 100 percent: the points as the other rules computed them."""


_DIGESTS: dict[int, tuple[TierSettings, str]] = {}
"""Digests by the settings object's identity: a program's settings are one object for as long
as it is cached, and hashing the whole ladder on every command costed more than the digest."""
MAX_DIGESTS = 256


def settings_digest(tiers: TierSettings) -> str:
    """A short fingerprint of a program's tier settings: a member's state keeps the one last
    applied, so a change of the program shows at the member's next command. (A release that
    adds a tier setting changes every digest: members' tiers are restated once, unchanged.)"""
    found = _DIGESTS.get(id(tiers))
    if found is not None and found[0] is tiers:
        return found[1]
    digest = hashlib.sha256(repr(tiers).encode()).hexdigest()[:16]
    if len(_DIGESTS) >= MAX_DIGESTS:
        _DIGESTS.clear()
    _DIGESTS[id(tiers)] = (tiers, digest)
    return digest


# --- before the command: a new period, a program change, a review ---------------------------


def before_command(state: AccountState, program: ProgramState, now: datetime) -> list[Event]:
    """Tier events due at `now` before anything the command does."""
    tiers = program.settings.tiers
    status = state.tier
    digest = settings_digest(tiers)
    period, window_from = _period_at(
        now, program.settings.time_zone, tiers.window, tiers.window_months
    )
    same = status is not None and status.period == period and status.settings_digest == digest
    if same and status is not None and not _review_due(status, now):
        return []  # most commands: the same period, the same program, no review due
    dropped = status is not None and not tiers.levels and not status.tier
    if dropped and status is not None and status.settings_digest == digest:
        return []  # the program dropped its tiers, and this member's went with them
    local = now.astimezone(zone_named(program.settings.time_zone))
    events: list[Event] = []
    if status is None or status.period != period or status.settings_digest != digest:
        started = TierPeriodStarted(
            period=period,
            window_from=window_from,
            window=tiers.window.value,
            counts=tiers.counts,
            ladder=tuple(TierStep(tier.name, tier.threshold) for tier in tiers.levels),
            settings_digest=digest,
            program_revision=program.revision,
        )
        events.append(started)
        folded = evolve_tier(status, started)
        assert folded is not None
        if status is not None and status.settings_digest != digest:
            restated = _restated(folded, program, local)
            events += restated
            for event in restated:
                folded = evolve_tier(folded, event)
                assert folded is not None
        status = folded
    if _review_due(status, now):
        events.append(_reviewed(status, program, local))
    return events


def _restated(status: TierStatus, program: ProgramState, local: datetime) -> list[Event]:
    tiers = program.settings.tiers
    names = [tier.name for tier in tiers.levels]
    figure = status.figure
    qualified = _rank(tiers, figure)
    if status.tier and status.tier not in names:
        return [_changed(status, program, local, qualified, PROGRAM_CHANGED, figure)]
    current = names.index(status.tier) + 1 if status.tier else 0
    if qualified > current:
        return [_changed(status, program, local, qualified, PROGRAM_CHANGED, figure)]
    if not current:
        return []
    tier = tiers.levels[current - 1]
    review_at = _review_at(status.term_ends_at, tiers, program.settings.time_zone)
    if (tier.earn_multiplier_percent, tier.perks, review_at) == (
        status.earn_multiplier_percent,
        status.perks,
        status.review_at,
    ):
        return []
    return [
        TierChanged(
            from_tier=status.tier,
            to_tier=status.tier,
            reason=PROGRAM_CHANGED,
            qualifying_figure=figure,
            term_ends_at=status.term_ends_at,
            review_at=review_at,
            earn_multiplier_percent=tier.earn_multiplier_percent,
            perks=tier.perks,
            program_revision=program.revision,
        )
    ]


def _reviewed(status: TierStatus, program: ProgramState, local: datetime) -> TierChanged:
    """The review at the end of a term and its grace period."""
    tiers = program.settings.tiers
    names = [tier.name for tier in tiers.levels]
    current = names.index(status.tier) + 1 if status.tier in names else 0
    current_year = status.figure_of(status.period)
    figure = status.figure
    earlier_year = False
    if tiers.window is TierWindow.CALENDAR_YEAR:
        last_year = status.figure_of(str(local.year - 1))
        if _rank(tiers, last_year) > _rank(tiers, current_year):
            figure, earlier_year = last_year, True
    qualified = _rank(tiers, figure)
    if qualified >= current:
        reason = RENEWED if qualified == current else QUALIFIED
        return _changed(status, program, local, qualified, reason, figure, earlier_year)
    if tiers.downgrade is TierDowngrade.ONE_TIER:
        # Stepped down to, not reached: its term runs as if reached on the year just ended.
        return _changed(status, program, local, current - 1, TERM_ENDED, figure, True)
    return _changed(status, program, local, qualified, TERM_ENDED, figure, earlier_year)


# --- after the command: an upgrade -----------------------------------------------------------


def upgraded(
    state: AccountState, decided: list[Event], program: ProgramState, now: datetime
) -> list[Event]:
    """TierChanged(qualified) when the command's own events `decided` raised the figure of
    `state` (the member before them) to a tier above the member's."""
    status = state.tier
    tiers = program.settings.tiers
    if status is None or not tiers.levels:
        return []
    raised = sum(counted(status.counts, event) for event in decided)
    if raised <= 0:
        return []
    figure = status.figure + raised
    qualified = _rank(tiers, figure)
    names = [tier.name for tier in tiers.levels]
    current = names.index(status.tier) + 1 if status.tier in names else 0
    if qualified <= current:
        return []
    local = now.astimezone(zone_named(program.settings.time_zone))
    return [_changed(status, program, local, qualified, QUALIFIED, figure)]


def changed_by_admin(
    state: AccountState, program: ProgramState, command: ChangeTier, now: datetime
) -> list[Event]:
    tiers = program.settings.tiers
    if not tiers.levels:
        raise FailedPrecondition(
            "the program has no tiers", reason="TIERS_NOT_DEFINED", field="tier"
        )
    names = [tier.name for tier in tiers.levels]
    if command.tier and command.tier not in names:
        raise InvalidArgument.of(
            "tier",
            f"the program's tiers are {', '.join(names)} (or empty: no tier)",
            reason="TIER_NOT_DEFINED",
        )
    status = state.tier
    assert status is not None, "before_command started the member's period"
    local = now.astimezone(zone_named(program.settings.time_zone))
    rank = names.index(command.tier) + 1 if command.tier else 0
    changed = _changed(status, program, local, rank, MANUAL, status.figure)
    return [
        replace(changed, actor=command.actor, reason_code=command.reason_code, note=command.note)
    ]


# --- benefits and refunds ----------------------------------------------------------------------


def multiplied(recorded: PurchaseRecorded, status: TierStatus | None) -> PurchaseRecorded:
    """The purchase with the member's tier multiplier applied (the tier held before the
    purchase: a purchase that upgrades earns at the old tier's rate), as a rule of its own
    giving the points beyond the rules' (rounded down)."""
    if status is None or status.earn_multiplier_percent == FULL or not recorded.points:
        return recorded
    extra = recorded.points * (status.earn_multiplier_percent - FULL) // FULL
    if not extra or recorded.points + extra > MAX_POINTS_PER_COMMAND:
        return recorded
    rule = RuleApplication(f"{TIER_RULE_PREFIX}{status.tier}", RuleKind.TIER_MULTIPLIER, extra, ())
    return replace(recorded, points=recorded.points + extra, rules=(*recorded.rules, rule))


def spend_refunded(
    state: AccountState, command: RefundPurchase, order: Order
) -> list[TierSpendRefunded]:
    """What a refund takes off a qualifying spend counted in the order's currency."""
    status = state.tier
    if status is None or status.counts in (POINTS, "") or status.counts != order.currency_code:
        return []
    return [TierSpendRefunded(command.order_id, command.amount_minor, order.currency_code)]


# --- periods and terms -----------------------------------------------------------------------


def _review_due(status: TierStatus, now: datetime) -> bool:
    return status.review_at is not None and status.review_at <= clock.instant(now)


@lru_cache(maxsize=1024)  # one `now` for a whole batch of commands
def _period_at(
    now: datetime, time_zone: str, window: TierWindow, window_months: int
) -> tuple[str, str]:
    return _period(window, window_months, now.astimezone(zone_named(time_zone)))


def _period(window: TierWindow, window_months: int, local: datetime) -> tuple[str, str]:
    """(the period `local` counts in, the oldest period still in the window)."""
    match window:
        case TierWindow.ROLLING_MONTHS:
            first = _month_index(local.year, local.month) - window_months + 1
            return _month_key(_month_index(local.year, local.month)), _month_key(first)
        case TierWindow.CALENDAR_YEAR:
            # The year before stays: the review of a term ending with it looks at it.
            return str(local.year), str(local.year - 1)
    return LIFETIME_PERIOD, LIFETIME_PERIOD


def _month_index(year: int, month: int) -> int:
    return year * MONTHS_PER_YEAR + month - 1


def _month_key(index: int) -> str:
    return f"{index // MONTHS_PER_YEAR:04d}-{index % MONTHS_PER_YEAR + 1:02d}"


def _term_ends_at(tiers: TierSettings, local: datetime, earlier_year: bool) -> date:
    """First day (local) after the term of a tier reached at `local`; on a calendar year,
    reached on the figure of the year before when `earlier_year`."""
    if tiers.window is TierWindow.CALENDAR_YEAR:
        year = local.year - 1 if earlier_year else local.year
        return date(year + 2, 1, 1)
    months = (
        tiers.window_months if tiers.window is TierWindow.ROLLING_MONTHS else LIFETIME_TERM_MONTHS
    )
    index = _month_index(local.year, local.month) + months + 1
    return date(index // MONTHS_PER_YEAR, index % MONTHS_PER_YEAR + 1, 1)


@lru_cache(maxsize=1024)  # terms end on the first of a month: a handful of days recur
def _midnight(day: date, time_zone: str) -> str:
    # Midnight that a daylight-saving gap skips resolves to where that day begins.
    return clock.instant(datetime.combine(day, time(), tzinfo=zone_named(time_zone)))


def _review_at(term_ends_at: str | None, tiers: TierSettings, time_zone: str) -> str | None:
    if term_ends_at is None:
        return None
    zone = zone_named(time_zone)
    ends = clock.parse_instant(term_ends_at).replace(tzinfo=UTC).astimezone(zone).date()
    return _midnight(ends + timedelta(days=tiers.grace_days), time_zone)


def _rank(tiers: TierSettings, figure: int) -> int:
    """How many tiers `figure` reaches (0: none): thresholds rise strictly."""
    return sum(1 for tier in tiers.levels if tier.threshold <= figure)


def _changed(
    status: TierStatus,
    program: ProgramState,
    local: datetime,
    rank: int,
    reason: str,
    figure: int,
    earlier_year: bool = False,
) -> TierChanged:
    tiers = program.settings.tiers
    tier: Tier | None = tiers.levels[rank - 1] if rank else None
    term_ends_at = review_at = None
    if tier is not None:
        time_zone = program.settings.time_zone
        ends = _term_ends_at(tiers, local, earlier_year)
        term_ends_at = _midnight(ends, time_zone)
        review_at = _midnight(ends + timedelta(days=tiers.grace_days), time_zone)
    # Built without the frozen constructor's setattr per field: most upgrades are earns.
    return build(
        TierChanged,
        from_tier=status.tier,
        to_tier=tier.name if tier else "",
        reason=reason,
        qualifying_figure=figure,
        term_ends_at=term_ends_at,
        review_at=review_at,
        earn_multiplier_percent=tier.earn_multiplier_percent if tier else 100,
        perks=tier.perks if tier else (),
        program_revision=program.revision,
        actor="",
        reason_code="",
        note="",
    )
