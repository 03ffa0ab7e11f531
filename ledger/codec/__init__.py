"""Every byte the ledger stores or hashes, decided in one place.

- events.py: an event <-> its stored data (jsonb key order), with upcasting of older schema
  versions on read;
- chain.py: the canonical text of a stored event and the per-stream hash chain;
- snapshots.py: each stream kind's state <-> the JSON kept in its stream's state row;
- requests.py: a request's content hash, compared with every retry of its id;
- responses.py: a command's answer <-> the JSON stored for retries;
- batch.py: the one JSON document an append sends to PostgreSQL.

The domain's classes are plain dataclasses: renaming or reordering their fields never changes a
stored byte by accident, because every byte is spelled here and held by tests to a log written
before (tests/fixtures/log_v1).
"""
