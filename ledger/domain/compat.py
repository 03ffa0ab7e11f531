"""Fields added to commands and settings after requests were first hashed.

A request's content hash is stored with its answer and compared with every retry, so a retry
sent across an upgrade must hash as it did before (ledger/codec/requests.py). A field added
later is left out of that content while it holds its default, which must therefore mean what
the command or setting did before the field existed.
"""

from dataclasses import field
from typing import Any

ADDED_LATER = "added_later"


def added_later(default: Any) -> Any:
    """A dataclass field (with an immutable `default`) added after the first release."""
    return field(default=default, metadata={ADDED_LATER: True})
