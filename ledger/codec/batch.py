"""The one JSON document an append sends to PostgreSQL (ledger/store/queries/append.sql
unpacks it with jsonb_to_recordset): a batch's events, state rows and answers. Instants are
UTC ISO-8601 strings with microseconds and byte strings are hex, so nothing changes on the
way through."""

import orjson

from ledger.codec.chain import canonical_json
from ledger.domain.clock import instant
from ledger.eventlog.records import Commit


def append_document(commit: Commit) -> str:
    streams = commit.streams
    assert len({(s.program_id, s.stream_id) for s in streams}) == len(streams)
    # Events go in as their canonical text (already rendered for the hash) plus the hash:
    # the canonical text is a JSON object whose members are the events table's columns.
    event_texts = [
        f'{(e.canonical or canonical_json(e))[:-1]},"hash":"{e.hash.hex()}"}}'
        for e in commit.events
    ]
    document = {
        "streams": [
            {
                "program_id": s.program_id,
                "stream_id": s.stream_id,
                "version": s.version,
                "last_hash": s.last_hash.hex(),
                "state": s.state,
                "available": s.balances.available,
                "pending": s.balances.pending,
                "held": s.balances.held,
                "earned": s.balances.lifetime_earned,
                "redeemed": s.balances.lifetime_redeemed,
                "expired": s.balances.expired,
                "next_due_at": s.next_due_at,
                "updated_at": instant(s.updated_at),
            }
            for s in streams
        ],
        "requests": [
            {
                "program_id": r.program_id,
                "stream_id": r.stream_id,
                "request_id": r.request_id,
                "request_hash": r.request_hash.hex(),
                "response": r.response,
                "recorded_at": instant(r.recorded_at),
            }
            for r in commit.requests
        ],
    }
    # orjson: the state rows hold whole account snapshots, and this runs once per batch on
    # the write path; the document is only parsed by PostgreSQL, so any valid JSON will do.
    encoded = orjson.dumps(document).decode("utf-8")
    return '{"events":[' + ",".join(event_texts) + "]," + encoded[1:]
