#!/usr/bin/env python3
"""Verifies an export of the loyalty ledger (`loyalty-ledger export`) with Python's standard
library alone: nothing of the ledger's code is needed, or imported. docs/VERIFY.md says what
it checks and why that suffices.

    python3 -I verify_export.py EXPORT_DIR [--public-key HEX ...]

--public-key: a key the operator published (64 hex digits), repeated for each key that signed
(a key rotated out keeps verifying the checkpoints it signed); each checkpoint names its key
by id. Without it the keys written in the export are used, which proves only that the holders
of those keys signed.

Exit status 0: everything verifies; 1: something does not (each problem on stderr); 2: the
folder is not an export this script reads.
"""

import argparse
import hashlib
import json
import sys
from pathlib import Path

FORMAT = "loyalty-ledger export v1"
HASH_BYTES = 32
KEY_BYTES = 32
SIGNATURE_BYTES = 64
GENESIS = bytes(HASH_BYTES)
MAX_PRINTED = 50

# --- Ed25519 verification: RFC 8032 section 6 (reference code), slow and plain -------------

P = 2**255 - 19
Q = 2**252 + 27742317777372353535851937790883648493


def _inverse(x):
    return pow(x, P - 2, P)


D = -121665 * _inverse(121666) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _add(a, b):
    e1 = (a[1] - a[0]) * (b[1] - b[0]) % P
    e2 = (a[1] + a[0]) * (b[1] + b[0]) % P
    c = 2 * a[3] * b[3] * D % P
    d = 2 * a[2] * b[2] % P
    e, f, g, h = e2 - e1, d - c, d + c, e2 + e1
    return (e * f, g * h, f * g, e * h)


def _multiply(s, point):
    result = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            result = _add(result, point)
        point = _add(point, point)
        s >>= 1
    return result


def _equal(a, b):
    return (a[0] * b[2] - b[0] * a[2]) % P == 0 and (a[1] * b[2] - b[1] * a[2]) % P == 0


def _recover_x(y, sign):
    if y >= P:
        return None
    x2 = (y * y - 1) * _inverse(D * y * y + 1) % P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    if (x & 1) != sign:
        x = P - x
    return x


def _decompress(data):
    if len(data) != KEY_BYTES:
        return None
    y = int.from_bytes(data, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % P)


_GY = 4 * _inverse(5) % P
_GX = _recover_x(_GY, 0)
BASE = (_GX, _GY, 1, _GX * _GY % P)


def ed25519_verifies(public, message, signature):
    """RFC 8032 5.1.7: whether `signature` (64 bytes) of `message` verifies with `public`."""
    if len(public) != KEY_BYTES or len(signature) != SIGNATURE_BYTES:
        return False
    a = _decompress(public)
    r = _decompress(signature[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= Q:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % Q
    return _equal(_multiply(s, BASE), _add(r, _multiply(h, a)))


# --- the Merkle tree of the heads: RFC 6962 / 9162 section 2.1 -------------------------------


def leaf_hash(program_id, stream_id, version, head_hash):
    program, stream = program_id.encode("utf-8"), stream_id.encode("utf-8")
    encoded = (
        len(program).to_bytes(4, "big")
        + program
        + len(stream).to_bytes(4, "big")
        + stream
        + version.to_bytes(8, "big")
        + head_hash
    )
    return hashlib.sha256(b"\x00" + encoded).digest()


def merkle_root(leaves):
    """MTH of RFC 6962: split at the largest power of two below the number of leaves."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    split = 1
    while split * 2 < len(leaves):
        split *= 2
    return hashlib.sha256(
        b"\x01" + merkle_root(leaves[:split]) + merkle_root(leaves[split:])
    ).digest()


def statement(made_at, tree_size, root):
    return (
        f"loyalty-ledger checkpoint v1\nmade_at {made_at}\ntree_size {tree_size}\n"
        f"root {root.hex()}\n"
    ).encode()


# --- the checks --------------------------------------------------------------------------------


class Problems:
    def __init__(self):
        self.count = 0

    def add(self, text):
        self.count += 1
        if self.count <= MAX_PRINTED:
            print(f"FAIL {text}", file=sys.stderr)


def _lines(path):
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            yield number, json.loads(line)


def check_checkpoints(folder, manifest, public_keys, problems):
    """Each checkpoint's root from its leaves and its signature; returns the heads to find in
    the events: {(program, stream, version): (hash, checkpoint name)}."""
    wanted = {}
    count = 0
    for number, checkpoint in _lines(folder / "checkpoints.jsonl"):
        count += 1
        name = f"checkpoint {checkpoint['checkpoint_id']} of {checkpoint['made_at']}"
        hashed = []
        for leaf in checkpoint["leaves"]:
            if "leaf_hash" in leaf:
                hashed.append(bytes.fromhex(leaf["leaf_hash"]))
                continue
            head = bytes.fromhex(leaf["hash"])
            hashed.append(leaf_hash(leaf["program_id"], leaf["stream_id"], leaf["version"], head))
            key = (leaf["program_id"], leaf["stream_id"], leaf["version"])
            wanted.setdefault(key, (head, name))
        root = bytes.fromhex(checkpoint["root"])
        if len(hashed) != checkpoint["tree_size"] or merkle_root(hashed) != root:
            problems.add(f"{name} (line {number}): its leaves do not hash to its root")
        key = public_keys.get(checkpoint["key_id"])
        if not public_keys:
            problems.add(f"{name}: no public key to verify its signature with")
        elif key is None:
            problems.add(f"{name}: signed by key {checkpoint['key_id']}, none of the keys given")
        elif not ed25519_verifies(
            key,
            statement(checkpoint["made_at"], checkpoint["tree_size"], root),
            bytes.fromhex(checkpoint["signature"]),
        ):
            problems.add(f"{name}: its signature does not verify")
    if count != manifest["checkpoints"]:
        problems.add(
            f"checkpoints.jsonl holds {count} checkpoints,"
            f" the manifest says {manifest['checkpoints']}"
        )
    return wanted, count


def check_events(folder, manifest, wanted, problems):
    """Every event's hash from its canonical text and the previous hash, versions from 1
    without gaps, and every checkpointed head found in its stream."""
    events = streams = 0
    key = None
    previous_hash, previous_version = GENESIS, 0
    seen = set()
    for number, event in _lines(folder / "events.jsonl"):
        events += 1
        where = (
            f"program {event['program_id']!r} stream {event['stream_id']!r}"
            f" version {event['version']} event {event['event_id']} (line {number})"
        )
        if (event["program_id"], event["stream_id"]) != key:
            key = (event["program_id"], event["stream_id"])
            if key in seen:
                problems.add(f"{where}: the stream's events are not together")
            seen.add(key)
            streams += 1
            previous_hash, previous_version = GENESIS, 0
        canonical = event["canonical"]
        content = json.loads(canonical)
        for name in ("program_id", "stream_id", "version", "event_id"):
            if content.get(name) != event[name]:
                problems.add(f"{where}: the canonical text holds another {name}")
        if event["version"] != previous_version + 1:
            problems.add(f"{where}: expected version {previous_version + 1}: events are missing")
        stored = bytes.fromhex(event["hash"])
        if hashlib.sha256(previous_hash + canonical.encode("utf-8")).digest() != stored:
            problems.add(f"{where}: its hash is not SHA-256(previous hash || canonical text)")
        head = wanted.pop((event["program_id"], event["stream_id"], event["version"]), None)
        if head is not None and head[0] != stored:
            problems.add(
                f"{where}: {head[1]} signed hash {head[0].hex()} here; the stream was rewritten"
            )
        previous_hash, previous_version = stored, event["version"]
    for (program_id, stream_id, version), (_, name) in sorted(wanted.items()):
        problems.add(
            f"program {program_id!r} stream {stream_id!r}: {name} holds version {version},"
            " which the export does not"
        )
    if events != manifest["events"]:
        problems.add(f"events.jsonl holds {events} events, the manifest says {manifest['events']}")
    return events, streams


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="the export's folder")
    parser.add_argument(
        "--public-key",
        action="append",
        help="a published public key, 64 hex digits; repeatable",
    )
    args = parser.parse_args(argv)
    try:
        manifest = json.loads((args.folder / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError) as error:
        print(f"not an export: {error}", file=sys.stderr)
        return 2
    if manifest.get("format") != FORMAT:
        print(
            f"not an export this script reads: format {manifest.get('format')!r}", file=sys.stderr
        )
        return 2
    problems = Problems()
    given = args.public_key or [entry["key"] for entry in manifest.get("public_keys", [])]
    public_keys = {}
    for text in given:
        try:
            key = bytes.fromhex(text)
        except ValueError:
            key = b""
        if len(key) != KEY_BYTES:
            print(f"not a public key: {text!r} (64 hex digits)", file=sys.stderr)
            return 2
        public_keys[hashlib.sha256(key).hexdigest()] = key
    wanted, checkpoints = check_checkpoints(args.folder, manifest, public_keys, problems)
    events, streams = check_events(args.folder, manifest, wanted, problems)
    if problems.count:
        print(f"{problems.count} problem(s) found", file=sys.stderr)
        return 1
    print(f"OK: {events} events in {streams} streams, {checkpoints} checkpoints verified")
    return 0


if __name__ == "__main__":
    sys.exit(main())
