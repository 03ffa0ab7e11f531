"""A request's content hash is stored with its answer and compared with every retry, so its
bytes must stay the same across releases: a retry sent across an upgrade is the same request."""

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.codec.requests import CONTENT_ENCODER, content_document, content_hash, content_json
from ledger.domain import commands
from ledger.domain.commands import CreateProgram, EarnPoints, TransferPoints
from ledger.domain.decisions import Target
from ledger.domain.frozen import replace
from ledger.domain.settings import EarnRate, NegativeBalancePolicy, ProgramSettings


def _is_command_type(value: Any) -> bool:
    return (
        isinstance(value, type)
        and issubclass(value, commands.Command)
        and value is not commands.Command
    )


MEMBER = Target("shop", "member-1")


def test_the_content_hash_of_a_request_is_pinned() -> None:
    # sha256 of {"command":"EarnPoints","destination_stream_id":null,"fields":{"points":25,
    # "reason":"birthday"},"program_id":"shop","stream_id":"member-1"}, as one line
    assert content_hash(MEMBER, EarnPoints(25, "birthday")).hex() == (
        "06b5cc3faffef693acd514f85c2a9006445f4a2952f7cb7fbf67f95de3ba06fa"
    )


def test_the_content_documents_of_a_transfer_and_of_a_program_are_pinned() -> None:
    transfer = content_json(
        {
            "command": "TransferPoints",
            "fields": TransferPoints("member-2", 5, "t-1"),
            "program_id": "shop",
            "stream_id": "member-1",
            "destination_stream_id": "member-2",
        }
    )
    assert transfer == (
        b'{"command":"TransferPoints","destination_stream_id":"member-2","fields":'
        b'{"destination_member_id":"member-2","points":5,"transfer_id":"t-1"},'
        b'"program_id":"shop","stream_id":"member-1"}'
    )
    settings = ProgramSettings("Shop", (EarnRate("USD", 1),), 14, 365)
    created = content_json(
        {
            "command": "CreateProgram",
            "fields": CreateProgram("shop", settings),
            "program_id": "shop",
            "stream_id": "$program",
            "destination_stream_id": None,
        }
    )
    assert created == (
        b'{"command":"CreateProgram","destination_stream_id":null,"fields":{"program_id":'
        b'"shop","settings":{"display_name":"Shop","earn_rates":[{"currency_code":"USD",'
        b'"per_major_units":1,"points":1}],"max_hold_ttl_seconds":900,'
        b'"negative_balance_policy":"within_balance","points_expiry_days":365,'
        b'"return_window_days":14}},"program_id":"shop","stream_id":"$program"}'
    )
    assert NegativeBalancePolicy.WITHIN_BALANCE.value == "within_balance"


def test_a_request_hashes_the_document_of_its_target() -> None:
    import hashlib

    transfer = TransferPoints("member-2", 5, "t-1")
    assert (
        content_hash(MEMBER, transfer)
        == hashlib.sha256(content_json(content_document(MEMBER, transfer))).digest()
    )
    assert content_document(MEMBER, transfer)["destination_stream_id"] == "member-2"
    program = CreateProgram("shop", ProgramSettings())
    assert content_document(Target("shop"), program)["stream_id"] == "$program"


def test_what_a_request_asks_decides_its_hash() -> None:
    first = content_hash(MEMBER, EarnPoints(25, "birthday"))
    retry = content_hash(MEMBER, EarnPoints(25, "birthday"))
    other = content_hash(MEMBER, EarnPoints(26, "birthday"))
    elsewhere = content_hash(Target("shop", "member-2"), EarnPoints(25, "birthday"))

    assert first == retry
    assert len({first, other, elsewhere}) == 3


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

    assert content_json(document) == CONTENT_ENCODER.encode(document).encode("utf-8")


@pytest.mark.parametrize(
    "reason",
    ["\x00", "tab\there", "\x1f", "\x7f", "caf\u00e9", "back\\slash", 'a "quote"', "\u2028"],
)
def test_text_the_fast_encoding_would_write_otherwise_gets_the_standard_librarys_bytes(
    reason: str,
) -> None:
    document = content_document(MEMBER, EarnPoints(1, reason))

    assert content_json(document) == CONTENT_ENCODER.encode(document).encode("utf-8")


def test_a_setting_added_later_changes_the_content_only_when_it_is_set() -> None:
    settings = ProgramSettings("Shop", (EarnRate("USD", 1),), 14, 365)
    target = Target("shop")

    in_utc = content_hash(target, CreateProgram("shop", settings))
    in_tokyo = content_hash(
        target, CreateProgram("shop", replace(settings, time_zone="Asia/Tokyo"))
    )

    assert in_utc == content_hash(target, CreateProgram("shop", replace(settings, time_zone="UTC")))
    assert in_tokyo != in_utc
