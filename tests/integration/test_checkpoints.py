"""Signed checkpoints: one per interval whatever the number of sweeping processes, every stream
head under a signed Merkle root, and the audit holding the log to them: a stream a superuser
rewrote with every hash recomputed fails against an earlier checkpoint, named; a forged or
foreign signature is reported as such; streams that grew since still verify. Tampering happens
in this module's own database only."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.audit.checkpoints import make_checkpoint, verify_checkpoints
from ledger.audit.merkle import Head, leaf_hash, tree_root
from ledger.audit.replay import replay
from ledger.audit.signing import Signer, generate_key_pair, load_public_keys, load_signer
from ledger.domain.commands import EarnPoints, RedeemPoints
from ledger.domain.decisions import Target
from ledger.requests import Request
from tests.conftest import T0, FakeClock, request_id
from tests.integration.ledgers import member_key, new_member, new_program, running_ledger
from tests.integration.log_v1 import fresh_database
from tests.integration.tampering import behind_the_triggers, event_ids, rewrite_earning

ROOT = Path(__file__).resolve().parents[2]
DAY = 86_400
APP_ROLE = "loyalty_ledger_app"
Found = tuple[str, int, str, str]
"""stream, version, event id, kind"""


@pytest.fixture
def database_url(server_url: str) -> Iterator[str]:
    """Each test's own: the tests below rewrite the log and its checkpoints behind the
    triggers' back, and a checkpoint covers every program of a database."""
    with fresh_database(server_url, "loyalty_checkpoints") as url:
        yield url


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer(Ed25519PrivateKey.generate())


MEMBER_IDS: dict[str, str] = {}
"""Member id by stream id (key), for the tests that write more."""


@pytest.fixture
async def history(database_url: str, clock: FakeClock) -> tuple[str, list[str]]:
    """A program whose two members each enrolled (version 1), earned 100 (2), earned 50 (3)
    and redeemed 30 (4); returns the program and the members' stream ids."""
    async with running_ledger(database_url, clock) as ledger:
        program_id = await new_program(ledger)
        members = [await new_member(ledger, program_id, points=100) for _ in range(2)]
        for member_id in members:
            for command in (EarnPoints(50, "bonus"), RedeemPoints(30)):
                await ledger.execute(Request(Target(program_id, member_id), command, request_id()))
    keys = [member_key(database_url, program_id, member) for member in members]
    MEMBER_IDS.update(zip(keys, members, strict=True))
    return program_id, keys


_moment = iter(range(1, 1_000_000))


def _checkpoint(database_url: str, signer: Signer) -> int:
    """A checkpoint of an interval no test used before (one per interval: one a day here)."""
    made = make_checkpoint(database_url, signer, T0 + timedelta(days=next(_moment)), DAY)
    assert made is not None
    return made


def _found(database_url: str, program_id: str, signer: Signer | None) -> list[Found]:
    """What the audit finds, as `loyalty-ledger audit` runs it: the replay, then the
    checkpoints."""
    audit = replay(database_url, program_id)
    checked = verify_checkpoints(
        database_url, program_id, [signer.public_key] if signer is not None else []
    )
    return [
        (found.stream_id, found.version, found.event_id, found.kind)
        for found in (*checked.found, *audit.discrepancies)
    ]


def _heads(database_url: str) -> list[Head]:
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT DISTINCT ON (program_id, stream_id) program_id, stream_id, version, hash"
            " FROM ledger.events ORDER BY program_id, stream_id, version DESC"
        ).fetchall()
    return [Head(*row) for row in rows]


async def test_a_checkpoint_signs_the_root_over_every_streams_head(
    database_url: str, history: tuple[str, list[str]], signer: Signer
) -> None:
    program_id, _ = history
    checkpoint_id = _checkpoint(database_url, signer)

    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            "SELECT tree_size, root, key_id FROM ledger.checkpoints WHERE checkpoint_id = %s",
            [checkpoint_id],
        ).fetchone()
    assert row is not None
    # The root recomputed here from the events alone, in (program, stream) order.
    assert (row[0], row[1]) == tree_root(leaf_hash(head) for head in _heads(database_url))
    assert row[2] == signer.public_key.key_id
    checked = verify_checkpoints(database_url, program_id, [signer.public_key])
    assert checked.found == []
    assert checked.signatures_checked


async def test_one_checkpoint_per_interval_however_many_processes_sweep(
    database_url: str, history: tuple[str, list[str]], signer: Signer
) -> None:
    day = next(_moment)
    next(_moment)  # the day after, taken below
    moment = T0 + timedelta(days=day, hours=3)

    with ThreadPoolExecutor(6) as pool:
        # Half as the service's own role, which may only read and append.
        made = list(
            pool.map(
                lambda index: make_checkpoint(
                    database_url, signer, moment, DAY, role=APP_ROLE if index % 2 else None
                ),
                range(6),
            )
        )
    later = make_checkpoint(database_url, signer, moment + timedelta(hours=2), DAY)
    next_day = make_checkpoint(database_url, signer, moment + timedelta(days=1), DAY)

    assert len([one for one in made if one is not None]) == 1
    assert later is None
    assert next_day is not None


async def test_streams_that_grew_after_a_checkpoint_still_verify(
    database_url: str, history: tuple[str, list[str]], signer: Signer, clock: FakeClock
) -> None:
    program_id, (member, _) = history
    _checkpoint(database_url, signer)
    async with running_ledger(database_url, clock) as ledger:
        # One stream moves on past its checkpointed head, and a new one starts.
        for command in (EarnPoints(5, "bonus"), RedeemPoints(7)):
            await ledger.execute(
                Request(Target(program_id, MEMBER_IDS[member]), command, request_id())
            )
        await new_member(ledger, program_id, points=10)

    assert max(event_ids(database_url, program_id, member)) == 6
    assert _found(database_url, program_id, signer) == []


async def test_a_stream_rewritten_with_every_hash_recomputed_fails_against_its_checkpoint(
    database_url: str, history: tuple[str, list[str]], signer: Signer
) -> None:
    program_id, (first, second) = history
    _checkpoint(database_url, signer)
    ids = event_ids(database_url, program_id, second)
    with behind_the_triggers(database_url) as connection:
        rewrite_earning(connection, program_id, second, 3, extra_points=5_000)

    # Without checkpoints the rewrite is invisible: chain, balances and state row agree.
    assert replay(database_url, program_id).ok
    # The checkpoint's head of that stream (version 4) names it.
    assert _found(database_url, program_id, signer) == [(second, 4, ids[4], "checkpoint_mismatch")]
    assert first != second


async def test_a_rewrite_the_forger_also_wrote_into_the_checkpoint_fails_its_signed_root(
    database_url: str, history: tuple[str, list[str]], signer: Signer
) -> None:
    program_id, (member, _) = history
    checkpoint_id = _checkpoint(database_url, signer)
    with behind_the_triggers(database_url) as connection:
        rewrite_earning(connection, program_id, member, 3, extra_points=700)
        connection.execute(
            "UPDATE ledger.checkpoint_leaves AS leaf SET hash = event.hash"
            " FROM ledger.events AS event WHERE leaf.checkpoint_id = %s"
            " AND event.program_id = leaf.program_id AND event.stream_id = leaf.stream_id"
            " AND event.version = leaf.version AND leaf.stream_id = %s",
            [checkpoint_id, member],
        )

    found = _found(database_url, program_id, signer)

    assert ("", 0, "", "checkpoint_root") in found


async def test_a_checkpoint_whose_signature_fails_is_reported_as_such(
    database_url: str, history: tuple[str, list[str]], signer: Signer
) -> None:
    program_id, _ = history
    checkpoint_id = _checkpoint(database_url, signer)
    assert _found(database_url, program_id, signer) == []
    with behind_the_triggers(database_url) as connection:
        connection.execute(
            "UPDATE ledger.checkpoints SET signature = set_byte(signature, 0,"
            " get_byte(signature, 0) # 1) WHERE checkpoint_id = %s",
            [checkpoint_id],
        )

    checked = verify_checkpoints(database_url, program_id, [signer.public_key])

    assert [found.kind for found in checked.found] == ["checkpoint_signature"]
    assert checked.found[0].detail.startswith(
        f"checkpoint {checkpoint_id} of {checked.latest}: its signature does not verify"
    )


async def test_checkpoints_signed_by_another_key_fail_verification(
    database_url: str, history: tuple[str, list[str]], signer: Signer
) -> None:
    program_id, _ = history
    _checkpoint(database_url, signer)
    other = Signer(Ed25519PrivateKey.generate())

    checked = verify_checkpoints(database_url, program_id, [other.public_key])

    assert checked.checkpoints >= 1
    assert {found.kind for found in checked.found} == {"checkpoint_signature"}
    assert len(checked.found) == checked.checkpoints


async def test_an_inserted_event_is_found_at_its_event(
    database_url: str, history: tuple[str, list[str]]
) -> None:
    program_id, (member, _) = history
    with behind_the_triggers(database_url) as connection:
        # Versions 3 and 4 move up one, and a copy of the earning goes in at 3 as a new event.
        for version in (4, 3):
            connection.execute(
                "UPDATE ledger.events SET version = version + 1"
                " WHERE program_id = %s AND stream_id = %s AND version = %s",
                [program_id, member, version],
            )
        row = connection.execute(
            "INSERT INTO ledger.events (program_id, stream_id, version, event_id, event_type,"
            " schema_version, data, metadata, recorded_at, points_available, points_pending,"
            " points_held, points_lifetime_earned, points_lifetime_redeemed, points_expired,"
            " hash)"
            " SELECT program_id, stream_id, 3, gen_random_uuid(), event_type, schema_version,"
            " data, metadata, recorded_at, points_available, points_pending, points_held,"
            " points_lifetime_earned, points_lifetime_redeemed, points_expired, hash"
            " FROM ledger.events WHERE program_id = %s AND stream_id = %s AND version = 2"
            " RETURNING event_id::text",
            [program_id, member],
        ).fetchone()
    assert row is not None

    assert _found(database_url, program_id, None) == [
        (member, 3, row[0], "hash_mismatch"),
        (member, 5, "", "state_mismatch"),
    ]


def _cli(*args: str, **environ: str) -> "subprocess.CompletedProcess[str]":
    # Our own command with arguments the tests spell out.
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "service.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **environ},
        cwd=ROOT,
        timeout=120,
        check=False,
    )


async def test_the_audit_command_names_the_stream_a_forger_rewrote(
    database_url: str, history: tuple[str, list[str]], tmp_path: Path
) -> None:
    program_id, (member, _) = history
    private, public = tmp_path / "checkpoint.key", tmp_path / "checkpoint.pub"
    generate_key_pair(private, public)
    made = _cli("checkpoint", DATABASE_URL=database_url, LEDGER_CHECKPOINT_KEY_FILE=str(private))
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["made"] is True
    ids = event_ids(database_url, program_id, member)
    with behind_the_triggers(database_url) as connection:
        rewrite_earning(connection, program_id, member, 2, extra_points=1_000)

    audit = _cli(
        "audit",
        "--program",
        program_id,
        "--workers",
        "1",
        "--public-key",
        str(public),
        DATABASE_URL=database_url,
    )
    # The checkpoint was made now, by the real clock: none was made from tomorrow on.
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    later = _cli(
        "audit",
        "--program",
        program_id,
        "--workers",
        "1",
        "--public-key",
        str(public),
        "--checkpoints-since",
        tomorrow,
        DATABASE_URL=database_url,
    )

    assert audit.returncode == 1, audit.stderr
    report = json.loads(audit.stdout)
    assert report["ok"] is False
    assert [
        (found["stream_id"], found["version"], found["event_id"], found["kind"])
        for found in report["discrepancies"]
    ] == [(member, 4, ids[4], "checkpoint_mismatch")]
    assert report["checkpoints"]["signatures_checked"] is True
    # Without the checkpoint, the rewrite is invisible.
    assert later.returncode == 0, later.stdout
    assert json.loads(later.stdout)["checkpoints"]["checked"] == 0


def test_a_missing_or_unreadable_key_file_is_one_clear_error(
    database_url: str, tmp_path: Path
) -> None:
    garbage = tmp_path / "garbage.key"
    garbage.write_text("not a key\n")
    for path, says in (
        (tmp_path / "missing.key", "cannot be read"),
        (tmp_path, "cannot be read"),
        (garbage, "not a PEM private key"),
    ):
        made = _cli("checkpoint", DATABASE_URL=database_url, LEDGER_CHECKPOINT_KEY_FILE=str(path))

        assert made.returncode == 2
        assert made.stdout == ""
        problems = made.stderr.splitlines()[1:]
        assert len(problems) == 1, made.stderr
        assert problems[0].strip().startswith(f"LEDGER_CHECKPOINT_KEY_FILE: {path}: ")
        assert says in problems[0]
        assert "Traceback" not in made.stderr


def test_without_a_key_the_checkpoint_command_says_so(database_url: str) -> None:
    made = _cli("checkpoint", DATABASE_URL=database_url, LEDGER_CHECKPOINT_KEY_FILE="")

    assert made.returncode == 2
    assert "LEDGER_CHECKPOINT_KEY_FILE: not set" in made.stderr


def test_key_generation_never_overwrites_a_key(tmp_path: Path) -> None:
    private, public = tmp_path / "a.key", tmp_path / "a.pub"
    first = _cli("checkpoint-keygen", "--private", str(private), "--public", str(public))
    assert first.returncode == 0, first.stderr
    before = private.read_bytes()

    again = _cli("checkpoint-keygen", "--private", str(private), "--public", str(public))

    assert again.returncode == 1
    assert "exists already" in again.stderr
    assert private.read_bytes() == before
    assert private.stat().st_mode & 0o077 == 0
    assert json.loads(first.stdout)["public_key"] == load_signer(private).public_key.raw.hex()


CHANGES = (
    "UPDATE ledger.checkpoints SET tree_size = tree_size + 1",
    "DELETE FROM ledger.checkpoints",
    "TRUNCATE ledger.checkpoints",
    "UPDATE ledger.checkpoint_leaves SET version = version + 1",
    "DELETE FROM ledger.checkpoint_leaves",
    "TRUNCATE ledger.checkpoint_leaves",
)


async def test_checkpoints_are_append_only_like_the_log(
    database_url: str, history: tuple[str, list[str]], signer: Signer
) -> None:
    _checkpoint(database_url, signer)
    for change in CHANGES:
        with psycopg.connect(database_url) as connection, pytest.raises(psycopg.Error) as raised:
            # A literal of this module: no parameter, only which statement runs varies.
            connection.execute(change.encode())

        assert raised.value.sqlstate == "LG001", change


async def test_checkpoints_signed_before_a_key_rotation_verify_with_both_keys_given(
    database_url: str, history: tuple[str, list[str]], tmp_path: Path
) -> None:
    program_id, _ = history
    old_pub, new_pub = tmp_path / "old.pub", tmp_path / "new.pub"
    generate_key_pair(tmp_path / "old.key", old_pub)
    generate_key_pair(tmp_path / "new.key", new_pub)
    _checkpoint(database_url, load_signer(tmp_path / "old.key"))
    _checkpoint(database_url, load_signer(tmp_path / "new.key"))
    both = tmp_path / "keys.pub"
    # One file holding every key that signed, as LEDGER_CHECKPOINT_PUBLIC_KEY_FILE may.
    both.write_bytes(old_pub.read_bytes() + new_pub.read_bytes())

    with_both = verify_checkpoints(database_url, program_id, load_public_keys(both))
    with_the_new_one = verify_checkpoints(database_url, program_id, load_public_keys(new_pub))

    assert (with_both.checkpoints, with_both.found) == (2, [])
    old_id = load_public_keys(old_pub)[0].key_id.hex()
    assert [(found.kind, old_id in found.detail) for found in with_the_new_one.found] == [
        ("checkpoint_signature", True)
    ]
