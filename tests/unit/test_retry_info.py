"""A status worth retrying tells the client how long to wait first (google.rpc.RetryInfo);
one that fails again until the caller changes something does not."""

import pytest
from google.rpc import error_details_pb2, status_pb2

from ledger.domain.errors import Conflict, FailedPrecondition, InvalidArgument, LedgerError
from ledger.eventlog.errors import StoreUnavailable
from service.errors import LimitExceeded, to_status


def _retry_delay(error: LedgerError) -> float | None:
    status = to_status(error)
    [(_, details)] = [item for item in status.trailing_metadata if item[0].endswith("-bin")]
    assert isinstance(details, bytes)
    for detail in status_pb2.Status.FromString(details).details:
        info = error_details_pb2.RetryInfo()
        if detail.Unpack(info):
            return info.retry_delay.ToNanoseconds() / 1e9
    return None


@pytest.mark.parametrize(
    ("error", "delay"),
    [
        (Conflict("the stream kept changing; retry the request"), 0.1),
        (StoreUnavailable("the database is unavailable"), 1.0),
        (
            LimitExceeded("over its rate", reason="CALLER_RATE_EXCEEDED", retry_after_seconds=2.5),
            2.5,
        ),
    ],
)
def test_retryable_errors_carry_the_delay_before_a_retry(error: LedgerError, delay: float) -> None:
    assert _retry_delay(error) == delay


@pytest.mark.parametrize(
    "error",
    [
        Conflict("program is at revision 3, not 2", reason="REVISION_MISMATCH"),
        FailedPrecondition("too few points", reason="INSUFFICIENT_POINTS"),
        InvalidArgument.of("points", "must be 1 or more", reason="POINTS_NOT_POSITIVE"),
    ],
)
def test_errors_a_retry_would_meet_again_carry_no_retry_info(error: LedgerError) -> None:
    assert _retry_delay(error) is None
