"""The log for an outside auditor: files they verify without this code (docs/VERIFY.md,
tools/verify_export.py). One program's streams or every program's, as of one snapshot:

    manifest.json      what the export holds, and the public keys that verify its checkpoints
    events.jsonl       one event a line, stream by stream in version order: its key, its id,
                       its hash and its canonical text (docs/HASH_CHAIN.md)
    checkpoints.jsonl  one checkpoint a line, with its leaves and signature

A checkpoint covers every program's streams; in one program's export the other programs'
leaves appear only as their leaf hashes, enough to recompute the root and nothing more. The
log holds no member id (README "Personal data"), so neither does the export.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ledger.audit.merkle import Head, leaf_hash
from ledger.audit.signing import PublicKey
from ledger.codec.chain import canonical_from_texts, json_string
from ledger.domain.clock import instant
from ledger.domain.errors import NotFound
from ledger.store import checkpoints as store

FORMAT = "loyalty-ledger export v1"
MANIFEST = "manifest.json"
EVENTS = "events.jsonl"
CHECKPOINTS = "checkpoints.jsonl"


@dataclass(frozen=True)
class Exported:
    events: int
    streams: int
    checkpoints: int


def export(
    conninfo: str,
    directory: Path,
    *,
    program_id: str | None,
    public_keys: Sequence[PublicKey],
    now: datetime,
) -> Exported:
    """Writes the export into `directory` (created if missing; it must hold no export yet)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in (MANIFEST, EVENTS, CHECKPOINTS):
        if (directory / name).exists():
            raise FileExistsError(f"{directory / name}: exists already; export into a new folder")
    with store.log_snapshot(conninfo) as snapshot:
        if program_id is not None and not snapshot.holds_program(program_id):
            raise NotFound(
                f"no such program: {program_id!r}",
                field_name="program",
                reason="PROGRAM_NOT_FOUND",
            )
        events, streams = _write_events(snapshot, program_id, directory / EVENTS)
        checkpoints = _write_checkpoints(snapshot, program_id, directory / CHECKPOINTS)
    manifest = {
        "format": FORMAT,
        "program_id": program_id,
        "exported_at": instant(now),
        "events": events,
        "streams": streams,
        "checkpoints": checkpoints,
        "public_keys": [{"key": key.raw.hex(), "key_id": key.key_id.hex()} for key in public_keys],
    }
    # Written last: a folder without a manifest is an export that did not finish.
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
    return Exported(events, streams, checkpoints)


def _write_events(
    snapshot: store.LogSnapshot, program_id: str | None, path: Path
) -> tuple[int, int]:
    events = streams = 0
    key: tuple[str, str] | None = None
    program_json = stream_json = ""
    with path.open("w", encoding="utf-8") as out, snapshot.events(program_id) as rows:
        for row in rows:
            if (row.program_id, row.stream_id) != key:
                key = (row.program_id, row.stream_id)
                program_json, stream_json = json_string(row.program_id), json_string(row.stream_id)
                streams += 1
            canonical = canonical_from_texts(
                program_json,
                stream_json,
                row.version,
                row.event_id,
                json_string(row.event_type),
                row.schema_version,
                row.data_text,
                row.metadata_text,
                row.recorded_at,
                row.balances_after,
            )
            out.write(
                _line(
                    {
                        "program_id": row.program_id,
                        "stream_id": row.stream_id,
                        "version": row.version,
                        "event_id": row.event_id,
                        "hash": bytes(row.hash).hex(),
                        "canonical": canonical,
                    }
                )
            )
            events += 1
    return events, streams


def _write_checkpoints(snapshot: store.LogSnapshot, program_id: str | None, path: Path) -> int:
    written = 0
    with path.open("w", encoding="utf-8") as out:
        for checkpoint in snapshot.checkpoints():
            leaves: list[dict[str, Any]] = []
            with snapshot.leaves(checkpoint.checkpoint_id) as stored:
                for leaf in stored:
                    head = Head(leaf.program_id, leaf.stream_id, leaf.version, bytes(leaf.hash))
                    if program_id is None or leaf.program_id == program_id:
                        leaves.append(
                            {
                                "program_id": head.program_id,
                                "stream_id": head.stream_id,
                                "version": head.version,
                                "hash": head.hash.hex(),
                            }
                        )
                    else:
                        leaves.append({"leaf_hash": leaf_hash(head).hex()})
            out.write(
                _line(
                    {
                        "checkpoint_id": checkpoint.checkpoint_id,
                        "made_at": checkpoint.made_at,
                        "tree_size": checkpoint.tree_size,
                        "root": bytes(checkpoint.root).hex(),
                        "key_id": bytes(checkpoint.key_id).hex(),
                        "signature": bytes(checkpoint.signature).hex(),
                        "leaves": leaves,
                    }
                )
            )
            written += 1
    return written


def _line(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n"
