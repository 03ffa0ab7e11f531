"""A request's content hash is stored with its answer and compared with every retry, so its
bytes must stay the same across releases: a retry sent across an upgrade is the same request."""

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain import commands
from ledger.domain.commands import EarnPoints
from ledger.requests import _CONTENT_ENCODER, Request, content_json


def _is_command_type(value: Any) -> bool:
    return (
        isinstance(value, type)
        and issubclass(value, commands.Command)
        and value is not commands.Command
    )


def test_the_content_hash_of_a_request_is_pinned() -> None:
    request = Request("shop", "member-1", EarnPoints(25, "birthday"), "req-1", actor="pos")

    # sha256 of {"command":"EarnPoints","destination_stream_id":null,"fields":{"points":25,
    # "reason":"birthday"},"program_id":"shop","stream_id":"member-1"}, as one line
    assert request.content_hash().hex() == (
        "06b5cc3faffef693acd514f85c2a9006445f4a2952f7cb7fbf67f95de3ba06fa"
    )


def test_who_sent_a_request_and_under_which_trace_is_not_part_of_it() -> None:
    first = Request("shop", "member-1", EarnPoints(25, "birthday"), "req-1", actor="pos")
    retry = Request(
        "shop", "member-1", EarnPoints(25, "birthday"), "req-1", actor="web", trace_id="ab"
    )
    other = Request("shop", "member-1", EarnPoints(26, "birthday"), "req-1", actor="pos")

    assert first.content_hash() == retry.content_hash()
    assert first.content_hash() != other.content_hash()


# Every command type, with whatever values its fields' types admit (hypothesis reads the
# dataclasses' annotations): unicode, controls, DEL, huge integers, nested settings, enums.
COMMAND_TYPES = sorted(
    (kind for kind in vars(commands).values() if _is_command_type(kind)),
    key=lambda kind: kind.__name__,
)


@pytest.mark.parametrize("kind", COMMAND_TYPES, ids=lambda kind: kind.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_the_fast_encoding_writes_the_standard_librarys_bytes(
    kind: type[commands.Command], data: st.DataObject
) -> None:
    command = data.draw(st.from_type(kind))
    document = {
        "command": kind.__name__,
        "fields": command,
        "program_id": data.draw(st.text()),
        "stream_id": data.draw(st.text()),
        "destination_stream_id": data.draw(st.none() | st.text()),
    }

    assert content_json(document) == _CONTENT_ENCODER.encode(document).encode("utf-8")
