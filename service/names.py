"""Resource names (AIP-122).

programs/{program_id} and programs/{program_id}/accounts/{member_id}.
"""

import re

from ledger.domain.errors import Violations, refuse
from ledger.domain.patterns import MEMBER_ID, PROGRAM_ID

_PROGRAM = re.compile(f"programs/({PROGRAM_ID})")
_ACCOUNT = re.compile(f"programs/({PROGRAM_ID})/accounts/({MEMBER_ID})")


def program_name(program_id: str) -> str:
    return f"programs/{program_id}"


def account_name(program_id: str, member_id: str) -> str:
    return f"programs/{program_id}/accounts/{member_id}"


def parse_program(name: str, field_name: str, found: Violations | None = None) -> str:
    """The program id `name` names. A bad name is raised, or added to `found` (and "" is
    returned) for the caller to report with the request's other bad fields."""
    match = _PROGRAM.fullmatch(name)
    if match is None:
        refuse(
            found,
            field_name,
            "is required" if not name else "must look like programs/{program_id}",
            reason="NAME_REQUIRED" if not name else "PROGRAM_NAME_MALFORMED",
        )
        return ""
    return match.group(1)


def parse_account(name: str, field_name: str, found: Violations | None = None) -> tuple[str, str]:
    """(program id, member id) of `name`; a bad name is raised or added to `found`."""
    match = _ACCOUNT.fullmatch(name)
    if match is None:
        refuse(
            found,
            field_name,
            "is required"
            if not name
            else "must look like programs/{program_id}/accounts/{member_id}",
            reason="NAME_REQUIRED" if not name else "ACCOUNT_NAME_MALFORMED",
        )
        return "", ""
    return match.group(1), match.group(2)
