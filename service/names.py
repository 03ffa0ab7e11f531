"""Resource names (AIP-122).

programs/{program_id} and programs/{program_id}/accounts/{member_id}.
"""

import re

from ledger.domain.errors import InvalidArgument
from ledger.domain.patterns import MEMBER_ID, PROGRAM_ID

_PROGRAM = re.compile(f"programs/({PROGRAM_ID})")
_ACCOUNT = re.compile(f"programs/({PROGRAM_ID})/accounts/({MEMBER_ID})")


def program_name(program_id: str) -> str:
    return f"programs/{program_id}"


def account_name(program_id: str, member_id: str) -> str:
    return f"programs/{program_id}/accounts/{member_id}"


def parse_program(name: str, field_name: str) -> str:
    match = _PROGRAM.fullmatch(name)
    if match is None:
        raise InvalidArgument.of(
            field_name,
            "is required" if not name else "must look like programs/{program_id}",
        )
    return match.group(1)


def parse_account(name: str, field_name: str) -> tuple[str, str]:
    match = _ACCOUNT.fullmatch(name)
    if match is None:
        raise InvalidArgument.of(
            field_name,
            "is required"
            if not name
            else "must look like programs/{program_id}/accounts/{member_id}",
        )
    return match.group(1), match.group(2)
