"""Proto messages <-> referral settings, enrolments with a code and ListReferrals pages.
Field names in errors are the proto's."""

import hashlib
import hmac

from google.protobuf.timestamp_pb2 import Timestamp

from ledger.application import Ledger
from ledger.currency import minor_unit_exponent, to_minor_units
from ledger.domain import clock
from ledger.domain import commands as cmd
from ledger.domain.action_settings import CapPeriod
from ledger.domain.errors import FailedPrecondition, InvalidArgument, Violations
from ledger.domain.referral_codes import normalized
from ledger.domain.referral_settings import ReferralMinimum, ReferralSettings
from ledger.referral_views import ReferralView
from loyalty.v1 import ledger_pb2 as pb
from service.action_mapping import period_of_proto, period_to_proto
from service.names import parse_account

FINGERPRINT_KEY_VARIABLE = "LEDGER_REFERRAL_FINGERPRINT_KEY"
"""Where the server's settings (service/config.py) take the key from, named in refusals."""
MAX_FINGERPRINT_LENGTH = 256
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1_000
MAX_TOKEN_DIGITS = 6

_STATUS_TO_PROTO = {
    "pending": pb.REFERRAL_STATUS_PENDING,
    "credited": pb.REFERRAL_STATUS_CREDITED,
    "refused": pb.REFERRAL_STATUS_REFUSED,
    "reversed": pb.REFERRAL_STATUS_REVERSED,
}
_REASON_TO_PROTO = {
    "": pb.REFERRAL_REASON_UNSPECIFIED,
    "unknown_code": pb.REFERRAL_REASON_UNKNOWN_CODE,
    "referrals_disabled": pb.REFERRAL_REASON_REFERRALS_DISABLED,
    "self_referral": pb.REFERRAL_REASON_SELF_REFERRAL,
    "already_purchased": pb.REFERRAL_REASON_ALREADY_PURCHASED,
    "referrer_cap_reached": pb.REFERRAL_REASON_REFERRER_CAP_REACHED,
    "referrer_forgotten": pb.REFERRAL_REASON_REFERRER_FORGOTTEN,
    "referrer_limit": pb.REFERRAL_REASON_REFERRER_LIMIT,
    "order_refunded": pb.REFERRAL_REASON_ORDER_REFUNDED,
}


def settings_of(message: pb.Program, violations: Violations, prefix: str) -> ReferralSettings:
    if not message.HasField("referrals"):
        return ReferralSettings()
    referrals = message.referrals
    where = f"{prefix}.referrals"
    minimums = []
    for index, money in enumerate(referrals.minimum_purchases):
        # Every entry is kept, so the settings' own checks name it by its index: a currency
        # the ledger does not know has no earn rate either, which they say.
        minor = 0
        if minor_unit_exponent(money.currency_code) is not None:
            at = f"{where}.minimum_purchases[{index}]"
            try:
                minor, _ = to_minor_units(money.units, money.nanos, money.currency_code, at)
            except InvalidArgument as error:
                violations.items.extend(error.violations)
        minimums.append(ReferralMinimum(money.currency_code, minor))
    period = CapPeriod.MONTH
    if referrals.cap_period != pb.CAP_PERIOD_UNSPECIFIED:
        found = period_of_proto(referrals.cap_period)
        if found is None:
            violations.add(f"{where}.cap_period", "is not a known period")
        else:
            period = found
    return ReferralSettings(
        enabled=referrals.enabled,
        referrer_points=referrals.referrer_points,
        friend_points=referrals.friend_points,
        minimum_purchases=tuple(minimums),
        cap_period=period,
        max_credits_per_period=referrals.max_credits_per_period,
        reverse_after_window=referrals.reverse_after_window,
    )


def fill_program(message: pb.Program, settings: ReferralSettings) -> None:
    if settings == ReferralSettings():
        return
    message.referrals.CopyFrom(
        pb.ReferralSettings(
            enabled=settings.enabled,
            referrer_points=settings.referrer_points,
            friend_points=settings.friend_points,
            minimum_purchases=[_money(m) for m in settings.minimum_purchases],
            cap_period=period_to_proto(settings.cap_period),
            max_credits_per_period=settings.max_credits_per_period,
            reverse_after_window=settings.reverse_after_window,
        )
    )


def _money(minimum: ReferralMinimum) -> pb.Money:
    exponent = minor_unit_exponent(minimum.currency_code) or 0
    units, rest = divmod(minimum.amount_minor, 10**exponent)
    return pb.Money(
        currency_code=minimum.currency_code,
        units=units,
        nanos=rest * 10 ** (9 - exponent),
    )


def enrolment(
    program_id: str, request: pb.EnrollMemberRequest, key: str, found: Violations
) -> cmd.Enroll:
    """The Enroll command of a request, its code read as typed and its fingerprint hashed
    with the server's `key` (the raw fingerprint goes no further). A fingerprint too long
    is added to `found`."""
    fingerprint = ""
    if len(request.referral_fingerprint) > MAX_FINGERPRINT_LENGTH:
        found.add(
            "referral_fingerprint",
            f"at most {MAX_FINGERPRINT_LENGTH} characters",
            reason="TEXT_TOO_LONG",
        )
    elif request.referral_fingerprint:
        if not key:
            raise FailedPrecondition(
                f"this server has no {FINGERPRINT_KEY_VARIABLE} to hash fingerprints with",
                reason="REFERRAL_FINGERPRINT_KEY_NOT_SET",
            )
        text = request.referral_fingerprint.strip().lower().encode()
        fingerprint = hmac.new(key.encode(), text, hashlib.sha256).hexdigest()
    return cmd.Enroll(
        program_id,
        request.member_id,
        referral_code=normalized(request.referral_code),
        purchased_before=request.purchased_before,
        fingerprint=fingerprint,
    )


async def list_referrals(
    ledger: Ledger, request: pb.ListReferralsRequest, deadline: float | None
) -> pb.ListReferralsResponse:
    found = Violations()
    program_id, member_id = parse_account(request.parent, "parent", found)
    if request.page_size < 0:
        found.add("page_size", "must not be negative", reason="PAGE_SIZE_OUT_OF_RANGE")
    page_size = min(request.page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)  # AIP-158
    start = _offset(request.page_token, found)
    found.raise_if_any()
    views = await ledger.list_referrals(program_id, member_id, deadline=deadline)
    page = views[start : start + page_size]
    following = start + page_size
    return pb.ListReferralsResponse(
        referrals=[_referral(view) for view in page],
        # Referrals are only ever added after the ones listed, so an offset stays valid.
        next_page_token=f"r{following}" if following < len(views) else "",
    )


def _offset(token: str, found: Violations) -> int:
    if not token:
        return 0
    digits = token[1:]
    if (
        token.startswith("r")
        and digits.isascii()
        and digits.isdigit()
        and len(digits) <= MAX_TOKEN_DIGITS
    ):
        return int(digits)
    found.add("page_token", "is not a token this service returned", reason="PAGE_TOKEN_INVALID")
    return 0


def _referral(view: ReferralView) -> pb.Referral:
    message = pb.Referral(
        role=pb.REFERRAL_ROLE_REFERRER if view.referrer else pb.REFERRAL_ROLE_FRIEND,
        other_member_id=view.other_member_id,
        status=_STATUS_TO_PROTO[view.status],
        reason=_REASON_TO_PROTO[view.reason],
        points=view.points,
        order_id=view.order_id,
    )
    if view.credit_at:
        stamp = Timestamp()
        stamp.FromDatetime(clock.parse_instant(view.credit_at))
        message.credit_time.CopyFrom(stamp)
    return message
