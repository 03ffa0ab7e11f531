"""Proto messages <-> ledger values. Field names in errors are the proto's."""

import json
from datetime import UTC, datetime
from functools import lru_cache

from google.protobuf.timestamp_pb2 import Timestamp

from ledger.currency import minor_unit_exponent
from ledger.domain import clock
from ledger.domain.account import Balances
from ledger.domain.errors import Violations, refuse
from ledger.domain.limits import DEFAULT_HOLD_TTL_SECONDS
from ledger.domain.settings import (
    EarnRate,
    ExpiryRounding,
    NegativeBalancePolicy,
    ProgramSettings,
    QualifyingActivity,
)
from ledger.entries import Entry
from ledger.outcomes import AccountView, ProgramView
from loyalty.v1 import ledger_pb2 as pb
from service import (
    action_mapping,
    purchase_mapping,
    referral_mapping,
    rewards,
    stage_mapping,
    tier_mapping,
)
from service.names import account_name, program_name

_POLICY_FROM_PROTO = {
    pb.NEGATIVE_BALANCE_POLICY_UNSPECIFIED: NegativeBalancePolicy.WITHIN_BALANCE,
    pb.NEGATIVE_BALANCE_POLICY_PENDING_ONLY: NegativeBalancePolicy.PENDING_ONLY,
    pb.NEGATIVE_BALANCE_POLICY_WITHIN_BALANCE: NegativeBalancePolicy.WITHIN_BALANCE,
    pb.NEGATIVE_BALANCE_POLICY_ALLOW_NEGATIVE: NegativeBalancePolicy.ALLOW_NEGATIVE,
}
_POLICY_TO_PROTO = {
    NegativeBalancePolicy.PENDING_ONLY: pb.NEGATIVE_BALANCE_POLICY_PENDING_ONLY,
    NegativeBalancePolicy.WITHIN_BALANCE: pb.NEGATIVE_BALANCE_POLICY_WITHIN_BALANCE,
    NegativeBalancePolicy.ALLOW_NEGATIVE: pb.NEGATIVE_BALANCE_POLICY_ALLOW_NEGATIVE,
}

_ROUNDING_FROM_PROTO = {
    pb.EXPIRY_ROUNDING_UNSPECIFIED: ExpiryRounding.END_OF_DAY,
    pb.EXPIRY_ROUNDING_END_OF_DAY: ExpiryRounding.END_OF_DAY,
    pb.EXPIRY_ROUNDING_END_OF_MONTH: ExpiryRounding.END_OF_MONTH,
    pb.EXPIRY_ROUNDING_END_OF_YEAR: ExpiryRounding.END_OF_YEAR,
}
_ROUNDING_TO_PROTO = {
    ExpiryRounding.END_OF_DAY: pb.EXPIRY_ROUNDING_END_OF_DAY,
    ExpiryRounding.END_OF_MONTH: pb.EXPIRY_ROUNDING_END_OF_MONTH,
    ExpiryRounding.END_OF_YEAR: pb.EXPIRY_ROUNDING_END_OF_YEAR,
}
_ACTIVITY_FROM_PROTO = {
    pb.QUALIFYING_ACTIVITY_PURCHASE: QualifyingActivity.PURCHASE,
    pb.QUALIFYING_ACTIVITY_EARN: QualifyingActivity.EARN,
    pb.QUALIFYING_ACTIVITY_REDEMPTION: QualifyingActivity.REDEMPTION,
    pb.QUALIFYING_ACTIVITY_TRANSFER: QualifyingActivity.TRANSFER,
    pb.QUALIFYING_ACTIVITY_ACTION: QualifyingActivity.ACTION,
}
_ACTIVITY_TO_PROTO = {domain: proto for proto, domain in _ACTIVITY_FROM_PROTO.items()}


def timestamp(moment: datetime | str) -> Timestamp:
    stamp = Timestamp()
    _set_time(stamp, moment)
    return stamp


def _set_time(target: Timestamp, moment: datetime | str) -> None:
    # Setting the fields of the message's own Timestamp in place: passing a Timestamp to a
    # constructor copies it, and every command's answer carries several.
    target.seconds, target.nanos = _epoch(moment)


@lru_cache(maxsize=4096)  # the same enrolment times and expiry days recur in every response
def _epoch(moment: datetime | str) -> tuple[int, int]:
    if isinstance(moment, str):
        moment = clock.parse_instant(moment)
    delta = moment - _EPOCH
    return delta.days * 86_400 + delta.seconds, delta.microseconds * 1_000


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NANOS_PER_SECOND = 1_000_000_000


def datetime_of(stamp: Timestamp, field_name: str, found: Violations | None = None) -> datetime:
    """The instant `stamp` names; a bad one is raised, or added to `found` (the epoch then
    stands in) for the caller to report with the request's other bad fields."""
    if not 0 <= stamp.nanos < NANOS_PER_SECOND:
        refuse(found, f"{field_name}.nanos", "must be 0 to 999,999,999", reason="TIMESTAMP_INVALID")
        return _EPOCH
    try:
        return stamp.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        refuse(found, field_name, "is out of range", reason="TIMESTAMP_INVALID")
        return _EPOCH


def program_settings(
    message: pb.Program, prefix: str = "program", found: Violations | None = None
) -> ProgramSettings:
    """The settings `message` states. Violations (an unknown currency, policy, rounding or
    activity) are raised, or added to `found` when given, for the caller to report with every
    other bad setting; a bad policy or rounding then reads as the default, an unknown
    activity is left out."""
    violations = Violations() if found is None else found
    for index, rate in enumerate(message.earn_rates):
        if minor_unit_exponent(rate.currency_code) is None:
            violations.add(
                f"{prefix}.earn_rates[{index}].currency_code",
                f"{rate.currency_code!r} is not an ISO 4217 currency with minor units",
            )
    policy = _POLICY_FROM_PROTO.get(message.negative_balance_policy)
    if policy is None:
        violations.add(f"{prefix}.negative_balance_policy", "is not a known policy")
    rounding = _ROUNDING_FROM_PROTO.get(message.expiry_rounding)
    if rounding is None:
        violations.add(f"{prefix}.expiry_rounding", "is not a known rounding")
    activities: list[QualifyingActivity] = []
    for index, value in enumerate(message.qualifying_activities):
        activity = _ACTIVITY_FROM_PROTO.get(value)
        if activity is None:
            violations.add(f"{prefix}.qualifying_activities[{index}]", "is not a known activity")
        else:
            activities.append(activity)
    earning = purchase_mapping.earning_settings(message, prefix, violations)
    reward_catalogue, point_values = rewards.catalogue(message, prefix, violations)
    actions = action_mapping.actions_of(message, violations, prefix)
    milestones = action_mapping.milestones_of(message, violations, prefix)
    milestone_refund_policy = action_mapping.refund_policy_of(message, violations, prefix)
    tiers = tier_mapping.tiers_of(message, violations, prefix)
    referrals = referral_mapping.settings_of(message, violations, prefix)
    settings = ProgramSettings(
        display_name=message.display_name,
        earn_rates=tuple(
            EarnRate(rate.currency_code, rate.points, rate.per_major_units)
            for rate in message.earn_rates
        ),
        return_window_days=message.return_window_days,
        points_expiry_days=message.points_expiry_days,
        negative_balance_policy=policy or NegativeBalancePolicy.WITHIN_BALANCE,
        max_hold_ttl_seconds=message.max_hold_ttl_seconds or DEFAULT_HOLD_TTL_SECONDS,
        time_zone=message.time_zone or "UTC",
        multipliers=earning.multipliers,
        exclusions=earning.exclusions,
        minimum_order_amounts=earning.minimum_order_amounts,
        points_rounding=earning.points_rounding,
        earn_on_gift_cards=earning.earn_on_gift_cards,
        rewards=reward_catalogue,
        point_values=point_values,
        expiry_rounding=rounding or ExpiryRounding.END_OF_DAY,
        inactivity_expiry_days=message.inactivity_expiry_days,
        qualifying_activities=tuple(activities),
        actions=actions,
        milestones=milestones,
        milestone_refund_policy=milestone_refund_policy,
        stage_settings=stage_mapping.stage_settings_of(message),
        tiers=tiers,
        referrals=referrals,
    )
    if found is None and violations.items:
        # With the settings' own checks, so every bad setting is named at once.
        settings.validate(violations, prefix)
        violations.raise_if_any()
    return settings


def program(view: ProgramView) -> pb.Program:
    settings = view.state.settings
    message = pb.Program(
        name=program_name(view.state.program_id),
        display_name=settings.display_name,
        earn_rates=[
            pb.EarnRate(
                currency_code=rate.currency_code,
                points=rate.points,
                per_major_units=rate.per_major_units,
            )
            for rate in settings.earn_rates
        ],
        return_window_days=settings.return_window_days,
        points_expiry_days=settings.points_expiry_days,
        negative_balance_policy=_POLICY_TO_PROTO[settings.negative_balance_policy],
        max_hold_ttl_seconds=settings.max_hold_ttl_seconds,
        time_zone=settings.time_zone,
        rewards=[rewards.reward_message(reward) for reward in settings.rewards],
        point_values=[rewards.point_value_message(value) for value in settings.point_values],
        expiry_rounding=_ROUNDING_TO_PROTO[settings.expiry_rounding],
        inactivity_expiry_days=settings.inactivity_expiry_days,
        qualifying_activities=[
            _ACTIVITY_TO_PROTO[activity] for activity in settings.qualifying_activities
        ],
        revision=view.state.revision,
        create_time=timestamp(view.created_at),
        update_time=timestamp(view.updated_at),
    )
    purchase_mapping.fill_program(
        message,
        purchase_mapping.EarningSettings(
            settings.multipliers,
            settings.exclusions,
            settings.minimum_order_amounts,
            settings.points_rounding,
            settings.earn_on_gift_cards,
        ),
    )
    action_mapping.fill_program(message, settings)
    stage_mapping.fill_program(message, settings.stage_settings)
    tier_mapping.fill_program(message, settings.tiers)
    referral_mapping.fill_program(message, settings.referrals)
    return message


def balances(values: Balances) -> pb.Balances:
    return pb.Balances(
        available=values.available,
        pending=values.pending,
        held=values.held,
        lifetime_earned=values.lifetime_earned,
        lifetime_redeemed=values.lifetime_redeemed,
        expired=values.expired,
    )


def account(view: AccountView) -> pb.Account:
    # Filled in place rather than from nested messages: this answers every account command.
    message = pb.Account(
        name=account_name(view.program_id, view.member_id),
        balances=balances(view.balances),
        version=view.version,
        referral_code=view.referral_code,
    )
    _set_time(message.enroll_time, view.created_at)
    for portion in view.expiring:
        if portion.expires_on is not None:
            expiring = message.expiring_points.add(points=portion.points)
            _set_time(expiring.expire_time, portion.expires_on)
    if view.balance_expires_at is not None:
        _set_time(message.balance_expire_time, view.balance_expires_at)
    if view.tier is not None:
        tier_mapping.fill_account(message, view.tier, _set_time)
    return message


def entry(found: Entry) -> pb.LedgerEntry:
    record = found.record
    if found.member_key is None:
        name = program_name(record.program_id)
    elif found.member_id is None:
        name = ""  # a member forgotten since: known by key only
    else:
        name = account_name(record.program_id, found.member_id)
    return pb.LedgerEntry(
        event_id=record.event_id,
        account=name,
        version=record.version,
        event_type=record.event_type,
        schema_version=record.schema_version,
        record_time=timestamp(record.recorded_at),
        points_delta=found.points_delta,
        balances_after=balances(record.balances),
        data_json=json.dumps(
            record.data, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ),
        request_id=str(record.metadata.get("request_id", "")),
        actor=str(record.metadata.get("actor", "")),
        hash=record.hash.hex(),
        member_key=found.member_key or "",
    )
