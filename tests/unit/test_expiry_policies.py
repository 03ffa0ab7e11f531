"""Expiry policies: points never expire sooner than the program states, expiries close at the
end of a day, month or year in the program's time zone, and lots stay grouped."""

from datetime import UTC, datetime, timedelta

import pytest

from ledger.domain import clock
from ledger.domain.commands import EarnPoints, RecordPurchase
from ledger.domain.decide import housekeeping
from ledger.domain.errors import Violations
from ledger.domain.events import PointsEarned, PointsExpired, PurchaseRecorded
from ledger.domain.expiry import points_expire_at
from ledger.domain.program import ProgramState
from ledger.domain.settings import EarnRate, ExpiryRounding, ProgramSettings, QualifyingActivity

from .scenario import PROGRAM_ID, enrolled, given, lot, then, when


def policy(
    points_expiry_days: int,
    *,
    rounding: ExpiryRounding = ExpiryRounding.END_OF_DAY,
    time_zone: str = "UTC",
) -> ProgramState:
    return ProgramState(
        revision=1,
        program_id=PROGRAM_ID,
        settings=ProgramSettings(
            earn_rates=(),
            points_expiry_days=points_expiry_days,
            expiry_rounding=rounding,
            time_zone=time_zone,
        ),
    )


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def expiry_of_points_earned(now: datetime, program: ProgramState) -> str | None:
    [event] = when(given(enrolled()), EarnPoints(10, "bonus"), now=now, program=program)
    assert isinstance(event, PointsEarned)
    return event.expires_on


# --- never shorter than stated ----------------------------------------------------------------


def test_points_earned_at_1850_utc_with_365_days_last_at_least_365_days() -> None:
    earned_at = at("2026-03-01T18:50:00+00:00")

    expires_on = expiry_of_points_earned(earned_at, policy(365))

    # The first release said "2027-03-01", midnight UTC: 364.2 days.
    assert expires_on == "2027-03-02T00:00:00.000000Z"
    assert expires_on is not None
    assert clock.parse_instant(expires_on) - earned_at >= timedelta(days=365)


@pytest.mark.parametrize("hour", [0, 6, 12, 18, 23])
@pytest.mark.parametrize("days", [1, 30, 365])
@pytest.mark.parametrize("time_zone", ["UTC", "Pacific/Kiritimati", "America/Los_Angeles"])
def test_expiry_is_never_sooner_than_the_days_stated_nor_a_day_later(
    hour: int, days: int, time_zone: str
) -> None:
    earned_at = datetime(2026, 3, 1, hour, 59, tzinfo=UTC)

    expires_on = points_expire_at(policy(days, time_zone=time_zone).settings, earned_at)

    assert expires_on is not None
    lasts = clock.parse_instant(expires_on) - earned_at
    # Up to a day more (the rest of the last day), plus the hour a daylight-saving change
    # can lengthen that day by.
    assert timedelta(days=days) <= lasts <= timedelta(days=days + 1, hours=1)


def test_a_purchase_pending_in_its_return_window_keeps_the_expiry_decided_when_it_was_made() -> (
    None
):
    program = ProgramState(
        1,
        PROGRAM_ID,
        ProgramSettings(
            earn_rates=(EarnRate("USD", 1),), points_expiry_days=30, return_window_days=14
        ),
    )
    [event] = when(
        given(enrolled()),
        RecordPurchase("o-1", 1_000, "USD", 2),
        now=at("2026-03-01T18:50:00+00:00"),
        program=program,
    )

    assert isinstance(event, PurchaseRecorded)
    assert event.expires_on == "2026-04-01T00:00:00.000000Z"


# --- the program's time zone ------------------------------------------------------------------


def test_a_tokyo_program_closes_the_expiry_day_at_midnight_in_tokyo() -> None:
    # 18:50 UTC on March 10th is 03:50 on March 11th in Tokyo (UTC+9): 30 days end on
    # April 10th there, so the points last until midnight starting April 11th, Tokyo time.
    expires_on = expiry_of_points_earned(
        at("2026-03-10T18:50:00+00:00"), policy(30, time_zone="Asia/Tokyo")
    )

    assert expires_on == "2026-04-10T15:00:00.000000Z"


def test_a_los_angeles_program_counts_its_expiry_day_in_pacific_time_across_daylight_saving() -> (
    None
):
    # Earned at 20:00 on February 20th in Los Angeles (PST, UTC-8); 30 days later is March
    # 22nd, after clocks went forward (PDT, UTC-7): midnight starting March 23rd is 07:00 UTC.
    expires_on = expiry_of_points_earned(
        at("2026-02-21T04:00:00+00:00"), policy(30, time_zone="America/Los_Angeles")
    )

    assert expires_on == "2026-03-23T07:00:00.000000Z"


def test_points_earned_on_one_program_day_share_a_lot_even_across_the_utc_date_line() -> None:
    # 10:00 and 20:00 UTC on March 1st are both March 1st in New York (UTC-5).
    program = policy(30, time_zone="America/New_York")
    account = given(enrolled())
    morning = when(
        account, EarnPoints(10, "a"), now=at("2026-03-01T10:00:00+00:00"), program=program
    )
    account = then(account, morning)
    evening = when(
        account, EarnPoints(5, "b"), now=at("2026-03-01T20:00:00+00:00"), program=program
    )

    state = then(account, evening)

    assert state.lots == (lot("2026-04-01T04:00:00.000000Z", 15),)


# --- rounding to the end of the month or the year ---------------------------------------------


@pytest.mark.parametrize(
    ("earned_at", "days", "rounding", "time_zone", "expires_on"),
    [
        pytest.param(
            "2026-01-15T10:00:00+00:00", 30, ExpiryRounding.END_OF_MONTH, "UTC",
            "2026-03-01T00:00:00.000000Z", id="month: Feb 14th rounds to the end of February",
        ),
        pytest.param(
            "2026-11-20T10:00:00+00:00", 30, ExpiryRounding.END_OF_MONTH, "UTC",
            "2027-01-01T00:00:00.000000Z", id="month: December rounds into the next year",
        ),
        pytest.param(
            "2028-01-31T10:00:00+00:00", 29, ExpiryRounding.END_OF_MONTH, "UTC",
            "2028-03-01T00:00:00.000000Z", id="month: February 29th of a leap year",
        ),
        pytest.param(
            "2027-03-01T12:00:00+00:00", 365, ExpiryRounding.END_OF_DAY, "UTC",
            "2028-03-01T00:00:00.000000Z", id="day: 365 days end on February 29th, 2028",
        ),
        pytest.param(
            "2026-06-01T10:00:00+00:00", 200, ExpiryRounding.END_OF_YEAR, "UTC",
            "2027-01-01T00:00:00.000000Z", id="year: December 18th rounds to the year end",
        ),
        pytest.param(
            "2026-12-31T10:00:00+00:00", 365, ExpiryRounding.END_OF_YEAR, "UTC",
            "2028-01-01T00:00:00.000000Z", id="year: Dec 31st plus 365 days is in the next year",
        ),
        pytest.param(
            "2027-12-31T23:30:00+00:00", 1, ExpiryRounding.END_OF_YEAR, "Europe/Paris",
            "2028-12-31T23:00:00.000000Z", id="year: in Paris, 1 day after 23:30 UTC Dec 31st",
        ),
        pytest.param(
            "2026-11-30T23:30:00+00:00", 30, ExpiryRounding.END_OF_MONTH, "Europe/Paris",
            "2026-12-31T23:00:00.000000Z", id="month: Dec 31st 00:30 in Paris ends December",
        ),
    ],
)  # fmt: skip
def test_rounding_moves_the_expiry_to_the_end_of_the_month_or_year_the_days_end_in(
    earned_at: str, days: int, rounding: ExpiryRounding, time_zone: str, expires_on: str
) -> None:
    program = policy(days, rounding=rounding, time_zone=time_zone)

    assert expiry_of_points_earned(at(earned_at), program) == expires_on


def test_month_rounding_groups_a_months_earnings_into_one_lot() -> None:
    program = policy(30, rounding=ExpiryRounding.END_OF_MONTH)
    account = given(enrolled())
    for day in (2, 15, 28):  # 30 days later: March 4th, 17th, 30th
        earned_at = datetime(2026, 2, day, 9, tzinfo=UTC)
        account = then(account, when(account, EarnPoints(10, "x"), now=earned_at, program=program))

    assert account.lots == (lot("2026-04-01T00:00:00.000000Z", 30),)


def test_no_expiry_means_never_whatever_the_rounding_default() -> None:
    assert points_expire_at(ProgramSettings(), datetime(2026, 3, 1, tzinfo=UTC)) is None


# --- the lot expires at that instant, not before -----------------------------------------------


def test_a_lot_is_still_available_a_microsecond_before_its_expiry_and_gone_at_it() -> None:
    expiry = "2026-04-10T15:00:00.000000Z"
    account = given(enrolled(), PointsEarned(40, "x", expiry, 1))
    moment = clock.parse_instant(expiry)

    assert housekeeping(account, moment - timedelta(microseconds=1)) == []
    assert housekeeping(account, moment) == [PointsExpired(expiry, 40)]


# --- settings that make no sense ----------------------------------------------------------------


def violated(settings: ProgramSettings) -> list[str]:
    violations = Violations()
    settings.validate(violations)
    return [violation.field for violation in violations.items]


@pytest.mark.parametrize(
    ("settings", "fields"),
    [
        pytest.param(
            ProgramSettings(expiry_rounding=ExpiryRounding.END_OF_MONTH),
            ["program.expiry_rounding"],
            id="rounding without an expiry",
        ),
        pytest.param(
            ProgramSettings(inactivity_expiry_days=-1),
            ["program.inactivity_expiry_days"],
            id="negative inactivity days",
        ),
        pytest.param(
            ProgramSettings(inactivity_expiry_days=3_651),
            ["program.inactivity_expiry_days", "program.qualifying_activities"],
            id="inactivity days over the limit, and nothing qualifying",
        ),
        pytest.param(
            ProgramSettings(inactivity_expiry_days=180),
            ["program.qualifying_activities"],
            id="inactivity with no qualifying activity",
        ),
        pytest.param(
            ProgramSettings(qualifying_activities=(QualifyingActivity.PURCHASE,)),
            ["program.qualifying_activities"],
            id="qualifying activities without inactivity days",
        ),
        pytest.param(
            ProgramSettings(
                inactivity_expiry_days=180,
                qualifying_activities=(QualifyingActivity.PURCHASE, QualifyingActivity.PURCHASE),
            ),
            ["program.qualifying_activities"],
            id="an activity named twice",
        ),
        pytest.param(
            ProgramSettings(
                points_expiry_days=-5,
                expiry_rounding=ExpiryRounding.END_OF_YEAR,
                inactivity_expiry_days=-1,
            ),
            [
                "program.points_expiry_days",
                "program.expiry_rounding",
                "program.inactivity_expiry_days",
            ],
            id="every bad setting named at once",
        ),
    ],
)
def test_expiry_settings_that_make_no_sense_are_refused_naming_each(
    settings: ProgramSettings, fields: list[str]
) -> None:
    assert violated(settings) == fields


def test_sensible_expiry_settings_are_accepted() -> None:
    settings = ProgramSettings(
        points_expiry_days=365,
        expiry_rounding=ExpiryRounding.END_OF_YEAR,
        inactivity_expiry_days=540,
        qualifying_activities=(QualifyingActivity.PURCHASE, QualifyingActivity.REDEMPTION),
        time_zone="Europe/Paris",
    )

    assert violated(settings) == []
