"""The counters behind the limits (service/limits.py), with a clock the test moves: a caller's
rate refills with time, and a place given back is a place for the next call."""

import pytest

from service.errors import LimitExceeded
from service.limits import Admission, CallerLimits

SLOW = ("slow", CallerLimits(rate_per_second=2.0, burst=2, max_concurrent_calls=10))
NARROW = ("narrow", CallerLimits(max_concurrent_calls=1))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_caller_over_its_rate_waits_for_the_next_token_and_then_goes_on() -> None:
    clock = Clock()
    admission = Admission(10, 10, clock)
    for _ in range(2):  # the burst
        admission.enter("read", SLOW)
        admission.leave("read", SLOW)
    with pytest.raises(LimitExceeded) as over:
        admission.enter("read", SLOW)
    clock.now += over.value.retry_after_seconds or 0

    admission.enter("read", SLOW)

    assert over.value.reason == "CALLER_RATE_EXCEEDED"
    assert over.value.retry_after_seconds == pytest.approx(0.5)


def test_a_caller_at_its_most_calls_in_flight_gets_a_place_back_when_one_ends() -> None:
    admission = Admission(10, 10, Clock())
    admission.enter("write", NARROW)
    with pytest.raises(LimitExceeded) as busy:
        admission.enter("read", NARROW)
    admission.enter("write", None)  # a caller of its own (or none): the pool has room
    admission.leave("write", NARROW)

    admission.enter("read", NARROW)

    assert busy.value.reason == "TOO_MANY_CALLS_FOR_CALLER"
    assert (admission.in_flight("read"), admission.in_flight("write")) == (1, 1)


def test_a_full_pool_of_writes_leaves_the_reads_their_own() -> None:
    admission = Admission(max_reads=1, max_writes=1, clock=Clock())
    admission.enter("write", None)
    with pytest.raises(LimitExceeded) as full:
        admission.enter("write", None)

    admission.enter("read", None)

    assert full.value.reason == "SERVER_WRITES_BUSY"
