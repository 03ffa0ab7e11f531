"""A request's content hash: what makes two requests with one id "the same".

It is stored with the request's answer and compared with every retry, so its bytes must
never change: a retry sent across an upgrade is the same request (tests/unit/
test_request_hash.py pins them, and tests/fixtures/log_v1 holds hashes stored by an older
release for every command type). The document hashed is

    {"command": <command class name>, "destination_stream_id": <transfer destination or null>,
     "fields": <the command's fields>, "program_id": ..., "stream_id": <the target stream>}

as json.dumps(sort_keys=True, separators=(",", ":")) writes it, nested dataclasses as their
fields and enums as their values. Fields added after the first release are left out while
they hold their defaults (ledger/domain/compat.py). Who sent it and under which trace are
not part of it.
"""

import dataclasses
import enum
import hashlib
import json
from functools import cache
from typing import Any

import orjson

from ledger.domain.commands import Command, Enroll, TransferPoints
from ledger.domain.compat import ADDED_LATER
from ledger.domain.decisions import Target


@cache
def _added_later(cls: type) -> tuple[tuple[str, Any], ...]:
    """(name, default) of the fields of `cls` added after the first release."""
    return tuple(
        (item.name, item.default)
        for item in dataclasses.fields(cls)
        if item.metadata.get(ADDED_LATER)
    )


def _plain(value: Any) -> Any:
    # Shallow on purpose (json recurses itself): dataclasses.asdict deep-copies everything.
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = vars(value)
        later = _added_later(type(value))
        if later:
            # At their defaults they are left out, so the content hashes as it did before.
            left_out = {name for name, default in later if fields[name] == default}
            if left_out:
                return {name: item for name, item in fields.items() if name not in left_out}
        return fields
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(type(value).__name__)


# What json.dumps(sort_keys=True, separators=(",", ":"), default=_plain) would build on every
# call.
CONTENT_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=_plain)
# orjson writes the very same bytes for documents of printable ASCII without escapes (the
# usual request: ids are ASCII by rule), about ten times faster. Anything else (non-ASCII or
# DEL, which the standard library escapes as \uXXXX, escapes, integers beyond 64 bits, a
# value orjson would write its own way) goes to the standard library. orjson escapes every
# control character with a backslash, so its output is printable ASCII without escapes when
# it is ASCII and holds neither a backslash nor DEL: three scans in C (a regular expression
# over a purchase's lines cost more than orjson's encoding).
_FAST_OPTIONS = (
    orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
)


def content_json(document: Any) -> bytes:
    """`document` as CONTENT_ENCODER writes it, UTF-8 encoded."""
    try:
        encoded = orjson.dumps(document, default=_plain, option=_FAST_OPTIONS)
    except orjson.JSONEncodeError:
        encoded = None
    if encoded is None or not _plain_ascii(encoded):
        return CONTENT_ENCODER.encode(document).encode("utf-8")
    return encoded


def _plain_ascii(encoded: bytes) -> bool:
    return encoded.isascii() and b"\\" not in encoded and b"\x7f" not in encoded


def content_document(target: Target, command: Command) -> dict[str, Any]:
    if isinstance(command, Enroll) and (command.referrer_key or command.self_referral):
        # What the ledger looked the code up to is not what was asked: a retry after the
        # referrer was forgotten is still the same request (and gets its first answer).
        command = dataclasses.replace(command, referrer_key="", self_referral=False)
    return {
        "command": type(command).__name__,
        "fields": command,
        "program_id": target.program_id,
        "stream_id": target.stream[1],
        "destination_stream_id": command.destination_member_id
        if isinstance(command, TransferPoints)
        else None,
    }


def content_hash(target: Target, command: Command) -> bytes:
    return hashlib.sha256(content_json(content_document(target, command))).digest()
