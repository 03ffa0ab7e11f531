"""Proto messages <-> action and milestone settings and answers (RecordAction, GrantBonus,
milestones). Field names in errors are the proto's."""

from ledger.currency import minor_unit_exponent, to_minor_units
from ledger.domain.action_settings import ActionCap, CapPeriod, RewardedAction
from ledger.domain.errors import InvalidArgument, Violations
from ledger.domain.milestone_settings import Milestone, MilestoneRefundPolicy
from ledger.domain.results import ActionResult
from ledger.domain.settings import ProgramSettings
from loyalty.v1 import ledger_pb2 as pb

_PERIOD_FROM_PROTO = {
    pb.CAP_PERIOD_DAY: CapPeriod.DAY,
    pb.CAP_PERIOD_WEEK: CapPeriod.WEEK,
    pb.CAP_PERIOD_MONTH: CapPeriod.MONTH,
    pb.CAP_PERIOD_YEAR: CapPeriod.YEAR,
    pb.CAP_PERIOD_LIFETIME: CapPeriod.LIFETIME,
}
_PERIOD_TO_PROTO = {period: number for number, period in _PERIOD_FROM_PROTO.items()}
_PERIOD_BY_NAME = {period.value: number for period, number in _PERIOD_TO_PROTO.items()}


def period_of_proto(value: "pb.CapPeriod.ValueType") -> CapPeriod | None:
    return _PERIOD_FROM_PROTO.get(value)


def period_to_proto(period: CapPeriod) -> "pb.CapPeriod.ValueType":
    return _PERIOD_TO_PROTO[period]


_REFUND_POLICY_FROM_PROTO = {
    pb.MILESTONE_REFUND_POLICY_UNSPECIFIED: MilestoneRefundPolicy.CLAW_BACK,
    pb.MILESTONE_REFUND_POLICY_CLAW_BACK: MilestoneRefundPolicy.CLAW_BACK,
    pb.MILESTONE_REFUND_POLICY_KEEP: MilestoneRefundPolicy.KEEP,
}
_REFUND_POLICY_TO_PROTO = {
    MilestoneRefundPolicy.CLAW_BACK: pb.MILESTONE_REFUND_POLICY_CLAW_BACK,
    MilestoneRefundPolicy.KEEP: pb.MILESTONE_REFUND_POLICY_KEEP,
}

_OUTCOME_TO_PROTO = {
    "rewarded": pb.ACTION_OUTCOME_REWARDED,
    "cap_reached": pb.ACTION_OUTCOME_CAP_REACHED,
    "not_rewarded": pb.ACTION_OUTCOME_NOT_REWARDED,
}


def actions_of(
    message: pb.Program, violations: Violations, prefix: str
) -> tuple[RewardedAction, ...]:
    actions = []
    for index, action in enumerate(message.actions):
        caps = []
        for cap_index, cap in enumerate(action.caps):
            period = _PERIOD_FROM_PROTO.get(cap.period)
            if period is None:
                violations.add(f"{prefix}.actions[{index}].caps[{cap_index}].period", "is required")
                continue
            caps.append(ActionCap(period, cap.max_times, cap.max_points))
        actions.append(RewardedAction(action.action_id, action.points, tuple(caps)))
    return tuple(actions)


def milestones_of(
    message: pb.Program, violations: Violations, prefix: str
) -> tuple[Milestone, ...]:
    milestones = []
    for index, milestone in enumerate(message.milestones):
        where = f"{prefix}.milestones[{index}]"
        if milestone.WhichOneof("threshold") == "lifetime_spend":
            spend = milestone.lifetime_spend
            # A stand-in with the amount's sign, so the rules' checks still see one.
            amount_minor = spend.units
            if minor_unit_exponent(spend.currency_code) is None:
                violations.add(
                    f"{where}.lifetime_spend.currency_code",
                    f"{spend.currency_code!r} is not an ISO 4217 currency with minor units",
                )
            else:
                try:
                    amount_minor, _ = to_minor_units(
                        spend.units, spend.nanos, spend.currency_code, f"{where}.lifetime_spend"
                    )
                except InvalidArgument as error:
                    violations.items.extend(error.violations)
            milestones.append(
                Milestone(
                    milestone.milestone_id,
                    milestone.points,
                    spend_currency_code=spend.currency_code,
                    spend_amount_minor=max(amount_minor, 0),
                )
            )
        else:
            milestones.append(
                Milestone(milestone.milestone_id, milestone.points, milestone.order_count)
            )
    return tuple(milestones)


def refund_policy_of(
    message: pb.Program, violations: Violations, prefix: str
) -> MilestoneRefundPolicy:
    policy = _REFUND_POLICY_FROM_PROTO.get(message.milestone_refund_policy)
    if policy is None:
        violations.add(f"{prefix}.milestone_refund_policy", "is not a known policy")
        return MilestoneRefundPolicy.CLAW_BACK
    return policy


def fill_program(message: pb.Program, settings: ProgramSettings) -> None:
    """Sets the action and milestone fields of `message` from `settings`."""
    for action in settings.actions:
        message.actions.add(
            action_id=action.action_id,
            points=action.points,
            caps=[
                pb.ActionCap(
                    period=_PERIOD_TO_PROTO[cap.period],
                    max_times=cap.max_times,
                    max_points=cap.max_points,
                )
                for cap in action.caps
            ],
        )
    for milestone in settings.milestones:
        added = message.milestones.add(milestone_id=milestone.milestone_id, points=milestone.points)
        if milestone.order_count:
            added.order_count = milestone.order_count
        else:
            exponent = minor_unit_exponent(milestone.spend_currency_code) or 0
            units, minor = divmod(milestone.spend_amount_minor, 10**exponent)
            added.lifetime_spend.currency_code = milestone.spend_currency_code
            added.lifetime_spend.units = units
            added.lifetime_spend.nanos = minor * 10 ** (9 - exponent)
    message.milestone_refund_policy = _REFUND_POLICY_TO_PROTO[settings.milestone_refund_policy]


def action_response(result: ActionResult, account: pb.Account) -> pb.RecordActionResponse:
    return pb.RecordActionResponse(
        points=result.points,
        outcome=_OUTCOME_TO_PROTO[result.outcome],
        capped_by=_PERIOD_BY_NAME.get(result.capped_by, pb.CAP_PERIOD_UNSPECIFIED),
        account=account,
    )
