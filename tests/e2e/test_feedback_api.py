"""RecordFeedback through a real channel: recorded once per request id, listed among the
account's entries, refused naming the bad score with nothing recorded."""

import json

import grpc
import pytest

from loyalty.v1 import ledger_pb2 as pb
from tests.conftest import Api, create_program, enroll, request_id
from tests.e2e.errors import failure


async def feedback_entries(api: Api, account: str) -> list[pb.LedgerEntry]:
    response = await api.stub.ListLedgerEntries(
        pb.ListLedgerEntriesRequest(parent=account, event_types=["FeedbackRecorded"])
    )
    return list(response.entries)


async def test_feedback_is_listed_among_the_entries_and_a_retry_records_it_once(
    api: Api,
) -> None:
    account = await enroll(api.stub, await create_program(api.stub))
    request = pb.RecordFeedbackRequest(
        request_id=request_id(), account=account, nps_score=10, csat_score=4, channel="email"
    )

    first = await api.stub.RecordFeedback(request)
    retried = await api.stub.RecordFeedback(request)

    assert retried == first
    assert first.account.balances.available == 0
    entries = await feedback_entries(api, account)
    assert len(entries) == 1
    assert entries[0].points_delta == 0
    assert json.loads(entries[0].data_json) == {
        "nps_score": 10,
        "ces_score": None,
        "csat_score": 4,
        "channel": "email",
    }


async def test_a_zero_score_is_a_score_not_an_absent_one(api: Api) -> None:
    account = await enroll(api.stub, await create_program(api.stub))

    await api.stub.RecordFeedback(
        pb.RecordFeedbackRequest(request_id=request_id(), account=account, nps_score=0)
    )

    (entry,) = await feedback_entries(api, account)
    assert json.loads(entry.data_json)["nps_score"] == 0


@pytest.mark.parametrize(
    ("scores", "field"),
    [
        ({"nps_score": 11}, "nps_score"),
        ({"ces_score": 0}, "ces_score"),
        ({"csat_score": 6}, "csat_score"),
        ({}, "nps_score"),
        ({"nps_score": 7, "channel": "E-mail"}, "channel"),
    ],
)
async def test_a_bad_score_is_refused_naming_it_and_nothing_is_recorded(
    api: Api, scores: dict[str, object], field: str
) -> None:
    account = await enroll(api.stub, await create_program(api.stub))

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await api.stub.RecordFeedback(
            pb.RecordFeedbackRequest(request_id=request_id(), account=account, **scores)  # type: ignore[arg-type]
        )

    assert failure(refused.value).code == grpc.StatusCode.INVALID_ARGUMENT
    assert failure(refused.value).fields == [field]
    assert await feedback_entries(api, account) == []


async def test_feedback_for_an_unknown_member_is_not_found(api: Api) -> None:
    program_id = await create_program(api.stub)

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await api.stub.RecordFeedback(
            pb.RecordFeedbackRequest(
                request_id=request_id(),
                account=f"programs/{program_id}/accounts/nobody",
                nps_score=5,
            )
        )

    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
