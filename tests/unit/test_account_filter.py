"""ListAccounts' filter becomes inclusive bounds with the comparison's exact meaning."""

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.errors import InvalidArgument
from ledger.projections.member_directory import Bounds
from service.account_filter import parse_filter


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize(
    ("text", "bounds"),
    [
        ("available > 5", Bounds(6, None)),
        ("available >= 5", Bounds(5, None)),
        ("available < 5", Bounds(None, 4)),
        ("available <= -5", Bounds(None, -5)),
        ("available = 5", Bounds(5, 5)),
        ("available >= 5 AND available <= 10 AND available > 6", Bounds(7, 10)),
        ("  available>=5   AND available<=10  ", Bounds(5, 10)),
    ],
)
def test_integer_comparisons_become_inclusive_bounds(text: str, bounds: Bounds[int]) -> None:
    assert parse_filter(text).integers == {"available": bounds}


@pytest.mark.parametrize(
    ("text", "bounds"),
    [
        ('> "2026-01-01T00:00:00Z"', Bounds(at("2026-01-01T00:00:00.000001+00:00"), None)),
        ('>= "2026-01-01T00:00:00Z"', Bounds(at("2026-01-01T00:00:00+00:00"), None)),
        ('< "2026-01-01T00:00:00Z"', Bounds(None, at("2025-12-31T23:59:59.999999+00:00"))),
        ('<= "2026-01-01T00:00:00Z"', Bounds(None, at("2026-01-01T00:00:00+00:00"))),
        # Finer than a microsecond: the stored instants on either side of the value.
        ('> "2026-01-01T00:00:00.0000005Z"', Bounds(at("2026-01-01T00:00:00.000001+00:00"), None)),
        ('>= "2026-01-01T00:00:00.0000005Z"', Bounds(at("2026-01-01T00:00:00.000001+00:00"), None)),
        ('< "2026-01-01T00:00:00.0000005Z"', Bounds(None, at("2026-01-01T00:00:00+00:00"))),
        ('<= "2026-01-01T00:00:00.0000005Z"', Bounds(None, at("2026-01-01T00:00:00+00:00"))),
        ('>= "2026-01-01T05:30:00+05:30"', Bounds(at("2026-01-01T00:00:00+00:00"), None)),
        ('>= "2026-01-01t00:00:00.5z"', Bounds(at("2026-01-01T00:00:00.5+00:00"), None)),
    ],
)
def test_time_comparisons_keep_their_exact_meaning_at_microseconds(
    text: str, bounds: Bounds[datetime]
) -> None:
    assert parse_filter(f"enroll_time {text}").times == {"enroll_time": bounds}


def test_an_empty_filter_sets_no_bounds() -> None:
    for text in ("", "   "):
        assert parse_filter(text).integers == {}
        assert parse_filter(text).times == {}


def test_a_filter_error_names_the_filter_field_and_says_what_is_wrong() -> None:
    with pytest.raises(InvalidArgument) as refused:
        parse_filter("avialable > 5")
    assert refused.value.reason == "INVALID_FILTER"
    ((violation),) = refused.value.violations
    assert violation.field == "filter"
    assert "avialable" in violation.description


_PIECES = st.sampled_from(
    [
        "available", "held", "version", "enroll_time", "last_activity_time", "balance",
        "=", "<", "<=", ">", ">=", "!=", ":", "AND", "OR", "and", "(", ")", "-", "0", "7",
        "-12", "99999999999999999999", '"2026-01-01T00:00:00Z"', '"2026-13-01T00:00:00Z"',
        '"2026-01-01T00:00:00.123456789+23:59"', '"x"', '"', "\\", "\u00e9", "\x00", " ",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=120), st.lists(_PIECES, max_size=14).map(" ".join)))
def test_any_text_either_parses_or_is_refused_naming_the_filter_field(text: str) -> None:
    try:
        parsed = parse_filter(text)
    except InvalidArgument as refused:
        assert refused.reason == "INVALID_FILTER"
        assert {violation.field for violation in refused.violations} == {"filter"}
        return
    for integers in parsed.integers.values():
        assert integers.lowest is not None or integers.highest is not None
    for times in parsed.times.values():
        assert times.lowest is not None or times.highest is not None


def test_a_stage_comparison_beside_a_balance_range_and_an_activity_bound() -> None:
    parsed = parse_filter(
        'stage = "lapsed" AND available >= 100 AND available <= 500'
        ' AND last_activity_time < "2026-01-01T00:00:00Z"'
    )

    assert parsed.texts == {"stage": "lapsed"}
    assert parsed.integers == {"available": Bounds(100, 500)}
    assert parsed.times == {
        "last_activity_time": Bounds(None, at("2025-12-31T23:59:59.999999+00:00"))
    }


@pytest.mark.parametrize(
    "text",
    [
        'stage = "dormant"',
        'stage >= "action"',
        "stage = lapsed",
        'stage = "lapsed" AND stage = "action"',
        'stage = "LAPSED"',
    ],
)
def test_a_bad_stage_comparison_is_refused(text: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        parse_filter(text)

    assert [violation.field for violation in refused.value.violations] == ["filter"]
