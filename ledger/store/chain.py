"""The per-stream hash chain that makes tampering evident.

    hash(v) = SHA-256( hash(v-1) || canonical_bytes(event v) ),  hash(0) = 32 zero bytes

canonical_bytes is the UTF-8 encoding of one JSON object with exactly these keys:

    program_id, stream_id, version, event_id (lower-case hyphenated UUID), event_type,
    schema_version, data, metadata, recorded_at (UTC "YYYY-MM-DDTHH:MM:SS.ffffffZ"),
    balances_after (object: available, pending, held, lifetime_earned, lifetime_redeemed,
    expired)

serialised with keys sorted at every level, no insignificant white space (separators "," and
":"), non-ASCII characters written as themselves (not \\u escapes), integers in decimal. Event
data holds no floats. docs/HASH_CHAIN.md repeats this for auditors with a worked example.
The chain is per stream, so writers to different accounts never wait for each other.
"""

import hashlib
import json
from typing import Any

from ledger.domain.clock import instant
from ledger.store.records import EventRecord

GENESIS_HASH = bytes(32)


def canonical_json(record: EventRecord) -> str:
    document: dict[str, Any] = {
        "program_id": record.program_id,
        "stream_id": record.stream_id,
        "version": record.version,
        "event_id": str(record.event_id),
        "event_type": record.event_type,
        "schema_version": record.schema_version,
        "data": record.data,
        "metadata": record.metadata,
        "recorded_at": instant(record.recorded_at),
        "balances_after": record.balances.to_data(),
    }
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def canonical_bytes(record: EventRecord) -> bytes:
    return canonical_json(record).encode("utf-8")


def hash_of(previous_hash: bytes, canonical: str) -> bytes:
    assert len(previous_hash) == 32
    return hashlib.sha256(previous_hash + canonical.encode("utf-8")).digest()


def chain_hash(previous_hash: bytes, record: EventRecord) -> bytes:
    return hash_of(previous_hash, canonical_json(record))
