import uuid

from ledger.ids import random_uuid


def test_random_uuids_are_version_4_uuids_written_as_postgresql_prints_them() -> None:
    drawn = [random_uuid() for _ in range(2_000)]

    for text in drawn:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
    assert len(set(drawn)) == len(drawn)
    # Every hex digit that is random takes every value somewhere in 2,000 draws.
    random_positions = [i for i in range(36) if i not in (8, 13, 14, 18, 19, 23)]
    for position in random_positions:
        assert len({text[position] for text in drawn}) == 16, position
    assert {text[19] for text in drawn} == set("89ab")
