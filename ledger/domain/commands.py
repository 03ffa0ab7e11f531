"""Commands: what a caller asks for. `validate` names the API field at fault."""

import re
from dataclasses import dataclass
from typing import ClassVar

from ledger.domain import limits
from ledger.domain.compat import added_later
from ledger.domain.errors import Violations
from ledger.domain.feedback import CES_RANGE, CSAT_RANGE, NPS_RANGE, check_score
from ledger.domain.patterns import (
    CODE_PATTERN,
    CURRENCY_PATTERN,
    EXTERNAL_ID_PATTERN,
    MEMBER_PATTERN,
    PROGRAM_ID_PATTERN,
)
from ledger.domain.program_mask import check_mask, replaces_all
from ledger.domain.purchase_rules import OrderLine, validate_lines
from ledger.domain.referral_codes import FINGERPRINT_PATTERN, REFERRAL_CODE_PATTERN
from ledger.domain.settings import ProgramSettings

FIRST_PRINTABLE = 0x20
MAX_CURRENCY_EXPONENT = 4


def check_points(violations: Violations, name: str, points: int) -> None:
    if not 1 <= points <= limits.MAX_POINTS_PER_COMMAND:
        violations.add(
            name,
            f"must be 1 to {limits.MAX_POINTS_PER_COMMAND:,} points",
            reason="POINTS_NOT_POSITIVE" if points < 1 else "POINTS_OVER_LIMIT",
        )


def check_pattern(violations: Violations, name: str, value: str, pattern: re.Pattern[str]) -> None:
    if not value:
        violations.add(name, "is required", reason="FIELD_REQUIRED")
    elif not pattern.fullmatch(value):
        violations.add(name, f"must match {pattern.pattern}", reason="FIELD_MALFORMED")


def check_text(violations: Violations, name: str, value: str, max_length: int) -> None:
    if len(value) > max_length:
        violations.add(name, f"at most {max_length} characters", reason="TEXT_TOO_LONG")
    elif any(ord(char) < FIRST_PRINTABLE and char not in "\n\t" for char in value):
        violations.add(name, "must not hold control characters", reason="CONTROL_CHARACTERS")


def check_amount(violations: Violations, name: str, amount_minor: int) -> None:
    if not 1 <= amount_minor <= limits.MAX_AMOUNT_MINOR_UNITS:
        violations.add(
            name,
            f"must be more than 0 and at most {limits.MAX_AMOUNT_MINOR_UNITS:,} minor units",
            reason="AMOUNT_OUT_OF_RANGE",
        )


def validate(command: "Command") -> None:
    """Raises InvalidArgument naming every bad field of `command`."""
    violations = Violations()
    command.validate(violations)
    violations.raise_if_any()


@dataclass(frozen=True)
class Command:
    account_field: ClassVar[str] = "account"

    def validate(self, violations: Violations) -> None:
        """Adds a violation for each bad field; state-independent checks only."""


# --- program stream -------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateProgram(Command):
    account_field: ClassVar[str] = "program_id"
    program_id: str
    settings: ProgramSettings

    def validate(self, violations: Violations) -> None:
        check_pattern(violations, "program_id", self.program_id, PROGRAM_ID_PATTERN)
        self.settings.validate(violations)


@dataclass(frozen=True)
class UpdateProgram(Command):
    account_field: ClassVar[str] = "program.name"
    settings: ProgramSettings
    expected_revision: int = 0
    update_mask: tuple[str, ...] = added_later(())
    """The settings paths to change (ledger/domain/program_mask.py); empty replaces them all,
    as every update did before masks existed."""

    def validate(self, violations: Violations) -> None:
        if self.expected_revision < 0:
            violations.add("expected_revision", "must not be negative", reason="REVISION_NEGATIVE")
        check_mask(self.update_mask, violations)
        if replaces_all(self.update_mask):
            self.settings.validate(violations)
        # A partial update is validated once merged with the current settings (decide):
        # the settings it leaves alone may bear on the ones it changes.


# --- account streams ------------------------------------------------------------------------


@dataclass(frozen=True)
class Enroll(Command):
    account_field: ClassVar[str] = "parent"
    program_id: str
    member_id: str
    referral_code: str = added_later("")
    """The referrer's code the member enrolled with, normalized (referral_codes.py); ""
    for none."""
    purchased_before: bool = added_later(False)
    """The storefront knows the member bought before enrolling (a guest checkout): a
    referral is then refused (already_purchased)."""
    fingerprint: str = added_later("")
    """A keyed hash (hex) of an email or payment fingerprint, made by the service with its
    LEDGER_REFERRAL_FINGERPRINT_KEY; kept only in the erasable member link, never in the log:
    the ledger blanks it once it has compared it (`self_referral`)."""
    referrer_key: str = added_later("")
    """Set by the ledger when it looks the code up (ledger/members.py): the referrer's
    member key ("" for a code that names nobody)."""
    self_referral: bool = added_later(False)
    """Set by the ledger: the fingerprint equals the referrer's."""

    def validate(self, violations: Violations) -> None:
        check_pattern(violations, "member_id", self.member_id, MEMBER_PATTERN)
        if self.referral_code and not REFERRAL_CODE_PATTERN.fullmatch(self.referral_code):
            violations.add(
                "referral_code",
                f"must match {REFERRAL_CODE_PATTERN.pattern}",
                reason="FIELD_MALFORMED",
            )
        if self.fingerprint and not FINGERPRINT_PATTERN.fullmatch(self.fingerprint):
            violations.add(
                "referral_fingerprint",
                "must be a keyed hash (64 hex digits)",
                reason="FIELD_MALFORMED",
            )


@dataclass(frozen=True)
class RecordPurchase(Command):
    order_id: str
    amount_minor: int
    currency_code: str
    currency_exponent: int
    lines: tuple[OrderLine, ...] = added_later(())
    """Optional; when given they add up to the amount (the order's total), and the program's
    line rules apply. Without lines the whole amount earns at the rate, as before lines."""

    def validate(self, violations: Violations) -> None:
        check_pattern(violations, "order_id", self.order_id, EXTERNAL_ID_PATTERN)
        check_amount(violations, "amount", self.amount_minor)
        check_pattern(violations, "amount.currency_code", self.currency_code, CURRENCY_PATTERN)
        validate_lines(violations, self.lines, self.amount_minor)
        assert 0 <= self.currency_exponent <= MAX_CURRENCY_EXPONENT, "ISO 4217 has 0 to 4 decimals"


@dataclass(frozen=True)
class ConfirmOrder(Command):
    order_id: str

    def validate(self, violations: Violations) -> None:
        check_pattern(violations, "order_id", self.order_id, EXTERNAL_ID_PATTERN)


@dataclass(frozen=True)
class RefundPurchase(Command):
    order_id: str
    amount_minor: int
    currency_code: str

    def validate(self, violations: Violations) -> None:
        check_pattern(violations, "order_id", self.order_id, EXTERNAL_ID_PATTERN)
        check_amount(violations, "amount", self.amount_minor)
        check_pattern(violations, "amount.currency_code", self.currency_code, CURRENCY_PATTERN)


@dataclass(frozen=True)
class EarnPoints(Command):
    points: int
    reason: str

    def validate(self, violations: Violations) -> None:
        check_points(violations, "points", self.points)
        check_pattern(violations, "reason", self.reason, CODE_PATTERN)


@dataclass(frozen=True)
class AdjustPoints(Command):
    points_delta: int
    reason_code: str
    note: str
    actor: str

    def validate(self, violations: Violations) -> None:
        if self.points_delta == 0:
            violations.add("points_delta", "must not be zero", reason="POINTS_NOT_POSITIVE")
        else:
            check_points(violations, "points_delta", abs(self.points_delta))
        check_pattern(violations, "reason_code", self.reason_code, CODE_PATTERN)
        check_text(violations, "note", self.note, limits.MAX_NOTE_LENGTH)


@dataclass(frozen=True)
class RedeemPoints(Command):
    points: int
    reference: str = ""

    def validate(self, violations: Violations) -> None:
        check_points(violations, "points", self.points)
        check_text(violations, "reference", self.reference, limits.MAX_REFERENCE_LENGTH)


@dataclass(frozen=True)
class ReservePoints(Command):
    reservation_id: str
    points: int
    ttl_seconds: int = 0
    reward_id: str = added_later("")
    """Set: hold the reward's cost (and a unit of its stock); `points` is then 0 or that
    cost."""

    def validate(self, violations: Violations) -> None:
        check_pattern(violations, "reservation_id", self.reservation_id, EXTERNAL_ID_PATTERN)
        if self.reward_id:
            check_pattern(violations, "reward_id", self.reward_id, EXTERNAL_ID_PATTERN)
            if self.points:
                check_points(violations, "points", self.points)
        else:
            check_points(violations, "points", self.points)
        if not 0 <= self.ttl_seconds <= limits.MAX_HOLD_TTL_SECONDS:
            violations.add(
                "ttl_seconds",
                f"must be 0 to {limits.MAX_HOLD_TTL_SECONDS}",
                reason="HOLD_TTL_OUT_OF_RANGE",
            )


@dataclass(frozen=True)
class RedeemReward(Command):
    """Takes a reward's cost and issues its redemption code: ledger/domain/rewards.py."""

    reward_id: str

    def validate(self, violations: Violations) -> None:
        check_pattern(violations, "reward_id", self.reward_id, EXTERNAL_ID_PATTERN)


@dataclass(frozen=True)
class CommitReservation(Command):
    reservation_id: str
    points: int = 0

    def validate(self, violations: Violations) -> None:
        check_pattern(violations, "reservation_id", self.reservation_id, EXTERNAL_ID_PATTERN)
        if self.points != 0:
            check_points(violations, "points", self.points)


@dataclass(frozen=True)
class CancelReservation(Command):
    reservation_id: str

    def validate(self, violations: Violations) -> None:
        check_pattern(violations, "reservation_id", self.reservation_id, EXTERNAL_ID_PATTERN)


@dataclass(frozen=True)
class TransferPoints(Command):
    """Two streams, one append: decided by `decide_transfer`."""

    account_field: ClassVar[str] = "source_account"
    destination_member_id: str
    points: int
    transfer_id: str

    def validate(self, violations: Violations) -> None:
        check_pattern(violations, "destination_account", self.destination_member_id, MEMBER_PATTERN)
        check_points(violations, "points", self.points)


@dataclass(frozen=True)
class ForgetMember(Command):
    """Erases the member's id (ForgetMember): decided by `decide_forget`."""

    account_field: ClassVar[str] = "name"
    reason: str = "member_request"

    def validate(self, violations: Violations) -> None:
        check_pattern(violations, "reason", self.reason, CODE_PATTERN)


@dataclass(frozen=True)
class Sweep(Command):
    """Appends only what is due: lapsed holds, pending points past the window, expired lots."""


@dataclass(frozen=True)
class HistoricalEntry:
    index: int
    """Position in the import request, so errors name the right element."""
    external_id: str
    kind: str
    points_delta: int
    occurred_at: str


@dataclass(frozen=True)
class ImportHistory(Command):
    """One account's share of an import; enrolls the member if needed."""

    account_field: ClassVar[str] = "parent"
    program_id: str
    member_id: str
    entries: tuple[HistoricalEntry, ...]

    def validate(self, violations: Violations) -> None:
        for entry in self.entries:
            where = f"events[{entry.index}]"
            check_pattern(
                violations, f"{where}.external_id", entry.external_id, EXTERNAL_ID_PATTERN
            )
            check_pattern(violations, f"{where}.kind", entry.kind, CODE_PATTERN)
            if entry.points_delta == 0:
                violations.add(
                    f"{where}.points_delta", "must not be zero", reason="POINTS_NOT_POSITIVE"
                )
            else:
                check_points(violations, f"{where}.points_delta", abs(entry.points_delta))


@dataclass(frozen=True)
class RecordAction(Command):
    """A member did something the program may reward (decided in actions.py)."""

    action_id: str
    reference: str = ""
    """The caller's id of what was done (a review id, a survey id), kept in the event."""

    def validate(self, violations: Violations) -> None:
        check_pattern(violations, "action_id", self.action_id, CODE_PATTERN)
        check_text(violations, "reference", self.reference, limits.MAX_REFERENCE_LENGTH)


@dataclass(frozen=True)
class GrantBonus(Command):
    """A one-off surprise reward, granted by `actor` for `reason_code`."""

    points: int
    reason_code: str
    note: str
    actor: str

    def validate(self, violations: Violations) -> None:
        check_points(violations, "points", self.points)
        check_pattern(violations, "reason_code", self.reason_code, CODE_PATTERN)
        check_text(violations, "note", self.note, limits.MAX_NOTE_LENGTH)


@dataclass(frozen=True)
class RecordFeedback(Command):
    """A member's survey scores (feedback.py): each optional, at least one, no free text."""

    nps_score: int | None = None
    ces_score: int | None = None
    csat_score: int | None = None
    channel: str = ""
    """Where the survey was answered, as a short code (web, email, pos...); "" for unsaid."""

    def validate(self, violations: Violations) -> None:
        if self.nps_score is None and self.ces_score is None and self.csat_score is None:
            violations.add(
                "nps_score",
                "give at least one of nps_score, ces_score, csat_score",
                reason="FIELD_REQUIRED",
            )
        check_score(violations, "nps_score", self.nps_score, NPS_RANGE)
        check_score(violations, "ces_score", self.ces_score, CES_RANGE)
        check_score(violations, "csat_score", self.csat_score, CSAT_RANGE)
        if self.channel:
            check_pattern(violations, "channel", self.channel, CODE_PATTERN)


@dataclass(frozen=True)
class ChangeTier(Command):
    """An admin puts the member in `tier` ("" below the lowest) for `reason_code`; the tier
    gets a term as if reached now (ledger/domain/tiers.py)."""

    tier: str
    reason_code: str
    note: str
    actor: str

    def validate(self, violations: Violations) -> None:
        if self.tier and not CODE_PATTERN.fullmatch(self.tier):
            violations.add(
                "tier",
                f"must match {CODE_PATTERN.pattern} (or be empty: no tier)",
                reason="FIELD_MALFORMED",
            )
        check_pattern(violations, "reason_code", self.reason_code, CODE_PATTERN)
        check_text(violations, "note", self.note, limits.MAX_NOTE_LENGTH)
