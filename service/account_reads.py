"""GetAccount and BatchGetAccounts (AIP-231): accounts with their loyalty stage.

The balances come from the log's state rows (current as of the call); the stage from the
stage view, a projection a moment behind the log.
"""

from ledger.application import Ledger
from ledger.domain.errors import InvalidArgument
from ledger.outcomes import AccountView
from ledger.projections.stage_view import MemberStageRow
from loyalty.v1 import ledger_pb2 as pb
from service import mapping, stage_mapping
from service.names import parse_account, parse_program

MAX_BATCH_GET_NAMES = 100
"""Names one BatchGetAccounts reads at most: a page of a POS or a storefront's list."""


def account_with_stage(view: AccountView, stage: MemberStageRow | None) -> pb.Account:
    message = mapping.account(view)
    if stage is not None:
        stage_mapping.fill_stage(message, stage.stage, stage.stage_time)
    return message


async def get_account(
    ledger: Ledger, request: pb.GetAccountRequest, deadline: float | None
) -> pb.GetAccountResponse:
    program_id, member_id = parse_account(request.name, "name")
    view, stage = await ledger.get_account_and_stage(
        program_id, member_id, "name", deadline=deadline
    )
    return pb.GetAccountResponse(account=account_with_stage(view, stage))


async def batch_get_accounts(
    ledger: Ledger, request: pb.BatchGetAccountsRequest, deadline: float | None
) -> pb.BatchGetAccountsResponse:
    if not request.names:
        raise InvalidArgument.of("names", "name at least one account")
    if len(request.names) > MAX_BATCH_GET_NAMES:
        raise InvalidArgument.of("names", f"at most {MAX_BATCH_GET_NAMES} names")
    program_id = parse_program(request.parent, "parent") if request.parent else None
    member_ids: list[str] = []
    fields: list[str] = []
    for index, name in enumerate(request.names):
        field_name = f"names[{index}]"
        name_program, member_id = parse_account(name, field_name)
        program_id = program_id or name_program
        if name_program != program_id:
            raise InvalidArgument.of(
                field_name,
                f"must be an account of programs/{program_id}, as "
                + ("parent says" if request.parent else "names[0] is"),
            )
        member_ids.append(member_id)
        fields.append(field_name)
    assert program_id is not None
    found = await ledger.get_accounts(program_id, member_ids, fields, deadline=deadline)
    return pb.BatchGetAccountsResponse(
        accounts=[account_with_stage(view, stage) for view, stage in found]
    )
