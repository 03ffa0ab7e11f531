"""A request's content hash is stored with its answer and compared with every retry, so its
bytes must stay the same across releases: a retry sent across an upgrade is the same request."""

from ledger.domain.commands import EarnPoints
from ledger.requests import Request


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
