"""A command addressed to a program or an account, with who asked and its idempotency key."""

import functools
from dataclasses import dataclass

from ledger.domain.commands import Command
from ledger.domain.decisions import Target
from ledger.domain.errors import InvalidArgument, Violations
from ledger.domain.kinds import StreamKey
from ledger.domain.limits import MAX_ID_LENGTH
from ledger.domain.patterns import EXTERNAL_ID_PATTERN
from ledger.eventlog.records import RequestKey


def request_id_problem(request_id: str) -> str | None:
    """What is wrong with a caller's request id, or None."""
    if EXTERNAL_ID_PATTERN.fullmatch(request_id):
        return None
    if not request_id:
        return "is required"
    if len(request_id) > MAX_ID_LENGTH:
        return f"at most {MAX_ID_LENGTH} characters"
    if not request_id.isprintable():
        return "must be printable (no control characters)"
    return f"must match {EXTERNAL_ID_PATTERN.pattern}"


@dataclass(frozen=True)
class Request:
    target: Target
    command: Command
    request_id: str | None
    """None only for the ledger's own housekeeping (the sweep), which is idempotent by itself."""
    actor: str = ""
    trace_id: str = ""
    deadline: float | None = None
    """time.monotonic() past which the caller no longer waits (its gRPC deadline)."""
    also_reads: tuple[StreamKey, ...] = ()
    """Streams its decision asked to read besides the ones its command names (a reward
    hold's stock, see decisions.MoreReads); not part of the request's content."""

    def __post_init__(self) -> None:
        # Like every caller-chosen id: printable ASCII, no spaces or control characters
        # (PostgreSQL cannot even store a NUL). Checked first, as nearly every id passes; the
        # checks below only choose the message for one that does not.
        if self.request_id is None or EXTERNAL_ID_PATTERN.fullmatch(self.request_id):
            return
        # Named together with the command's own bad fields, so one answer lists them all.
        violations = Violations()
        violations.add(
            "request_id", request_id_problem(self.request_id) or "", reason="REQUEST_ID_INVALID"
        )
        self.command.validate(violations)
        violations.raise_if_any()

    def check_stream_ids(self) -> None:
        """A value the log cannot store (a NUL) must fail its own request, not the batch it
        would join. Checked after the command's own validation, which names its fields."""
        for value in (self.target.program_id, self.target.member_id or "-"):
            if not value.isprintable():
                raise InvalidArgument.of(
                    self.command.account_field,
                    "must not hold control characters",
                    reason="CONTROL_CHARACTERS",
                )

    @functools.cached_property
    def key(self) -> RequestKey:
        assert self.request_id is not None
        program_id, stream_id = self.target.stream
        return (program_id, stream_id, self.request_id)
