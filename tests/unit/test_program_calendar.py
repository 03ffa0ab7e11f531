"""A program's months in its own time zone, for the finance report: spans in UTC instants,
daylight saving included, and a change of time zone that leaves past months as they were."""

from datetime import date

from ledger.audit.program_calendar import ProgramCalendar, Revision, months_between

NEW_YORK = Revision("2026-01-01T00:00:00.000000Z", "America/New_York", (("USD", 10_000_000),))
TOKYO_FROM_MAY = Revision("2026-05-10T00:00:00.000000Z", "Asia/Tokyo", (("USD", 20_000_000),))


def test_a_month_spans_from_local_midnight_to_local_midnight_across_daylight_saving() -> None:
    calendar = ProgramCalendar("p", (NEW_YORK,))

    span = calendar.month_span("2026-03-15T12:00:00.000000Z")

    # Standard time at the start of March, daylight saving time at the start of April.
    assert (span.month, span.start, span.stop) == (
        "2026-03",
        "2026-03-01T05:00:00.000000Z",
        "2026-04-01T04:00:00.000000Z",
    )
    assert calendar.month_span("2026-04-01T03:59:59.999999Z").month == "2026-03"
    assert calendar.month_span("2026-04-01T04:00:00.000000Z").month == "2026-04"


def test_a_change_of_time_zone_moves_later_months_only() -> None:
    before = ProgramCalendar("p", (NEW_YORK,))
    after = ProgramCalendar("p", (NEW_YORK, TOKYO_FROM_MAY))

    assert after.month_end("2026-04") == before.month_end("2026-04")
    # May is cut where Tokyo takes over; June starts at midnight in Tokyo.
    assert after.month_span("2026-05-09T23:00:00.000000Z").stop == TOKYO_FROM_MAY.effective_from
    assert after.month_end("2026-05") == "2026-05-31T15:00:00.000000Z"
    assert after.revision_before("2026-05-10T00:00:00.000000Z") == NEW_YORK
    assert after.revision_before("2026-05-10T00:00:00.000001Z") == TOKYO_FROM_MAY


def test_a_days_start_is_in_the_time_zone_in_force_then() -> None:
    calendar = ProgramCalendar("p", (NEW_YORK, TOKYO_FROM_MAY))

    assert calendar.start_of_day(date(2026, 4, 1)) == "2026-04-01T04:00:00.000000Z"
    assert calendar.start_of_day(date(2026, 6, 1)) == "2026-05-31T15:00:00.000000Z"
    assert calendar.cut_at("2026-05-01T00:00:00.000000Z").revisions == (NEW_YORK,)


def test_months_between_counts_across_a_year_end() -> None:
    assert months_between("2025-11", "2026-02") == ["2025-11", "2025-12", "2026-01", "2026-02"]
