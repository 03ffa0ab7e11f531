"""RecordFeedback: survey scores kept on the member's stream, each scale checked, no points."""

import pytest

from ledger.codec import events as event_codec
from ledger.domain.commands import RecordFeedback
from ledger.domain.errors import InvalidArgument
from ledger.domain.events import FeedbackRecorded
from ledger.domain.feedback import is_promoter

from .scenario import enrolled, given, then, when


def test_scores_and_channel_are_recorded_and_move_no_points() -> None:
    state = given(enrolled())

    events = when(state, RecordFeedback(nps_score=10, csat_score=4, channel="email"))

    assert events == [FeedbackRecorded(10, None, 4, "email")]
    assert then(state, events).balances == state.balances


def test_one_score_alone_is_enough() -> None:
    events = when(given(enrolled()), RecordFeedback(ces_score=7))

    assert events == [FeedbackRecorded(None, 7, None, "")]


@pytest.mark.parametrize(
    ("command", "field"),
    [
        (RecordFeedback(nps_score=11), "nps_score"),
        (RecordFeedback(nps_score=-1), "nps_score"),
        (RecordFeedback(ces_score=0), "ces_score"),
        (RecordFeedback(ces_score=8), "ces_score"),
        (RecordFeedback(csat_score=0), "csat_score"),
        (RecordFeedback(csat_score=6), "csat_score"),
        (RecordFeedback(nps_score=5, channel="Web Shop"), "channel"),
        (RecordFeedback(), "nps_score"),
    ],
)
def test_a_bad_score_is_refused_naming_its_field(command: RecordFeedback, field: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        when(given(enrolled()), command)

    assert [violation.field for violation in refused.value.violations] == [field]


def test_every_bad_score_is_named_at_once() -> None:
    with pytest.raises(InvalidArgument) as refused:
        when(given(enrolled()), RecordFeedback(nps_score=12, ces_score=9, csat_score=9))

    fields = [violation.field for violation in refused.value.violations]
    assert fields == ["nps_score", "ces_score", "csat_score"]


def test_the_stored_event_reads_back_equal() -> None:
    event = FeedbackRecorded(9, None, 5, "pos")

    stored = event_codec.encode(event)

    assert event_codec.decode("FeedbackRecorded", 1, stored) == event


@pytest.mark.parametrize(("score", "promoter"), [(None, False), (0, False), (8, False), (9, True)])
def test_promoters_score_nine_or_ten(score: int | None, promoter: bool) -> None:
    assert is_promoter(score) is promoter
