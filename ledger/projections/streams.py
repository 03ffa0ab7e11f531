"""Which streams are member accounts, and which commands are the ledger's own housekeeping.

The one place projections learn how a program's own stream is told apart from an account's
(today by its reserved id; later by a registered stream kind), so that change lands here.
"""

from ledger.domain.commands import Sweep
from ledger.store.records import PROGRAM_STREAM

HOUSEKEEPING_COMMANDS: tuple[str, ...] = (Sweep.__name__,)
"""Commands whose events the ledger appends on its own, named as event metadata names them
(metadata.command): they are not a member's activity."""


def non_account_stream_ids() -> tuple[str, ...]:
    """The stream ids that are not member accounts, for SQL that skips them page by page."""
    return (PROGRAM_STREAM,)


def is_account_stream(stream_id: str) -> bool:
    return stream_id not in non_account_stream_ids()
