"""Errors the domain raises. Each maps to one gRPC status code in the service, in one table.

`reason` is a stable UPPER_SNAKE_CASE code callers can branch on; `field` names the request
field at fault (in the API's own spelling), so errors point at what to fix.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str
    reason: str = ""
    """What is wrong, as a stable code (README "Error reasons"); "" for none more specific
    than the error's own."""


SEVERAL_FIELDS_REASON = "SEVERAL_FIELDS_INVALID"
"""The reason of a bad request whose field violations have different reasons of their own."""


class LedgerError(Exception):
    """Base of every error the ledger reports to callers."""

    reason: str = "LEDGER_ERROR"
    retry_after_seconds: float | None = None
    """For an error worth retrying, how long to wait first when the error knows better than
    its status's usual delay (a rate limit knows when its next token comes)."""

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        retry_after_seconds: float | None = None,
        **metadata: str,
    ) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason
        if retry_after_seconds is not None:
            self.retry_after_seconds = retry_after_seconds
        self.metadata: dict[str, str] = dict(metadata)


class InvalidArgument(LedgerError):
    """The request itself is wrong, whatever the state of the ledger."""

    reason = "INVALID_ARGUMENT"

    def __init__(self, violations: list[FieldViolation], *, reason: str | None = None) -> None:
        assert violations, "an InvalidArgument names at least one field"
        message = "; ".join(f"{v.field}: {v.description}" for v in violations)
        super().__init__(message, reason=reason or self.reason_of(violations))
        self.violations = violations

    @staticmethod
    def reason_of(violations: list[FieldViolation]) -> str | None:
        """The error's reason from its violations': theirs when they agree, else
        SEVERAL_FIELDS_INVALID (each field violation then carries its own)."""
        reasons = {violation.reason for violation in violations}
        if len(reasons) == 1:
            return reasons.pop() or None
        return SEVERAL_FIELDS_REASON

    @classmethod
    def of(
        cls, field_name: str, description: str, *, reason: str | None = None
    ) -> "InvalidArgument":
        return cls([FieldViolation(field_name, description, reason or "")], reason=reason)


class NotFound(LedgerError):
    reason = "NOT_FOUND"

    def __init__(self, message: str, *, field_name: str, reason: str | None = None) -> None:
        super().__init__(message, reason=reason, field=field_name)
        self.field = field_name


class AlreadyExists(LedgerError):
    reason = "ALREADY_EXISTS"


class FailedPrecondition(LedgerError):
    """The request is well formed but the ledger's state does not allow it (e.g. too few points)."""

    reason = "FAILED_PRECONDITION"


class Conflict(LedgerError):
    """Another writer changed the stream first (optimistic concurrency)."""

    reason = "VERSION_CONFLICT"


GROUP_REASONS: tuple[tuple[str, str], ...] = (
    ("program.", "PROGRAM_SETTING_INVALID"),
    ("proposed_program.", "PROGRAM_SETTING_INVALID"),
    ("update_mask.", "UPDATE_MASK_INVALID"),
    ("lines[", "ORDER_LINE_INVALID"),
    ("events[", "IMPORT_EVENT_INVALID"),
)
"""The reason of a violation that names none, by the group its field belongs to: one bad
setting among a program's many, one line of an order, one event of an import."""


def reason_of_field(field_name: str) -> str:
    for prefix, reason in GROUP_REASONS:
        if field_name.startswith(prefix):
            return reason
    return ""


@dataclass
class Violations:
    """Collects every bad field of a request so the caller can fix them all at once."""

    items: list[FieldViolation] = field(default_factory=list)

    def add(self, field_name: str, description: str, *, reason: str = "") -> None:
        self.items.append(
            FieldViolation(field_name, description, reason or reason_of_field(field_name))
        )

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidArgument(self.items)

    def add_unless_named(self, more: Iterable[FieldViolation]) -> None:
        """Adds `more` but for the fields named already, or inside or around one: a value
        found wrong while reading the request reads as a stand-in, which the checks that
        follow must not name again (a line's unreadable amount makes the lines' sum wrong)."""
        named = [violation.field for violation in self.items]
        self.items.extend(
            violation
            for violation in more
            if not any(_related(violation.field, other) for other in named)
        )


def _related(one: str, other: str) -> bool:
    """Whether the fields are the same, or one is inside the other (a.b, a[0] in a)."""
    inner, outer = (one, other) if len(one) >= len(other) else (other, one)
    return inner == outer or inner.startswith((f"{outer}.", f"{outer}["))


def refuse(found: Violations | None, field_name: str, description: str, *, reason: str) -> None:
    """One bad field: added to `found`, for the caller to report with the request's other bad
    fields (the reading function then returns a stand-in), or raised at once without it."""
    if found is None:
        raise InvalidArgument.of(field_name, description, reason=reason)
    found.add(field_name, description, reason=reason)
