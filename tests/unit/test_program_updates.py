"""Program updates with an update_mask (AIP-134): given a program, when an update, then the
revision it makes (or none) and the settings it leaves; bad masks name each bad path."""

from dataclasses import dataclass

import pytest

from ledger.codec.requests import content_json
from ledger.domain.commands import UpdateProgram
from ledger.domain.errors import InvalidArgument, Violations
from ledger.domain.events import ProgramUpdated
from ledger.domain.frozen import replace
from ledger.domain.program import ProgramState, evolve
from ledger.domain.program import decide as decide_program
from ledger.domain.program_mask import apply_mask, changed_paths, check_mask
from ledger.domain.settings import EarnRate, NegativeBalancePolicy, ProgramSettings

from .scenario import PROGRAM, fields, program

GIVEN = program(return_window_days=14, points_expiry_days=365)


def then(state: ProgramState, command: UpdateProgram) -> ProgramState:
    for event in decide_program(state, command):
        state = evolve(state, event)
    return state


def test_a_masked_update_changes_the_named_settings_and_keeps_every_other() -> None:
    request = ProgramSettings(return_window_days=30, display_name="ignored, not in the mask")

    events = decide_program(GIVEN, UpdateProgram(request, update_mask=("return_window_days",)))

    assert events == [ProgramUpdated(replace(GIVEN.settings, return_window_days=30))]
    assert then(GIVEN, UpdateProgram(request, update_mask=("return_window_days",))).revision == 2


@pytest.mark.parametrize("mask", [(), ("*",)])
def test_an_update_without_a_mask_or_with_a_star_replaces_every_setting(
    mask: tuple[str, ...],
) -> None:
    request = ProgramSettings(return_window_days=30)

    events = decide_program(GIVEN, UpdateProgram(request, update_mask=mask))

    assert events == [ProgramUpdated(request)]
    assert request.earn_rates == ()  # the current rates are gone: not in the request


@pytest.mark.parametrize(
    "command",
    [
        UpdateProgram(PROGRAM.settings),
        UpdateProgram(ProgramSettings(points_expiry_days=365), update_mask=("points_expiry_days",)),
        UpdateProgram(ProgramSettings(), update_mask=("time_zone",)),
    ],
)
def test_an_update_that_changes_nothing_makes_no_revision(command: UpdateProgram) -> None:
    assert decide_program(PROGRAM, command) == []
    assert then(PROGRAM, command) == PROGRAM


def test_a_masked_update_names_every_bad_setting_it_takes_and_none_it_leaves() -> None:
    request = ProgramSettings(
        return_window_days=999,
        points_expiry_days=-1,
        max_hold_ttl_seconds=0,  # bad, but not in the mask
    )

    with pytest.raises(InvalidArgument) as refused:
        decide_program(
            GIVEN,
            UpdateProgram(request, update_mask=("return_window_days", "points_expiry_days")),
        )

    assert fields(refused.value) == ["program.return_window_days", "program.points_expiry_days"]


@pytest.mark.parametrize(
    ("mask", "bad_paths"),
    [
        (("revision",), [0]),
        (("name", "create_time", "update_time", "display_name"), [0, 1, 2]),
        (("no_such_setting", "return_window_days", "Return_Window_Days"), [0, 2]),
        (("earn_rates.points", "earn_rates"), [0]),  # inside a repeated field
        (("return_window_days.days",), [0]),  # inside a number
        (("*", "display_name"), [0]),
        (("",), [0]),
        (("x" * 201,), [0]),
    ],
)
def test_bad_update_mask_paths_are_refused_naming_each_and_nothing_changes(
    mask: tuple[str, ...], bad_paths: list[int]
) -> None:
    with pytest.raises(InvalidArgument) as refused:
        decide_program(GIVEN, UpdateProgram(ProgramSettings(), update_mask=mask))

    assert fields(refused.value) == [f"update_mask.paths[{index}]" for index in bad_paths]


def test_a_mask_of_more_than_a_hundred_paths_is_refused() -> None:
    with pytest.raises(InvalidArgument) as refused:
        decide_program(GIVEN, UpdateProgram(ProgramSettings(), update_mask=("display_name",) * 101))

    assert fields(refused.value) == ["update_mask.paths"]


def test_an_update_without_a_mask_hashes_as_updates_did_before_masks_existed() -> None:
    plain = content_json(UpdateProgram(ProgramSettings()))
    masked = content_json(UpdateProgram(ProgramSettings(), update_mask=("display_name",)))

    assert b"update_mask" not in plain
    assert b'"update_mask":["display_name"]' in masked


# --- nested settings: others add them; paths reach into them by field name -----------------


@dataclass(frozen=True)
class Expiry:
    days: int = 0
    round_to: str = "none"


@dataclass(frozen=True)
class Nested:
    name: str = ""
    expiry: Expiry = Expiry()
    rates: tuple[EarnRate, ...] = ()
    policy: NegativeBalancePolicy = NegativeBalancePolicy.WITHIN_BALANCE


def test_a_path_into_a_nested_setting_changes_that_field_alone() -> None:
    current = Nested("shop", Expiry(365, "month"))

    updated = apply_mask(current, Nested(expiry=Expiry(30, "year")), ["expiry.days"])

    assert updated == Nested("shop", Expiry(30, "month"))
    assert changed_paths(current, updated) == ("expiry.days",)


def test_paths_into_nested_settings_are_checked_field_by_field() -> None:
    violations = Violations()

    check_mask(
        ["expiry.days", "expiry.weeks", "rates.points", "policy.value", "expiry"],
        violations,
        settings_type=Nested,
    )

    assert [found.field for found in violations.items] == [
        "update_mask.paths[1]",
        "update_mask.paths[2]",
        "update_mask.paths[3]",
    ]


def test_changed_paths_name_each_changed_setting_in_field_order() -> None:
    before = Nested("a", Expiry(1), (EarnRate("USD", 1),))
    after = Nested(
        "b", Expiry(1, "year"), (EarnRate("USD", 2),), NegativeBalancePolicy.PENDING_ONLY
    )

    assert changed_paths(before, after) == ("name", "expiry.round_to", "rates", "policy")
    assert changed_paths(after, after) == ()
