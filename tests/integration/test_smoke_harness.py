"""The harness itself: a real server on port 0 over a real channel, on the test database."""

from loyalty.v1 import ledger_pb2 as pb
from tests.conftest import Api, create_program, earn, enroll


async def test_a_member_earns_and_the_account_shows_it(api: Api) -> None:
    program_id = await create_program(api.stub)
    account = await enroll(api.stub, program_id)
    await earn(api.stub, account, 250)
    response = await api.stub.GetAccount(pb.GetAccountRequest(name=account))
    assert response.account.balances.available == 250
    assert response.account.version == 2
