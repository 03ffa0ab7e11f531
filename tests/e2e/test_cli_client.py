"""The `loyalty-ledger` client commands, each run as an operator would, against a real server:
its output is the RPC's response as JSON."""

import asyncio
import json
import re
from typing import Any, TypeVar

import pytest
from google.protobuf import json_format
from google.protobuf.message import Message

from loyalty.v1 import ledger_pb2 as pb
from service import cli
from tests.conftest import Api, FakeClock, create_program, earn, enroll, request_id

M = TypeVar("M", bound=Message)


_LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[")


def _printed(text: str) -> str:
    """What the command printed, without the log lines the in-process server writes to the
    same captured stdout while the command runs."""
    return "".join(line for line in text.splitlines(True) if not _LOG_LINE.match(line))


class Terminal:
    def __init__(self, api: Api, capsys: pytest.CaptureFixture[str]) -> None:
        self._target = api.target
        self._capsys = capsys

    async def run(self, response_type: type[M], *argv: str) -> M:
        """Runs `loyalty-ledger argv...` and reads its output as `response_type`."""
        self._capsys.readouterr()
        code = await asyncio.to_thread(cli.main, [*argv, "--target", self._target])
        output = self._capsys.readouterr()
        assert code == 0, output.err
        return json_format.Parse(_printed(output.out), response_type())

    async def fails(self, *argv: str) -> dict[str, Any]:
        self._capsys.readouterr()
        code = await asyncio.to_thread(cli.main, [*argv, "--target", self._target])
        output = self._capsys.readouterr()
        assert code == 1 and not _printed(output.out)
        failure: dict[str, Any] = json.loads(_printed(output.err))
        return failure


@pytest.fixture
def terminal(api: Api, capsys: pytest.CaptureFixture[str]) -> Terminal:
    return Terminal(api, capsys)


async def test_program_commands_change_settings_by_flag_and_show_the_history(
    api: Api, terminal: Terminal, clock: FakeClock
) -> None:
    program_id = await create_program(api.stub, display_name="Shop", return_window_days=14)

    clock.advance(hours=1)
    window = await terminal.run(
        pb.UpdateProgramResponse,
        "update-program", program_id, "--return-window-days", "30", "--actor", "alice",
    )  # fmt: skip
    rates = await terminal.run(
        pb.UpdateProgramResponse,
        "update-program", program_id, "--rate", "EUR:2", "--time-zone", "Europe/Paris",
        "--expected-revision", "2",
    )  # fmt: skip
    cleared = await terminal.run(
        pb.UpdateProgramResponse, "update-program", program_id, "--update-mask", "display_name"
    )
    old = await terminal.run(pb.GetProgramResponse, "get-program", program_id, "--revision", "1")
    listed = await terminal.run(
        pb.ListProgramRevisionsResponse, "list-program-revisions", program_id, "--page-size", "2"
    )
    oldest = await terminal.run(
        pb.ListProgramRevisionsResponse, "list-program-revisions", program_id, "--oldest-first"
    )

    assert window.program.return_window_days == 30
    assert window.program.display_name == "Shop"  # not a flag given: kept
    assert [rate.currency_code for rate in rates.program.earn_rates] == ["EUR"]
    assert rates.program.time_zone == "Europe/Paris" and rates.program.return_window_days == 30
    assert cleared.program.display_name == "" and cleared.program.revision == 4
    assert (old.program.revision, old.program.return_window_days) == (1, 14)
    assert [(r.revision, list(r.changed_paths)) for r in listed.revisions] == [
        (4, ["display_name"]),
        (3, ["earn_rates", "time_zone"]),
    ]
    assert listed.next_page_token
    assert [(r.revision, r.actor) for r in oldest.revisions][1] == (2, "alice")
    assert [r.revision for r in oldest.revisions] == [1, 2, 3, 4]


async def test_a_refused_program_change_prints_the_status_and_exits_1(
    terminal: Terminal, api: Api
) -> None:
    program_id = await create_program(api.stub)

    failure = await terminal.fails("update-program", program_id, "--update-mask", "revision")

    assert failure["code"] == "INVALID_ARGUMENT"
    assert "update_mask.paths[0]" in failure["message"]
    # What a script acts on: the reason, and each bad field.
    assert failure["reason"] == "UPDATE_MASK_INVALID"
    assert [v["field"] for v in failure["field_violations"]] == ["update_mask.paths[0]"]


async def test_a_refusal_prints_its_reason_and_every_field_violation_with_its_own(
    terminal: Terminal, api: Api
) -> None:
    program_id = await create_program(api.stub)
    account = await enroll(api.stub, program_id)
    before = await api.stub.GetAccount(pb.GetAccountRequest(name=account))

    failure = await terminal.fails(
        "adjust", program_id, account.rsplit("/", 1)[1], "0", "--reason-code", "Not A Code"
    )

    assert (failure["code"], failure["reason"]) == ("INVALID_ARGUMENT", "SEVERAL_FIELDS_INVALID")
    assert [(each["field"], each["reason"]) for each in failure["field_violations"]] == [
        ("points_delta", "POINTS_NOT_POSITIVE"),
        ("reason_code", "FIELD_MALFORMED"),
    ]
    after = await api.stub.GetAccount(pb.GetAccountRequest(name=account))
    assert after.account.version == before.account.version


async def test_account_commands_adjust_transfer_hold_confirm_and_read_the_past(
    api: Api, terminal: Terminal, clock: FakeClock
) -> None:
    program_id = await create_program(api.stub, return_window_days=14)
    account = await enroll(api.stub, program_id)
    other = await enroll(api.stub, program_id)
    member, other_member = account.rsplit("/", 1)[1], other.rsplit("/", 1)[1]
    await earn(api.stub, account, 1_000)
    await api.stub.RecordPurchase(
        pb.RecordPurchaseRequest(
            request_id=request_id(),
            account=account,
            order_id="order-1",
            amount=pb.Money(currency_code="USD", units=40),
        )
    )
    before = clock()
    clock.advance(hours=1)

    adjusted = await terminal.run(
        pb.AdjustPointsResponse,
        "adjust", program_id, member, "-50", "--reason-code", "goodwill", "--note", "late parcel",
    )  # fmt: skip
    moved = await terminal.run(
        pb.TransferPointsResponse, "transfer", program_id, member, other_member, "100"
    )
    held = await terminal.run(pb.ReservePointsResponse, "reserve", program_id, member, "r-1", "200")
    committed = await terminal.run(
        pb.CommitReservationResponse, "commit", program_id, member, "r-1", "--points", "150"
    )
    await terminal.run(pb.ReservePointsResponse, "reserve", program_id, member, "r-2", "10")
    canceled = await terminal.run(pb.CancelReservationResponse, "cancel", program_id, member, "r-2")
    confirmed = await terminal.run(
        pb.ConfirmOrderResponse, "confirm", program_id, member, "order-1"
    )
    past = await terminal.run(
        pb.GetBalanceAsOfResponse,
        "balance-as-of", program_id, member, before.isoformat().replace("+00:00", "Z"),
    )  # fmt: skip

    assert adjusted.account.balances.available == 950
    assert moved.source_account.balances.available == 850
    assert moved.destination_account.balances.available == 100
    assert (held.reservation.points, held.account.balances.held) == (200, 200)
    assert (committed.points_redeemed, committed.points_released) == (150, 50)
    assert canceled.points_released == 10 and canceled.account.balances.held == 0
    assert confirmed.points_released == 40
    assert confirmed.account.balances.available == 700 + 40
    assert (past.balances.available, past.balances.pending) == (1_000, 40)


async def test_a_friend_enrolled_with_a_code_is_listed_among_the_referrers_referrals(
    api: Api, terminal: Terminal
) -> None:
    program_id = await create_program(
        api.stub,
        referrals=pb.ReferralSettings(enabled=True, referrer_points=100),
    )
    referrer = await terminal.run(pb.EnrollMemberResponse, "enroll", program_id, "ann-1")
    code = referrer.account.referral_code
    await terminal.run(
        pb.EnrollMemberResponse, "enroll", program_id, "bob-1", "--referral-code", code.lower()
    )
    await terminal.run(
        pb.EnrollMemberResponse,
        "enroll",
        program_id,
        "cat-1",
        "--referral-code",
        code,
        "--purchased-before",
    )
    listed = await terminal.run(pb.ListReferralsResponse, "referrals", program_id, "ann-1")
    assert [(r.other_member_id, r.status, r.reason) for r in listed.referrals] == [
        ("bob-1", pb.REFERRAL_STATUS_PENDING, pb.REFERRAL_REASON_UNSPECIFIED),
        ("cat-1", pb.REFERRAL_STATUS_REFUSED, pb.REFERRAL_REASON_ALREADY_PURCHASED),
    ]
