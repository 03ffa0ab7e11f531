"""Programs as versioned configuration, through gRPC: UpdateProgram with an update_mask, the
revision history with who changed what, and GetProgram of any past revision."""

from typing import TYPE_CHECKING

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from loyalty.v1 import ledger_pb2 as pb
from tests.conftest import Api, FakeClock, create_program, request_id
from tests.e2e.errors import error_info, failure
from tests.e2e.test_bad_input import count_events

if TYPE_CHECKING:
    from loyalty.v1.ledger_pb2_grpc import LedgerServiceAsyncStub

INVALID = grpc.StatusCode.INVALID_ARGUMENT


def as_actor(actor: str) -> tuple[tuple[str, str]]:
    return (("loyalty-actor", actor),)


async def update(
    stub: "LedgerServiceAsyncStub",
    program_id: str,
    program: pb.Program,
    paths: list[str] | None,
    actor: str = "admin",
) -> pb.Program:
    program.name = f"programs/{program_id}"
    request = pb.UpdateProgramRequest(request_id=request_id(), program=program)
    if paths is not None:
        request.update_mask.CopyFrom(FieldMask(paths=paths))
    response = await stub.UpdateProgram(request, metadata=as_actor(actor))
    return response.program


async def get(stub: "LedgerServiceAsyncStub", program_id: str, revision: int = 0) -> pb.Program:
    response = await stub.GetProgram(
        pb.GetProgramRequest(name=f"programs/{program_id}", revision=revision)
    )
    return response.program


async def history(
    stub: "LedgerServiceAsyncStub", program_id: str, page_size: int = 0, order_by: str = ""
) -> list[pb.ProgramRevision]:
    """Every revision, page after page."""
    found: list[pb.ProgramRevision] = []
    token = ""
    while True:
        page = await stub.ListProgramRevisions(
            pb.ListProgramRevisionsRequest(
                parent=f"programs/{program_id}",
                page_size=page_size,
                page_token=token,
                order_by=order_by,
            )
        )
        found += page.revisions
        token = page.next_page_token
        if not token:
            return found


async def test_a_masked_update_keeps_the_other_settings_and_the_history_shows_who_changed_what(
    api: Api, clock: FakeClock
) -> None:
    stub = api.stub
    program_id = await create_program(
        stub, display_name="Shop", return_window_days=14, points_expiry_days=365
    )
    created = await get(stub, program_id)
    clock.advance(days=1)

    window = await update(
        stub, program_id, pb.Program(return_window_days=30), ["return_window_days"], actor="alice"
    )
    clock.advance(days=1)
    renamed = await update(
        stub,
        program_id,
        pb.Program(display_name="Shop & more", time_zone="Europe/Paris", points_expiry_days=1),
        ["display_name", "time_zone"],
        actor="bob",
    )

    assert window.revision == 2 and renamed.revision == 3
    assert renamed.return_window_days == 30
    assert renamed.points_expiry_days == 365  # in the request, not in the mask
    assert list(renamed.earn_rates) == list(created.earn_rates)
    assert (renamed.display_name, renamed.time_zone) == ("Shop & more", "Europe/Paris")

    newest_first = await history(stub, program_id)
    assert [(r.revision, r.actor, list(r.changed_paths)) for r in newest_first] == [
        (3, "bob", ["display_name", "time_zone"]),
        (2, "alice", ["return_window_days"]),
        (
            1,
            "anonymous",
            # A program created through the API does not earn on gift cards unless it asks:
            # not the default of settings stored before order lines.
            [
                "display_name",
                "earn_rates",
                "return_window_days",
                "points_expiry_days",
                "earn_on_gift_cards",
            ],
        ),
    ]
    assert [r.update_time.ToSeconds() - created.create_time.ToSeconds() for r in newest_first] == [
        2 * 86_400,
        86_400,
        0,
    ]
    assert newest_first[0].program == renamed
    assert newest_first[2].program == created

    # Any past revision reads as it was.
    assert await get(stub, program_id, revision=1) == created
    assert await get(stub, program_id, revision=2) == window
    assert await get(stub, program_id, revision=3) == await get(stub, program_id)


async def test_an_update_without_a_mask_replaces_every_setting_as_before(api: Api) -> None:
    program_id = await create_program(api.stub, display_name="Shop", return_window_days=14)

    for paths in (None, [], ["*"]):
        updated = await update(
            api.stub,
            program_id,
            pb.Program(earn_rates=[pb.EarnRate(currency_code="EUR", points=2, per_major_units=1)]),
            paths,
        )
        assert updated.display_name == "" and updated.return_window_days == 0
        assert [rate.currency_code for rate in updated.earn_rates] == ["EUR"]

    # The second and third changed nothing: no revision says they did.
    assert updated.revision == 2
    assert len(await history(api.stub, program_id)) == 2


async def test_an_update_that_changes_nothing_makes_no_revision(
    api: Api, database_url: str
) -> None:
    program_id = await create_program(api.stub, return_window_days=14)
    before = await count_events(database_url, program_id)

    same = await update(
        api.stub, program_id, pb.Program(return_window_days=14), ["return_window_days"]
    )

    assert same.revision == 1
    assert await count_events(database_url, program_id) == before


@pytest.mark.parametrize(
    ("paths", "bad"),
    [
        (["revision"], [0]),
        (["return_window_days", "name", "update_time", "create_time"], [1, 2, 3]),
        (["no_such_field", "display_name"], [0]),
        (["earn_rates.points"], [0]),
        (["display_name", "*"], [1]),
    ],
)
async def test_bad_masks_are_refused_naming_each_path_and_nothing_is_appended(
    api: Api, database_url: str, paths: list[str], bad: list[int]
) -> None:
    program_id = await create_program(api.stub)
    before = await count_events(database_url, program_id)

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await update(api.stub, program_id, pb.Program(display_name="x"), paths)

    assert failure(refused.value) == (
        INVALID,
        "UPDATE_MASK_INVALID",
        [f"update_mask.paths[{index}]" for index in bad],
    )
    assert await count_events(database_url, program_id) == before
    assert (await get(api.stub, program_id)).revision == 1


async def test_bad_settings_are_refused_naming_every_one_and_nothing_is_appended(
    api: Api, database_url: str
) -> None:
    program_id = await create_program(api.stub)
    before = await count_events(database_url, program_id)
    bad = pb.Program(
        earn_rates=[
            pb.EarnRate(currency_code="XYZ", points=1, per_major_units=1),
            pb.EarnRate(currency_code="USD", points=-5, per_major_units=1),
            pb.EarnRate(currency_code="USD", points=1, per_major_units=1),
        ],
        return_window_days=-1,
        time_zone="Mars/Olympus",
    )

    refusals = []
    for paths in (None, ["earn_rates", "return_window_days", "time_zone"]):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await update(
                api.stub,
                program_id,
                pb.Program.FromString(bad.SerializeToString()),
                paths,
            )
        refusals.append(failure(refused.value))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await api.stub.CreateProgram(
            pb.CreateProgramRequest(request_id=request_id(), program_id="new-one", program=bad)
        )
    refusals.append(failure(refused.value))

    every_bad_setting = {
        "program.earn_rates[0].currency_code",
        "program.earn_rates[1].points",
        "program.earn_rates[2].currency_code",  # a second USD rate
        "program.return_window_days",
        "program.time_zone",
    }
    for refusal in refusals:
        assert refusal.code == INVALID
        assert set(refusal.fields) == every_bad_setting
    assert await count_events(database_url, program_id) == before


async def test_a_bad_setting_outside_the_mask_is_ignored(api: Api) -> None:
    program_id = await create_program(api.stub)
    request = pb.Program(
        display_name="Renamed",
        earn_rates=[pb.EarnRate(currency_code="XYZ", points=-1, per_major_units=0)],
    )

    updated = await update(api.stub, program_id, request, ["display_name"])

    assert updated.display_name == "Renamed"
    assert {rate.currency_code for rate in updated.earn_rates} == {"USD", "JPY", "KWD"}


async def test_a_revision_the_program_has_not_reached_is_not_found(api: Api) -> None:
    program_id = await create_program(api.stub)

    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await get(api.stub, program_id, revision=2)
    with pytest.raises(grpc.aio.AioRpcError) as negative:
        await get(api.stub, program_id, revision=-1)

    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_info(missing.value).reason == "REVISION_NOT_FOUND"
    assert error_info(missing.value).metadata["field"] == "revision"
    assert failure(negative.value).fields == ["revision"]


async def test_revisions_page_newest_first_or_oldest_first(api: Api) -> None:
    program_id = await create_program(api.stub)
    for days in range(1, 7):
        await update(
            api.stub, program_id, pb.Program(return_window_days=days), ["return_window_days"]
        )

    newest = await history(api.stub, program_id, page_size=4)
    oldest = await history(api.stub, program_id, page_size=4, order_by="revision")
    first_page = await api.stub.ListProgramRevisions(
        pb.ListProgramRevisionsRequest(parent=f"programs/{program_id}", page_size=4)
    )

    assert [r.revision for r in newest] == [7, 6, 5, 4, 3, 2, 1]
    assert [r.revision for r in oldest] == [1, 2, 3, 4, 5, 6, 7]
    assert [r.program.return_window_days for r in oldest] == [0, 1, 2, 3, 4, 5, 6]
    assert len(first_page.revisions) == 4 and first_page.next_page_token


async def test_bad_listing_requests_name_every_bad_field(api: Api) -> None:
    program_id = await create_program(api.stub)
    parent = f"programs/{program_id}"
    first_page = await api.stub.ListProgramRevisions(
        pb.ListProgramRevisionsRequest(parent=parent, page_size=1, order_by="revision")
    )

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await api.stub.ListProgramRevisions(
            pb.ListProgramRevisionsRequest(
                parent=parent, page_size=-1, order_by="update_time", page_token="nonsense"
            )
        )
    with pytest.raises(grpc.aio.AioRpcError) as other_order:
        await api.stub.ListProgramRevisions(
            pb.ListProgramRevisionsRequest(parent=parent, page_token="a1")
        )
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await api.stub.ListProgramRevisions(
            pb.ListProgramRevisionsRequest(parent="programs/no-such-program")
        )

    assert first_page.next_page_token == ""  # one revision, one page
    assert failure(refused.value).fields == ["page_size", "order_by", "page_token"]
    assert failure(other_order.value).code == INVALID
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
