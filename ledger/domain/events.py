"""Events: what happened, as decided. Replay never re-runs a rule; it only folds these.

Each event type has a name and a schema version, which are stored with it; how an event is
written as data and read back (and how older schema versions are upcast) is the codec's
business (ledger/codec/events.py). Dates are ISO-8601 strings ("2026-11-22"), instants UTC
ISO-8601 with microseconds and a Z suffix, so every value has one spelling.

A lot's expiry (every `expires_on`) is an instant: the lot expires at it (ledger/domain/
expiry.py). The field keeps its first name, as stored data does; the first release wrote a
date there, which the codec reads as the start of that day, UTC, what it meant then.
"""

from dataclasses import dataclass
from typing import ClassVar

from ledger.domain.purchase_rules import OrderLine, RuleApplication
from ledger.domain.settings import ProgramSettings


@dataclass(frozen=True)
class LotPortion:
    """Points taken from (or given back to) the lot that expires at the instant `expires_on`
    (None: never)."""

    expires_on: str | None
    points: int


Lots = tuple[LotPortion, ...]


@dataclass(frozen=True)
class Event:
    event_type: ClassVar[str] = ""
    schema_version: ClassVar[int] = 1

    @property
    def points_delta(self) -> int:
        """Change of available plus pending points, as listed on ledger entries."""
        return 0


# --- program stream -------------------------------------------------------------------------


@dataclass(frozen=True)
class ProgramCreated(Event):
    event_type: ClassVar[str] = "ProgramCreated"
    program_id: str
    settings: ProgramSettings


@dataclass(frozen=True)
class ProgramUpdated(Event):
    event_type: ClassVar[str] = "ProgramUpdated"
    settings: ProgramSettings


# --- account streams ------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberEnrolled(Event):
    """Schema 2 holds no member id: the stream's key is the member's pseudonymous key, and
    the id the brand uses lives only in the erasable link (ledger.members). Schema 1 events
    (written before pseudonymous keys) also held the member id; `upcast` drops it."""

    event_type: ClassVar[str] = "MemberEnrolled"
    schema_version: ClassVar[int] = 2
    referral_code: str


@dataclass(frozen=True)
class MemberForgotten(Event):
    """The member's id and personal fields were erased (ForgetMember): the link from the id
    to this stream is gone, and the account answers no command again. Recorded without the
    id; its events stay, so balances, finance totals and the chain are untouched."""

    event_type: ClassVar[str] = "MemberForgotten"
    reason: str


@dataclass(frozen=True)
class PurchaseRecorded(Event):
    """A purchase and the points its rules computed, pending until `release_at` if set.

    Schema 2 adds the order's `lines` and what each rule gave (`rules`, adding up to
    `points`). Schema 1 events (before order lines) are upcast with no lines and one rule,
    the earn rate they were computed by, giving all their points."""

    event_type: ClassVar[str] = "PurchaseRecorded"
    schema_version: ClassVar[int] = 2
    order_id: str
    amount_minor: int
    currency_code: str
    points: int
    release_at: str | None
    expires_on: str | None
    program_revision: int
    rate_points: int
    rate_per_major_units: int
    currency_exponent: int
    rules: tuple[RuleApplication, ...] = ()
    lines: tuple[OrderLine, ...] = ()

    @property
    def points_delta(self) -> int:
        return self.points


@dataclass(frozen=True)
class PendingPointsReleased(Event):
    """An order's pending points became available (`reason`: confirmed or window_passed)."""

    event_type: ClassVar[str] = "PendingPointsReleased"
    order_id: str
    points: int
    expires_on: str | None
    reason: str


@dataclass(frozen=True)
class PurchaseRefunded(Event):
    """A refund and the points it took back: from the order's pending points, then from
    available lots, and `negative_points` beyond the balance when the program allows it."""

    event_type: ClassVar[str] = "PurchaseRefunded"
    order_id: str
    amount_minor: int
    points_clawed_back: int
    from_pending: int
    from_available: Lots
    negative_points: int
    points_not_recovered: int

    @property
    def points_delta(self) -> int:
        return -self.points_clawed_back


@dataclass(frozen=True)
class PointsEarned(Event):
    event_type: ClassVar[str] = "PointsEarned"
    points: int
    reason: str
    expires_on: str | None
    program_revision: int

    @property
    def points_delta(self) -> int:
        return self.points


@dataclass(frozen=True)
class PointsAdjusted(Event):
    """A manual change. Positive adds a lot expiring on `expires_on`; negative takes `taken`."""

    event_type: ClassVar[str] = "PointsAdjusted"
    points_delta_requested: int
    reason_code: str
    note: str
    actor: str
    expires_on: str | None
    taken: Lots

    @property
    def points_delta(self) -> int:
        return self.points_delta_requested


@dataclass(frozen=True)
class PointsRedeemed(Event):
    event_type: ClassVar[str] = "PointsRedeemed"
    points: int
    reference: str
    taken: Lots

    @property
    def points_delta(self) -> int:
        return -self.points


@dataclass(frozen=True)
class PointsReserved(Event):
    event_type: ClassVar[str] = "PointsReserved"
    reservation_id: str
    points: int
    expires_at: str
    taken: Lots

    @property
    def points_delta(self) -> int:
        return -self.points


@dataclass(frozen=True)
class ReservationCommitted(Event):
    """`points_redeemed` leave the hold for good; `restored` go back to their lots."""

    event_type: ClassVar[str] = "ReservationCommitted"
    reservation_id: str
    points_redeemed: int
    points_released: int
    restored: Lots

    @property
    def points_delta(self) -> int:
        return self.points_released


@dataclass(frozen=True)
class ReservationReleased(Event):
    """A hold given back whole (`reason`: canceled or expired)."""

    event_type: ClassVar[str] = "ReservationReleased"
    reservation_id: str
    points_released: int
    restored: Lots
    reason: str

    @property
    def points_delta(self) -> int:
        return self.points_released


@dataclass(frozen=True)
class PointsTransferredOut(Event):
    event_type: ClassVar[str] = "PointsTransferredOut"
    schema_version: ClassVar[int] = 2
    transfer_id: str
    destination_member_key: str
    """Schema 1 named it destination_member_id (the id itself, before pseudonymous keys)."""
    points: int
    taken: Lots

    @property
    def points_delta(self) -> int:
        return -self.points


@dataclass(frozen=True)
class PointsTransferredIn(Event):
    """Received points keep the expiry dates of the lots they came from."""

    event_type: ClassVar[str] = "PointsTransferredIn"
    schema_version: ClassVar[int] = 2
    transfer_id: str
    source_member_key: str
    """Schema 1 named it source_member_id (the id itself, before pseudonymous keys)."""
    points: int
    lots: Lots

    @property
    def points_delta(self) -> int:
        return self.points


@dataclass(frozen=True)
class PointsExpired(Event):
    event_type: ClassVar[str] = "PointsExpired"
    expires_on: str
    points: int

    @property
    def points_delta(self) -> int:
        return -self.points


@dataclass(frozen=True)
class InactivityExpiryScheduled(Event):
    """The member's qualifying activity (or enrolment) set when the whole balance expires if
    nothing qualifying follows, under `program_revision`'s inactivity policy; None: the
    program no longer has one. Appended only when the deadline moves, so at most once a day
    (deadlines fall at the end of a day)."""

    event_type: ClassVar[str] = "InactivityExpiryScheduled"
    balance_expires_at: str | None
    program_revision: int


@dataclass(frozen=True)
class InactiveBalanceExpired(Event):
    """The whole available balance expired: nothing qualifying came before the deadline
    `balance_expires_at`. `taken` names the lots it emptied."""

    event_type: ClassVar[str] = "InactiveBalanceExpired"
    balance_expires_at: str
    points: int
    taken: Lots

    @property
    def points_delta(self) -> int:
        return -self.points


@dataclass(frozen=True)
class HistoryImported(Event):
    """An event of the system the brand migrated from, kept as it was (points and time)."""

    event_type: ClassVar[str] = "HistoryImported"
    external_id: str
    kind: str
    points_delta_imported: int
    occurred_at: str
    expires_on: str | None
    taken: Lots
    negative_points: int

    @property
    def points_delta(self) -> int:
        return self.points_delta_imported


# --- rewards (ledger/domain/rewards.py) -------------------------------------------------------


@dataclass(frozen=True)
class RewardRedeemed(Event):
    """A reward redeemed: its points taken (one step) or its hold committed
    (`reservation_id` set, `taken` the hold's portions), and the reward as the program's
    revision `program_revision` stated it, so the code's benefit never changes later."""

    event_type: ClassVar[str] = "RewardRedeemed"
    reward_id: str
    redemption_code: str
    points: int
    taken: Lots
    reservation_id: str
    program_revision: int
    display_name: str
    benefit_kind: str
    amount_minor: int
    currency_code: str
    percent: int
    sku: str

    @property
    def points_delta(self) -> int:
        # A committed hold left available when it was reserved.
        return 0 if self.reservation_id else -self.points


@dataclass(frozen=True)
class RewardReserved(Event):
    """Points held for a reward until `expires_at` (and a unit of its stock when
    `stock_held`), committed by CommitReservation or given back by cancel or lapse."""

    event_type: ClassVar[str] = "RewardReserved"
    reservation_id: str
    reward_id: str
    points: int
    expires_at: str
    taken: Lots
    stock_held: bool
    program_revision: int

    @property
    def points_delta(self) -> int:
        return -self.points


@dataclass(frozen=True)
class RewardUnitIssued(Event):
    """One unit of a reward's stock went to a member (stock stream); `reservation_id` set
    when it ends that member's hold on the unit."""

    event_type: ClassVar[str] = "RewardUnitIssued"
    member_key: str
    redemption_code: str
    reservation_id: str


@dataclass(frozen=True)
class RewardUnitHeld(Event):
    """One unit of a reward's stock held for a member's reservation until `expires_at`."""

    event_type: ClassVar[str] = "RewardUnitHeld"
    member_key: str
    reservation_id: str
    expires_at: str


@dataclass(frozen=True)
class RewardUnitReleased(Event):
    """A held unit back in stock (`reason`: canceled, or lapsed past its time)."""

    event_type: ClassVar[str] = "RewardUnitReleased"
    member_key: str
    reservation_id: str
    reason: str


@dataclass(frozen=True)
class ActionRecorded(Event):
    """A member did something the program rewards (RecordAction), and what it gave: `points`
    (0 when capped or not rewarded) under the action's rule of `program_revision`
    (`rule_points` each time), why (`outcome`, and `capped_by`, the period of the cap that
    limited it), and the periods it counts under in the program's time zone, so replay
    never redoes calendar arithmetic."""

    event_type: ClassVar[str] = "ActionRecorded"
    action_id: str
    reference: str
    points: int
    rule_points: int
    outcome: str
    capped_by: str
    expires_on: str | None
    program_revision: int
    day: str
    week: str
    month: str
    year: str

    @property
    def points_delta(self) -> int:
        return self.points


@dataclass(frozen=True)
class BonusGranted(Event):
    """A one-off surprise reward (GrantBonus): earned points, kept apart from adjustments so
    finance counts them as their own kind."""

    event_type: ClassVar[str] = "BonusGranted"
    points: int
    reason_code: str
    note: str
    actor: str
    expires_on: str | None
    program_revision: int

    @property
    def points_delta(self) -> int:
        return self.points


@dataclass(frozen=True)
class MilestoneReached(Event):
    """The purchase `order_id` took the member to a milestone of `program_revision` for the
    first time: `points` given at once. Carries the order id, so a refund of that order
    reads it among the order's events."""

    event_type: ClassVar[str] = "MilestoneReached"
    milestone_id: str
    order_id: str
    points: int
    expires_on: str | None
    program_revision: int

    @property
    def points_delta(self) -> int:
        return self.points


@dataclass(frozen=True)
class MilestoneClawedBack(Event):
    """The order that reached a milestone was refunded in full and the program claws its
    bonus back: taken like a refund's points (`taken` from lots, `negative_points` below zero
    when the program allows it, `points_not_recovered` left unrecovered otherwise)."""

    event_type: ClassVar[str] = "MilestoneClawedBack"
    milestone_id: str
    order_id: str
    points_clawed_back: int
    taken: Lots
    negative_points: int
    points_not_recovered: int

    @property
    def points_delta(self) -> int:
        return -self.points_clawed_back


@dataclass(frozen=True)
class FeedbackRecorded(Event):
    """A member answered a survey (RecordFeedback): the scores given (None: not asked or not
    answered) and the channel's code ("" when unsaid). Moves no points."""

    event_type: ClassVar[str] = "FeedbackRecorded"
    nps_score: int | None
    ces_score: int | None
    csat_score: int | None
    channel: str


# --- tiers (ledger/domain/tiers.py) ------------------------------------------------------------


@dataclass(frozen=True)
class TierStep:
    """A tier of the ladder as a member's state keeps it: progress is measured on it."""

    name: str
    threshold: int


@dataclass(frozen=True)
class TierPeriodStarted(Event):
    """The member's qualifying figure counts into `period` from now on ("2026-03" in a
    rolling window of months, "2026" in a calendar year, "lifetime"), in the program's time
    zone; periods before `window_from` have left the window. `counts` is "points" or the
    spend currency; `ladder` and `settings_digest` are the program's tiers as applied."""

    event_type: ClassVar[str] = "TierPeriodStarted"
    period: str
    window_from: str
    window: str
    counts: str
    ladder: tuple[TierStep, ...]
    settings_digest: str
    program_revision: int


@dataclass(frozen=True)
class TierChanged(Event):
    """The member's tier went from `from_tier` to `to_tier` ("" below the lowest tier) for
    `reason`: qualified (an upgrade the moment the figure reached it), term_ended (a
    downgrade at the review after the term and its grace), renewed (kept for a new term at
    the review: from and to are equal), manual (an admin's, with `actor`, `reason_code` and
    `note`) or program_changed (the program's tiers changed; from and to may be equal when
    only the benefits did). `qualifying_figure` is the figure the decision saw; the tier's
    benefits are those of `program_revision`, kept until the next change."""

    event_type: ClassVar[str] = "TierChanged"
    from_tier: str
    to_tier: str
    reason: str
    qualifying_figure: int
    term_ends_at: str | None
    review_at: str | None
    earn_multiplier_percent: int
    perks: tuple[str, ...]
    program_revision: int
    actor: str = ""
    reason_code: str = ""
    note: str = ""


@dataclass(frozen=True)
class TierSpendRefunded(Event):
    """A refund of `amount_minor` of the order `order_id` lowered a qualifying spend counted
    in `currency_code` (a refund itself names no currency)."""

    event_type: ClassVar[str] = "TierSpendRefunded"
    order_id: str
    amount_minor: int
    currency_code: str


# --- referrals (ledger/domain/referrals.py): the friend's stream, then the referrer's --------


@dataclass(frozen=True)
class ReferralApplied(Event):
    """The member enrolled with a referral code (friend's stream): `status` pending, or
    refused with `reason`. `referrer_key` is empty when the code named no member (or one
    forgotten). Holds keys only, never the code or anything personal."""

    event_type: ClassVar[str] = "ReferralApplied"
    referrer_key: str
    status: str
    reason: str


@dataclass(frozen=True)
class ReferralQualified(Event):
    """The friend's first purchase of at least the program's minimum: the referral is
    credited once `release_at` (the end of its return window) has passed, unless the order
    is refunded first."""

    event_type: ClassVar[str] = "ReferralQualified"
    order_id: str
    release_at: str


@dataclass(frozen=True)
class ReferralCredited(Event):
    """The referral's credit (friend's stream): `points` for the friend (0 when the program
    gives friends nothing), in one decision with the referrer's ReferrerCredited."""

    event_type: ClassVar[str] = "ReferralCredited"
    referrer_key: str
    order_id: str
    points: int
    expires_on: str | None
    program_revision: int

    @property
    def points_delta(self) -> int:
        return self.points


@dataclass(frozen=True)
class ReferralRefused(Event):
    """The pending referral was refused when it came to be credited (friend's stream):
    `reason` referrer_cap_reached, referrals_disabled or referrer_forgotten."""

    event_type: ClassVar[str] = "ReferralRefused"
    reason: str


@dataclass(frozen=True)
class ReferralReversed(Event):
    """The qualifying order was refunded (friend's stream): inside the window nothing had
    been credited (all zero); after it, the friend's credit taken back as a refund's points
    are (`taken` from lots, `negative_points` below zero when allowed, the rest not
    recovered)."""

    event_type: ClassVar[str] = "ReferralReversed"
    order_id: str
    reason: str
    points_clawed_back: int
    taken: Lots
    negative_points: int
    points_not_recovered: int

    @property
    def points_delta(self) -> int:
        return -self.points_clawed_back


@dataclass(frozen=True)
class ReferralReceived(Event):
    """A friend enrolled with this member's code (referrer's stream): `status` pending, or
    refused with `reason`."""

    event_type: ClassVar[str] = "ReferralReceived"
    friend_key: str
    status: str
    reason: str


@dataclass(frozen=True)
class ReferrerCredited(Event):
    """The referrer's credit for `friend_key`'s qualifying order, counted under the cap
    periods it fell in (program's time zone), like an action's."""

    event_type: ClassVar[str] = "ReferrerCredited"
    friend_key: str
    points: int
    expires_on: str | None
    program_revision: int
    day: str
    week: str
    month: str
    year: str

    @property
    def points_delta(self) -> int:
        return self.points


@dataclass(frozen=True)
class ReferralStatusChanged(Event):
    """A referral of this referrer was refused or reversed without points moving here."""

    event_type: ClassVar[str] = "ReferralStatusChanged"
    friend_key: str
    status: str
    reason: str


@dataclass(frozen=True)
class ReferrerCreditReversed(Event):
    """The friend's qualifying order was refunded after the credit and the program reverses
    credits: taken back like ReferralReversed. The credit still counts toward the cap."""

    event_type: ClassVar[str] = "ReferrerCreditReversed"
    friend_key: str
    reason: str
    points_clawed_back: int
    taken: Lots
    negative_points: int
    points_not_recovered: int

    @property
    def points_delta(self) -> int:
        return -self.points_clawed_back


EVENT_TYPES: dict[str, type[Event]] = {
    cls.event_type: cls
    for cls in (
        ProgramCreated,
        ProgramUpdated,
        MemberEnrolled,
        MemberForgotten,
        PurchaseRecorded,
        PendingPointsReleased,
        PurchaseRefunded,
        PointsEarned,
        PointsAdjusted,
        PointsRedeemed,
        PointsReserved,
        ReservationCommitted,
        ReservationReleased,
        PointsTransferredOut,
        PointsTransferredIn,
        PointsExpired,
        InactivityExpiryScheduled,
        InactiveBalanceExpired,
        HistoryImported,
        RewardRedeemed,
        RewardReserved,
        RewardUnitIssued,
        RewardUnitHeld,
        RewardUnitReleased,
        ActionRecorded,
        BonusGranted,
        MilestoneReached,
        MilestoneClawedBack,
        FeedbackRecorded,
        TierPeriodStarted,
        TierChanged,
        TierSpendRefunded,
        ReferralApplied,
        ReferralQualified,
        ReferralCredited,
        ReferralRefused,
        ReferralReversed,
        ReferralReceived,
        ReferrerCredited,
        ReferralStatusChanged,
        ReferrerCreditReversed,
    )
}
