"""Loyalty stages: where a member stands, folded from what they do, after the four stages of
loyalty (Oliver), plus lapsed.

- enrolled: no purchase yet (not a stage of loyalty: the member has not chosen the brand).
- cognitive: a first purchase.
- affective: besides, the member showed they like the brand: a promoter NPS score (9-10),
  a review (a RecordAction whose id the program names in `review_action_ids`), or a
  referral.
- conative: besides, the member means to come back: a second purchase, or a redemption.
- action: `action_purchases` purchases within `action_window_days` days: keeps buying.
- lapsed: no purchase or redemption for `lapsed_after_days` days, from any stage but
  enrolled. Feedback, reviews and referrals alone do not keep a member from lapsing: lapsed
  means the member stopped buying.

A stage goes down only to lapsed. The other stages record what a member has shown, and a
member who bought three times last quarter still has; how recently they bought is what
lapsed (and the directory's last activity time) says. A purchase or a redemption brings a
lapsed member back, to the stage their whole record gives (affective signs and redemptions
are remembered; the action stage needs its purchases within the window again).

Stages need a first purchase: signs shown before it (a redemption of welcome points, a
promoter score) count from that purchase on.

Time is passed in. A lapse happens at a moment of its own (`lapse_due`), without any event
from the member: the projection records it when it sees the member's next event, or when its
sweep finds the moment passed (ledger/store/stage_pages.py), at the moment it fell due, so
a rebuild gives the same history whenever it runs.
"""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum

from ledger.domain.events import ActionRecorded, Event, FeedbackRecorded
from ledger.domain.feedback import is_promoter
from ledger.domain.stage_settings import MAX_ACTION_PURCHASES, StageSettings


class Stage(Enum):
    ENROLLED = "enrolled"
    COGNITIVE = "cognitive"
    AFFECTIVE = "affective"
    CONATIVE = "conative"
    ACTION = "action"
    LAPSED = "lapsed"


_RANK = {
    Stage.ENROLLED: 0,
    Stage.COGNITIVE: 1,
    Stage.AFFECTIVE: 2,
    Stage.CONATIVE: 3,
    Stage.ACTION: 4,
}


class Signal(Enum):
    """What an event says about a member's loyalty."""

    PURCHASE = "purchase"
    REDEMPTION = "redemption"
    PROMOTER = "promoter"
    REVIEW = "review"
    REFERRAL = "referral"
    """The member referred a friend who became a customer (see `signal_of`)."""


SIGNAL_OF_TYPE: dict[str, Signal] = {
    "PurchaseRecorded": Signal.PURCHASE,
    "PointsRedeemed": Signal.REDEMPTION,
    "RewardRedeemed": Signal.REDEMPTION,
    "ReservationCommitted": Signal.REDEMPTION,
    "ReferrerCredited": Signal.REFERRAL,
}
"""Event types whose signal needs nothing from their data (so a projection need not decode
them). A refund takes no stage back: the member did buy. A referrer is credited once their
friend's qualifying purchase has passed its return window (ledger/domain/referrals.py): the
referral that makes the referrer affective."""

TYPES_READ_FOR_SIGNALS: frozenset[str] = frozenset(
    {FeedbackRecorded.event_type, ActionRecorded.event_type}
)
"""Event types `signal_of` must see decoded."""


def signal_of(event: Event, settings: StageSettings) -> Signal | None:
    """The signal of a decoded event of TYPES_READ_FOR_SIGNALS, if it gives one."""
    match event:
        case FeedbackRecorded():
            return Signal.PROMOTER if is_promoter(event.nps_score) else None
        case ActionRecorded():
            return Signal.REVIEW if event.action_id in settings.review_action_ids else None
    return None


@dataclass(frozen=True)
class MemberStage:
    """One member's stage and what it was decided from (bounded: at most
    MAX_ACTION_PURCHASES purchase times)."""

    stage: Stage = Stage.ENROLLED
    since: datetime | None = None
    """When the member entered `stage` (None while enrolled)."""
    purchases: int = 0
    recent_purchase_times: tuple[datetime, ...] = ()
    """The latest purchase times, oldest first: what the action window counts."""
    redeemed: bool = False
    affective: bool = False
    """A promoter score, a review or a referral was ever seen."""
    last_activity_time: datetime | None = None
    """The latest purchase or redemption: what lapsing counts from."""

    @property
    def can_lapse(self) -> bool:
        return self.stage not in (Stage.ENROLLED, Stage.LAPSED)


@dataclass(frozen=True)
class StageChange:
    from_stage: Stage
    to_stage: Stage
    time: datetime
    by_lapse: bool
    """True for a move to lapsed made by time; False for a move caused by an event."""


def lapse_due(member: MemberStage, settings: StageSettings) -> datetime | None:
    """When `member` lapses if nothing happens before; None if they cannot lapse."""
    if not member.can_lapse or member.last_activity_time is None:
        return None
    return member.last_activity_time + timedelta(days=settings.lapsed_after_days)


def lapsed_by(
    member: MemberStage, settings: StageSettings, now: datetime
) -> tuple[MemberStage, StageChange | None]:
    """The member lapsed, if their lapse fell due at or before `now`."""
    due = lapse_due(member, settings)
    if due is None or due > now:
        return member, None
    change = StageChange(member.stage, Stage.LAPSED, due, by_lapse=True)
    return replace(member, stage=Stage.LAPSED, since=due), change


def observe(
    member: MemberStage, signal: Signal, time: datetime, settings: StageSettings
) -> tuple[MemberStage, list[StageChange]]:
    """The member after an event with `signal` at `time`, and the stage changes it made: a
    lapse that fell due before it first, then the move the event causes, if any."""
    member, lapse = lapsed_by(member, settings, time)
    changes = [lapse] if lapse is not None else []
    member = _with_signal(member, signal, time)
    earned = _stage_of_record(member, settings, time)
    if member.stage is Stage.LAPSED:
        if signal not in (Signal.PURCHASE, Signal.REDEMPTION):
            return member, changes
        to_stage = earned
    else:
        to_stage = max(member.stage, earned, key=_RANK.__getitem__)
    if to_stage is not member.stage:
        changes.append(StageChange(member.stage, to_stage, time, by_lapse=False))
        member = replace(member, stage=to_stage, since=time)
    return member, changes


def _with_signal(member: MemberStage, signal: Signal, time: datetime) -> MemberStage:
    match signal:
        case Signal.PURCHASE:
            recent = (*member.recent_purchase_times, time)[-MAX_ACTION_PURCHASES:]
            return replace(
                member,
                purchases=member.purchases + 1,
                recent_purchase_times=recent,
                last_activity_time=time,
            )
        case Signal.REDEMPTION:
            return replace(member, redeemed=True, last_activity_time=time)
        case Signal.PROMOTER | Signal.REVIEW | Signal.REFERRAL:
            return replace(member, affective=True)


def _stage_of_record(member: MemberStage, settings: StageSettings, time: datetime) -> Stage:
    if member.purchases == 0:
        return Stage.ENROLLED
    window_start = time - timedelta(days=settings.action_window_days)
    in_window = sum(1 for bought in member.recent_purchase_times if bought > window_start)
    if in_window >= settings.action_purchases:
        return Stage.ACTION
    if member.purchases >= 2 or member.redeemed:  # noqa: PLR2004 (a repeat purchase)
        return Stage.CONATIVE
    if member.affective:
        return Stage.AFFECTIVE
    return Stage.COGNITIVE
