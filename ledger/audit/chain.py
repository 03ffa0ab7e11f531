"""One stream's hash chain, recomputed from the texts PostgreSQL printed for each event."""

from ledger.codec.chain import GENESIS_HASH, canonical_from_texts, hash_of, json_string
from ledger.store.audit_reader import EventRow


class StreamChain:
    """Follows a stream's chain event after event, from the genesis hash."""

    __slots__ = ("last_hash", "program_json", "stream_json")

    def __init__(self, program_id: str, stream_id: str) -> None:
        # Quoted once per stream rather than once per event.
        self.program_json = json_string(program_id)
        self.stream_json = json_string(stream_id)
        self.last_hash = GENESIS_HASH
        """The hash of the last event that followed the chain."""

    def follows(self, row: EventRow) -> bool:
        """Whether `row`'s stored hash chains from the last one; if not, the chain stays where
        it was."""
        # Unpacked at once: each of a named tuple's fields read by name costs a lookup of its
        # own, and this runs for every event replayed.
        (
            _,
            _,
            version,
            event_id,
            event_type,
            schema_version,
            data_text,
            metadata_text,
            recorded_at,
            available,
            pending,
            held,
            lifetime_earned,
            lifetime_redeemed,
            expired,
            stored,
        ) = row
        canonical = canonical_from_texts(
            self.program_json,
            self.stream_json,
            version,
            event_id,
            json_string(event_type),
            schema_version,
            data_text,
            metadata_text,
            recorded_at,
            (available, pending, held, lifetime_earned, lifetime_redeemed, expired),
        )
        if hash_of(self.last_hash, canonical) != stored:
            return False
        self.last_hash = stored
        return True
