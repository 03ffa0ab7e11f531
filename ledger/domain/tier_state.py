"""A member's standing in a tiered program, folded from the account's events, and what counts
toward the qualifying figure.

Bounded whatever the member's history: the figure is kept per period (a calendar month of a
rolling window, a calendar year, or one lifetime total), and periods that left the window are
dropped when the next period starts (TierPeriodStarted). Events carry no time of their own,
so which period an earn counts in is the one the latest TierPeriodStarted opened; `decide`
opens a new one before anything else happens in a new period.

What counts, on the points basis: points earned by a purchase (pending or not), EarnPoints,
a rewarded action, a milestone and a bonus; a refund lowers it by the points it takes back of
the order (recovered or not), and a milestone clawback by its points. Adjustments, imports,
transfers and returned holds do not count; redemptions and expiry never lower it. On the
spend basis: amounts of purchases in the spend currency, lowered by their refunds.
"""

from dataclasses import dataclass

from ledger.domain.events import (
    ActionRecorded,
    BonusGranted,
    Event,
    MilestoneClawedBack,
    MilestoneReached,
    PointsEarned,
    PurchaseRecorded,
    PurchaseRefunded,
    TierChanged,
    TierPeriodStarted,
    TierSpendRefunded,
    TierStep,
)
from ledger.domain.frozen import replace
from ledger.domain.tier_settings import POINTS, TierWindow


@dataclass(frozen=True)
class PeriodFigure:
    period: str
    figure: int


@dataclass(frozen=True)
class TierStatus:
    tier: str = ""
    """The member's tier; "" when below the lowest."""
    term_ends_at: str | None = None
    review_at: str | None = None
    """The term's end plus the grace period: when the sweep evaluates the member."""
    earn_multiplier_percent: int = 100
    perks: tuple[str, ...] = ()
    window: str = TierWindow.CALENDAR_YEAR.value
    counts: str = POINTS
    period: str = ""
    """The period the figure counts into now ("2026-03", "2026" or "lifetime")."""
    figures: tuple[PeriodFigure, ...] = ()
    """Per period of the window, oldest first; at most the window's months (+1) entries."""
    ladder: tuple[TierStep, ...] = ()
    """The program's tiers as last applied, lowest first: what progress is measured on."""
    settings_digest: str = ""
    """Of the program's tier settings last applied (tiers.py): a change shows at once."""

    def figure_of(self, period: str) -> int:
        for entry in self.figures:
            if entry.period == period:
                return entry.figure
        return 0

    @property
    def figure(self) -> int:
        """The qualifying figure now: the current year's on a calendar year, else the sum."""
        if self.window == TierWindow.CALENDAR_YEAR.value:
            return self.figure_of(self.period)
        return sum(entry.figure for entry in self.figures)

    @property
    def next_step(self) -> TierStep | None:
        """The next tier up the ladder, if any."""
        names = [step.name for step in self.ladder]
        rank = names.index(self.tier) + 1 if self.tier in names else 0
        return self.ladder[rank] if rank < len(self.ladder) else None


def evolve_tier(status: TierStatus | None, event: Event) -> TierStatus | None:
    """`status` after `event` (None: the member never had a tiered program)."""
    match event:
        case TierPeriodStarted():
            start = status or TierStatus()
            figures = start.figures
            if start.counts != event.counts or start.window != event.window:
                figures = ()  # another basis or window: figures of the old one mean nothing
            kept = tuple(entry for entry in figures if entry.period >= event.window_from)
            return replace(
                start,
                window=event.window,
                counts=event.counts,
                period=event.period,
                figures=kept,
                ladder=event.ladder,
                settings_digest=event.settings_digest,
            )
        case TierChanged():
            assert status is not None, "a tier changes after its period started"
            return replace(
                status,
                tier=event.to_tier,
                term_ends_at=event.term_ends_at,
                review_at=event.review_at,
                earn_multiplier_percent=event.earn_multiplier_percent,
                perks=event.perks,
            )
    if status is None:
        return None
    amount = counted(status.counts, event)
    if not amount:
        return status
    return replace(status, figures=_added(status.figures, status.period, amount))


def counted(counts: str, event: Event) -> int:
    """What `event` adds to a figure that counts `counts` (negative: takes off)."""
    if counts == POINTS:
        match event:
            case PointsEarned() | PurchaseRecorded() | BonusGranted() | MilestoneReached():
                return event.points
            case ActionRecorded():
                return event.points
            case PurchaseRefunded() | MilestoneClawedBack():
                return -(event.points_clawed_back + event.points_not_recovered)
        return 0
    match event:
        case PurchaseRecorded():
            return event.amount_minor if event.currency_code == counts else 0
        case TierSpendRefunded():
            return -event.amount_minor if event.currency_code == counts else 0
    return 0


def _added(figures: tuple[PeriodFigure, ...], period: str, amount: int) -> tuple[PeriodFigure, ...]:
    if figures and figures[-1].period == period:  # the current period is the newest
        return (*figures[:-1], PeriodFigure(period, figures[-1].figure + amount))
    for index, entry in enumerate(figures):
        if entry.period == period:
            changed = PeriodFigure(period, entry.figure + amount)
            return (*figures[:index], changed, *figures[index + 1 :])
    return (*figures, PeriodFigure(period, amount))


@dataclass(frozen=True)
class TierView:
    """What an account answer shows of the member's tier (README "Tiers")."""

    tier: str
    term_ends_at: str | None
    review_at: str | None
    perks: tuple[str, ...]
    earn_multiplier_percent: int
    qualifying_figure: int
    next_tier: str
    needed_for_next_tier: int
    counts: str


def view_of(status: TierStatus) -> TierView:
    figure = status.figure
    following = status.next_step
    return TierView(
        tier=status.tier,
        term_ends_at=status.term_ends_at,
        review_at=status.review_at,
        perks=status.perks,
        earn_multiplier_percent=status.earn_multiplier_percent,
        qualifying_figure=figure,
        next_tier=following.name if following else "",
        needed_for_next_tier=max(following.threshold - figure, 0) if following else 0,
        counts=status.counts,
    )
