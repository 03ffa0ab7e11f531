"""Program settings as stored: every setting round-trips, settings written by an older
release read back with the defaults of what was added since, and unknown keys are refused."""

import pytest

from ledger.codec.chain import jsonb_ordered
from ledger.codec.settings import UnknownSetting, settings_data, settings_of
from ledger.domain.errors import InvalidArgument, Violations
from ledger.domain.settings import EarnRate, NegativeBalancePolicy, ProgramSettings

SETTINGS = ProgramSettings(
    display_name="Club",
    earn_rates=(EarnRate("USD", 2), EarnRate("JPY", 1, 100)),
    return_window_days=14,
    points_expiry_days=365,
    negative_balance_policy=NegativeBalancePolicy.ALLOW_NEGATIVE,
    max_hold_ttl_seconds=600,
    time_zone="Asia/Tokyo",
)

BEFORE_TIME_ZONES = {
    # What a program event of the release before time zones holds.
    "display_name": "Club",
    "earn_rates": [{"points": 2, "currency_code": "USD", "per_major_units": 1}],
    "return_window_days": 14,
    "points_expiry_days": 365,
    "max_hold_ttl_seconds": 600,
    "negative_balance_policy": "allow_negative",
}


def test_settings_round_trip_with_keys_in_jsonb_order() -> None:
    data = settings_data(SETTINGS)

    assert settings_of(data) == SETTINGS
    assert list(data) == list(jsonb_ordered(data))
    assert list(data["earn_rates"][0]) == ["points", "currency_code", "per_major_units"]


def test_settings_stored_before_a_setting_existed_read_back_with_its_default() -> None:
    settings = settings_of(BEFORE_TIME_ZONES)

    assert settings.time_zone == "UTC"
    assert settings.earn_rates == (EarnRate("USD", 2),)
    assert settings.negative_balance_policy is NegativeBalancePolicy.ALLOW_NEGATIVE


def test_a_setting_this_release_does_not_know_is_refused_not_dropped() -> None:
    with pytest.raises(UnknownSetting, match="tier_rules"):
        settings_of({**BEFORE_TIME_ZONES, "tier_rules": []})
    rate = {"points": 2, "currency_code": "USD", "per_major_units": 1, "cap": 5}
    with pytest.raises(UnknownSetting, match=r"earn_rates\[\].*cap"):
        settings_of({**BEFORE_TIME_ZONES, "earn_rates": [rate]})


@pytest.mark.parametrize("zone", ["", "Mars/Olympus", "America", "../etc/passwd", "x" * 65])
def test_a_time_zone_that_is_not_an_iana_zone_is_refused(zone: str) -> None:
    violations = Violations()
    ProgramSettings(time_zone=zone).validate(violations)

    with pytest.raises(InvalidArgument) as raised:
        violations.raise_if_any()
    assert [v.field for v in raised.value.violations] == ["program.time_zone"]
