"""GetAccount and BatchGetAccounts (AIP-231): accounts with their loyalty stage.

The balances come from the log's state rows (current as of the call); the stage from the
stage view, a projection a moment behind the log.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

from ledger.application import Ledger
from ledger.domain.errors import Violations
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
    violations = Violations()
    parent_id = parse_program(request.parent, "parent", violations) if request.parent else ""
    if not request.names:
        violations.add("names", "name at least one account", reason="FIELD_REQUIRED")
    if len(request.names) > MAX_BATCH_GET_NAMES:
        violations.add("names", f"at most {MAX_BATCH_GET_NAMES} names", reason="TOO_MANY_VALUES")
        named = _Named(parent_id)  # the names themselves are not read: too many
    else:
        named = _named(request.names, parent_id, violations)
    violations.raise_if_any()
    found = await ledger.get_accounts(
        named.program_id, named.member_ids, named.fields, deadline=deadline
    )
    return pb.BatchGetAccountsResponse(
        accounts=[account_with_stage(view, stage) for view, stage in found]
    )


@dataclass
class _Named:
    program_id: str
    member_ids: list[str] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)
    """The request field naming each member, for its NOT_FOUND."""


def _named(names: Sequence[str], parent_id: str, violations: Violations) -> _Named:
    """The member each name names; every name must be in one program, the parent's or,
    without one, the first well-formed name's."""
    named = _Named(parent_id)
    said_by = "parent says"
    for index, name in enumerate(names):
        field_name = f"names[{index}]"
        name_program, member_id = parse_account(name, field_name, violations)
        if name_program and not named.program_id:
            named.program_id, said_by = name_program, f"{field_name} is"
        elif name_program and name_program != named.program_id:
            violations.add(
                field_name,
                f"must be an account of programs/{named.program_id}, as {said_by}",
                reason="ACCOUNT_IN_OTHER_PROGRAM",
            )
        named.member_ids.append(member_id)
        named.fields.append(field_name)
    return named
