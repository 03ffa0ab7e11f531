"""StreamEvents' filter by event type: the names a caller may ask for."""

from collections.abc import Sequence

from ledger.domain.errors import Violations
from ledger.domain.events import EVENT_TYPES

MAX_EVENT_TYPES = 64
"""Types one call may name: more than the ledger records, so never a limit in practice."""


def parse_event_types(
    names: Sequence[str], field_name: str, found: Violations
) -> frozenset[str] | None:
    """The types asked for (None: every type); each must be one the ledger records. Bad
    names are added to `found`, each by its index."""
    if not names:
        return None
    if len(names) > MAX_EVENT_TYPES:
        found.add(field_name, f"at most {MAX_EVENT_TYPES} types", reason="TOO_MANY_VALUES")
        return None
    for index, name in enumerate(names):
        if name not in EVENT_TYPES:
            found.add(
                f"{field_name}[{index}]",
                "is not an event type the ledger records, such as PurchaseRecorded",
                reason="EVENT_TYPE_UNKNOWN",
            )
    return frozenset(names)
