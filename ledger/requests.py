"""A command addressed to a stream, with who asked and the idempotency key."""

import dataclasses
import enum
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

import orjson

from ledger.domain.commands import EXTERNAL_ID_PATTERN, Command
from ledger.domain.errors import InvalidArgument
from ledger.store.records import PROGRAM_STREAM

MAX_REQUEST_ID_LENGTH = 128

StreamKey = tuple[str, str]
RequestKey = tuple[str, str, str]


def _plain(value: Any) -> Any:
    # Shallow on purpose (json recurses itself): dataclasses.asdict deep-copies everything.
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return vars(value)
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(type(value).__name__)


# What json.dumps(sort_keys=True, separators=(",", ":"), default=_plain) would build on every
# call. The bytes must never change: stored request hashes are compared with retries.
_CONTENT_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=_plain)
# orjson writes the very same bytes for documents of printable ASCII without escapes (the
# usual request: ids are ASCII by rule), about ten times faster. Anything else (non-ASCII or
# DEL, which the standard library escapes as \uXXXX, escapes, integers beyond 64 bits, a
# value orjson would write its own way) goes to the standard library.
_FAST_OPTIONS = (
    orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
)
_NOT_PLAIN_ASCII = re.compile(rb"[^\x20-\x7e]|\\")


def content_json(document: Any) -> bytes:
    """`document` as _CONTENT_ENCODER writes it, UTF-8 encoded."""
    try:
        encoded = orjson.dumps(document, default=_plain, option=_FAST_OPTIONS)
    except orjson.JSONEncodeError:
        encoded = None
    if encoded is None or _NOT_PLAIN_ASCII.search(encoded):
        return _CONTENT_ENCODER.encode(document).encode("utf-8")
    return encoded


@dataclass(frozen=True)
class Request:
    program_id: str
    stream_id: str
    command: Command
    request_id: str | None
    """None only for the ledger's own housekeeping (the sweep), which is idempotent by itself."""
    actor: str = ""
    trace_id: str = ""
    destination_stream_id: str | None = None

    def __post_init__(self) -> None:
        # Like every caller-chosen id: printable ASCII, no spaces or control characters
        # (PostgreSQL cannot even store a NUL). Checked first, as nearly every id passes; the
        # checks below only choose the message for one that does not.
        if self.request_id is None or EXTERNAL_ID_PATTERN.fullmatch(self.request_id):
            return
        if not self.request_id:
            raise InvalidArgument.of("request_id", "is required")
        if len(self.request_id) > MAX_REQUEST_ID_LENGTH:
            raise InvalidArgument.of("request_id", f"at most {MAX_REQUEST_ID_LENGTH} characters")
        if not self.request_id.isprintable():
            raise InvalidArgument.of("request_id", "must be printable (no control characters)")
        raise InvalidArgument.of("request_id", f"must match {EXTERNAL_ID_PATTERN.pattern}")

    def check_stream_ids(self) -> None:
        """A value the database cannot store (a NUL) must fail its own request, not the batch
        it would join. Checked after the command's own validation, which names its fields."""
        for field_name, value in (
            (self.command.account_field, self.program_id),
            (self.command.account_field, self.stream_id),
            ("destination_account", self.destination_stream_id or "-"),
        ):
            if not value.isprintable():
                raise InvalidArgument.of(field_name, "must not hold control characters")

    @property
    def key(self) -> RequestKey:
        assert self.request_id is not None
        return (self.program_id, self.stream_id, self.request_id)

    @property
    def streams(self) -> list[StreamKey]:
        keys = [(self.program_id, PROGRAM_STREAM)]
        if self.stream_id != PROGRAM_STREAM:
            keys.append((self.program_id, self.stream_id))
        if self.destination_stream_id is not None:
            keys.append((self.program_id, self.destination_stream_id))
        return keys

    def content_hash(self) -> bytes:
        """What makes two requests with one id "the same": the command and where it goes,
        not who sent it or under which trace."""
        document = {
            "command": type(self.command).__name__,
            "fields": self.command,
            "program_id": self.program_id,
            "stream_id": self.stream_id,
            "destination_stream_id": self.destination_stream_id,
        }
        return hashlib.sha256(content_json(document)).digest()
