"""Which streams are member accounts, and which commands are the ledger's own housekeeping,
as the projections' SQL needs to know them."""

from ledger.domain.commands import Sweep
from ledger.domain.kinds import OTHER_KINDS_PREFIX, member_of

HOUSEKEEPING_COMMANDS: tuple[str, ...] = (Sweep.__name__,)
"""Commands whose events the ledger appends on its own, named as event metadata names them
(metadata.command): they are not a member's activity."""


def non_account_prefix() -> str:
    """What the ids of streams that are not member accounts start with, for SQL that skips
    them page by page."""
    return OTHER_KINDS_PREFIX


def is_account_stream(stream_id: str) -> bool:
    return member_of(stream_id) is not None
