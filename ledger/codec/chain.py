r"""The per-stream hash chain that makes tampering evident.

    hash(v) = SHA-256( hash(v-1) || canonical_bytes(event v) ),  hash(0) = 32 zero bytes

canonical_bytes is the UTF-8 text PostgreSQL prints for this jsonb document (jsonb_out):

    {program_id, stream_id, version, event_id (lower-case hyphenated UUID), event_type,
     schema_version, data, metadata, recorded_at (UTC "YYYY-MM-DDTHH:MM:SS.ffffffZ"),
     balances_after: {available, pending, held, lifetime_earned, lifetime_redeemed, expired}}

That is: object keys ordered by byte length, then bytewise; ", " between members and ": "
after keys; strings escaped only for '"', '\\' and control characters (\b \f \n \r \t, else
\u00xx); integers in decimal; no floats. Why this form: an auditor can recompute every hash
with one SELECT (docs/HASH_CHAIN.md), and the replay assembles it from the text the database
prints for each column, with no JSON encoding in Python. Writers render the same text here
with the standard library. The chain is per stream, so writers to different accounts never
wait for each other.
"""

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any

from ledger.domain.account import Balances
from ledger.domain.clock import instant
from ledger.eventlog.records import EventRecord

HASH_BYTES = 32
GENESIS_HASH = bytes(HASH_BYTES)


def balances_tuple(balances: Balances) -> tuple[int, int, int, int, int, int]:
    """The balances in the order of the log's points_* columns (available, pending, held,
    lifetime earned, lifetime redeemed, expired), as the replay reads them back."""
    return (
        balances.available,
        balances.pending,
        balances.held,
        balances.lifetime_earned,
        balances.lifetime_redeemed,
        balances.expired,
    )


def canonical_json(record: EventRecord, *, in_order: bool = False) -> str:
    """The canonical text of a stored or decided event."""
    return canonical_text(
        program_id=record.program_id,
        stream_id=record.stream_id,
        version=record.version,
        event_id=record.event_id,
        event_type=record.event_type,
        schema_version=record.schema_version,
        data=record.data,
        metadata=record.metadata,
        recorded_at=record.recorded_at,
        balances=record.balances,
        in_order=in_order,
    )


def canonical_text(
    *,
    program_id: str,
    stream_id: str,
    version: int,
    event_id: str,
    event_type: str,
    schema_version: int,
    data: dict[str, Any],
    metadata: dict[str, Any],
    recorded_at: datetime,
    balances: Balances,
    in_order: bool = False,
) -> str:
    """`in_order`: the caller vouches that `data` and `metadata` are already in jsonb key
    order at every level (the writers' fast path; a unit test holds every event type to it),
    so they are not re-sorted."""
    if not in_order:
        data, metadata = _jsonb_ordered(data), _jsonb_ordered(metadata)
    return canonical_from_texts(
        json_string(program_id),
        json_string(stream_id),
        version,
        event_id,
        json_string(event_type),
        schema_version,
        jsonb_document(data),
        jsonb_document(metadata),
        instant(recorded_at),
        balances_tuple(balances),
    )


def canonical_from_texts(
    program_json: str,
    stream_json: str,
    version: int,
    event_id: str,
    event_type_json: str,
    schema_version: int,
    data_text: str,
    metadata_text: str,
    recorded_at: str,
    balances: tuple[int, ...],
    /,
) -> str:
    """The canonical text from its parts already rendered: JSON values as jsonb prints them
    (the replay passes the texts PostgreSQL printed for the columns), strings JSON-quoted
    (json_string), `recorded_at` spelled as an instant, `balances` in Balances' field order.
    Its top-level keys are spelled out here in jsonb's order."""
    available, pending, held, earned, redeemed, expired = balances
    return (
        f'{{"data": {data_text}, "version": {version}, "event_id": "{event_id}",'
        f' "metadata": {metadata_text}, "stream_id": {stream_json},'
        f' "event_type": {event_type_json}, "program_id": {program_json},'
        f' "recorded_at": "{recorded_at}", "balances_after": {{"held": {held},'
        f' "expired": {expired}, "pending": {pending}, "available": {available},'
        f' "lifetime_earned": {earned}, "lifetime_redeemed": {redeemed}}},'
        f' "schema_version": {schema_version}}}'
    )


@lru_cache(maxsize=16_384)  # program ids, account ids and event types recur in every batch
def json_string(text: str) -> str:
    """`text` as a JSON string, quoted and escaped as jsonb prints it."""
    return _ENCODER.encode(text)


def jsonb_text(value: Any) -> str:
    """`value` as PostgreSQL's jsonb prints it."""
    return jsonb_document(_jsonb_ordered(value))


_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(", ", ": "))


def _not_json(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON")


# _ENCODER.encode(document) builds this C encoder afresh on every call; every appended event
# renders two documents, so it is built once here. Stateless without circular-reference
# markers (event documents are trees), so one serves every call.
_RENDER_C: Callable[..., Callable[[Any, int], tuple[str, ...]]] | None = getattr(
    json.encoder, "c_make_encoder", None
)
_RENDER = (
    _RENDER_C(
        None, _not_json, json.encoder.encode_basestring, None, ": ", ", ", False, False, False
    )
    if _RENDER_C is not None
    else None
)


def jsonb_document(value: Any) -> str:
    """`value`, whose keys are in jsonb order already, as jsonb prints it: _ENCODER.encode."""
    if _RENDER is None:
        return _ENCODER.encode(value)
    return "".join(_RENDER(value, 0))


def _jsonb_key(key: str) -> tuple[int, bytes]:
    encoded = key.encode("utf-8")
    return (len(encoded), encoded)


def jsonb_ordered(value: Any) -> Any:
    """`value` with the keys of every object in jsonb's order."""
    return _jsonb_ordered(value)


def _jsonb_ordered(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonb_ordered(value[key]) for key in sorted(value, key=_jsonb_key)}
    if isinstance(value, list):
        return [_jsonb_ordered(item) for item in value]
    return value


def hash_of(previous_hash: bytes, canonical: str) -> bytes:
    assert len(previous_hash) == HASH_BYTES
    return hashlib.sha256(previous_hash + canonical.encode("utf-8")).digest()
