"""`loyalty-ledger export` and its outside verification: tools/verify_export.py, run as an
auditor would, with `python -I` from a folder of its own, so that nothing of this project can
be imported. It accepts a clean export and rejects a changed amount, a stream rewritten against
its checkpoint, a broken signature and a checkpoint checked against another key. The export
holds no member id."""

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.audit.checkpoints import make_checkpoint
from ledger.audit.signing import Signer, generate_key_pair
from ledger.domain.commands import EarnPoints, RedeemPoints
from ledger.domain.decisions import Target
from ledger.requests import Request
from tests.conftest import T0, FakeClock, request_id
from tests.integration.ledgers import member_key, new_member, new_program, running_ledger
from tests.integration.log_v1 import fresh_database
from tests.integration.tampering import behind_the_triggers, event_ids, rewrite_earning

ROOT = Path(__file__).resolve().parents[2]
VERIFIER = ROOT / "tools" / "verify_export.py"
DAY = 86_400
ISOLATED = ("-I", "-S")
"""No PYTHONPATH, no user site, no current folder on the path (-I), and no site-packages
either (-S), stricter than docs/VERIFY.md asks: the standard library alone."""


@pytest.fixture
def database_url(server_url: str) -> Iterator[str]:
    """Each test's own: some rewrite the log behind the triggers' back."""
    with fresh_database(server_url, "loyalty_export") as url:
        yield url


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    private, public = tmp_path / "keys" / "checkpoint.key", tmp_path / "keys" / "checkpoint.pub"
    private.parent.mkdir()
    generate_key_pair(private, public)
    return private, public


class Log:
    def __init__(self, programs: list[str], members: dict[str, str], keys: dict[str, str]) -> None:
        self.programs = programs
        self.members = members
        """Stream id (key) by member id."""
        self.program_of = keys
        """Program by stream id."""


@pytest.fixture
async def log(database_url: str, clock: FakeClock) -> Log:
    """Two programs of two members each, who earned and redeemed."""
    programs: list[str] = []
    members: dict[str, str] = {}
    program_of: dict[str, str] = {}
    async with running_ledger(database_url, clock) as ledger:
        for _ in range(2):
            program_id = await new_program(ledger)
            programs.append(program_id)
            for _ in range(2):
                member_id = await new_member(ledger, program_id, points=100)
                for command in (EarnPoints(50, "bonus"), RedeemPoints(30, 'note "q" é \\ ')):
                    await ledger.execute(
                        Request(Target(program_id, member_id), command, request_id())
                    )
                members[member_id] = member_key(database_url, program_id, member_id)
                program_of[members[member_id]] = program_id
    return Log(programs, members, program_of)


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


def _export(
    database_url: str, folder: Path, public: Path, program_id: str | None, *more_keys: Path
) -> None:
    args = ["export", str(folder), "--public-key", str(public)]
    for key in more_keys:
        args += ["--public-key", str(key)]
    if program_id is not None:
        args += ["--program", program_id]
    exported = _cli(*args, DATABASE_URL=database_url)
    assert exported.returncode == 0, exported.stderr


def _checkpoint(database_url: str, private: Path, days: int = 1) -> None:
    from ledger.audit.signing import load_signer

    made = make_checkpoint(database_url, load_signer(private), T0 + timedelta(days=days), DAY)
    assert made is not None


def _verify(folder: Path, cwd: Path, *extra: str) -> "subprocess.CompletedProcess[str]":
    """The script as an auditor runs it: a copy of the one file, in an empty folder, with
    Python isolated and an environment holding no path of ours."""
    cwd.mkdir(exist_ok=True)
    script = cwd / "verify_export.py"
    shutil.copyfile(VERIFIER, script)
    return subprocess.run(  # noqa: S603
        [_outside_python(), *ISOLATED, str(script), str(folder), *extra],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        timeout=300,
        check=False,
    )


def _outside_python() -> str:
    """The interpreter outside the project's virtualenv: it has no package of ours."""
    python: str = getattr(sys, "_base_executable", sys.executable)
    return python


def _public_hex(folder: Path) -> str:
    keys: list[dict[str, str]] = json.loads((folder / "manifest.json").read_text())["public_keys"]
    (key,) = keys
    return key["key"]


async def test_the_outside_verification_accepts_a_clean_export_of_a_program(
    database_url: str, log: Log, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    private, public = keys
    _checkpoint(database_url, private)
    folder = tmp_path / "export"
    _export(database_url, folder, public, log.programs[0])

    verified = _verify(folder, tmp_path / "auditor", "--public-key", _public_hex(folder))

    # Where the script ran, nothing but the standard library can be imported.
    for module in ("ledger", "service", "cryptography"):
        imported = subprocess.run(  # noqa: S603, ASYNC221 (a quick check, nothing runs beside it)
            [_outside_python(), *ISOLATED, "-c", f"import {module}"],
            capture_output=True,
            cwd=tmp_path / "auditor",
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            timeout=60,
            check=False,
        )
        assert imported.returncode == 1, module
    assert verified.returncode == 0, verified.stderr
    # Two members of 4 events and the program's own stream; one checkpoint.
    assert verified.stdout.strip() == "OK: 9 events in 3 streams, 1 checkpoints verified"
    # Only this program's heads are named; the other's are leaf hashes.
    (checkpoint,) = [
        json.loads(line) for line in (folder / "checkpoints.jsonl").read_text().splitlines()
    ]
    named = [leaf for leaf in checkpoint["leaves"] if "program_id" in leaf]
    assert {leaf["program_id"] for leaf in named} == {log.programs[0]}
    assert len(checkpoint["leaves"]) == checkpoint["tree_size"] == 6


async def test_an_export_of_every_program_verifies_and_holds_no_member_id(
    database_url: str, log: Log, keys: tuple[Path, Path], tmp_path: Path, clock: FakeClock
) -> None:
    private, public = keys
    _checkpoint(database_url, private, days=1)
    async with running_ledger(database_url, clock) as ledger:
        # Streams grow past the first checkpoint; a second one follows.
        for member_id in list(log.members)[:2]:
            program_id = log.programs[0]
            await ledger.execute(
                Request(Target(program_id, member_id), EarnPoints(9, "bonus"), request_id())
            )
    # The second one signed by a new key: the key was rotated in between.
    rotated_private, rotated_public = tmp_path / "keys" / "new.key", tmp_path / "keys" / "new.pub"
    generate_key_pair(rotated_private, rotated_public)
    _checkpoint(database_url, rotated_private, days=2)
    folder = tmp_path / "export"
    _export(database_url, folder, public, None, rotated_public)
    old_key, new_key = (
        entry["key"] for entry in json.loads((folder / "manifest.json").read_text())["public_keys"]
    )

    verified = _verify(
        folder, tmp_path / "auditor", "--public-key", old_key, "--public-key", new_key
    )
    only_the_new_key = _verify(folder, tmp_path / "auditor", "--public-key", new_key)

    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.strip() == "OK: 20 events in 6 streams, 2 checkpoints verified"
    assert only_the_new_key.returncode == 1
    assert "checkpoint 1 of " in only_the_new_key.stderr
    assert "none of the keys given" in only_the_new_key.stderr
    text = "".join(path.read_text("utf-8") for path in sorted(folder.iterdir()))
    for member_id, key in log.members.items():
        assert member_id not in text
        assert key in text


async def test_a_changed_amount_in_the_export_is_rejected_naming_the_event(
    database_url: str, log: Log, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    private, public = keys
    _checkpoint(database_url, private)
    folder = tmp_path / "export"
    _export(database_url, folder, public, log.programs[0])
    lines = (folder / "events.jsonl").read_text("utf-8").splitlines()
    earned = [
        index for index, line in enumerate(lines) if '"points": 50' in json.loads(line)["canonical"]
    ]
    target = json.loads(lines[earned[0]])
    target["canonical"] = target["canonical"].replace('"points": 50', '"points": 5000')
    lines[earned[0]] = json.dumps(target)
    (folder / "events.jsonl").write_text("\n".join(lines) + "\n", "utf-8")

    verified = _verify(folder, tmp_path / "auditor", "--public-key", _public_hex(folder))

    assert verified.returncode == 1
    failures = [line for line in verified.stderr.splitlines() if line.startswith("FAIL")]
    # The changed event, and every later one of its stream, whose chain it broke.
    assert failures[0] == (
        f"FAIL program {target['program_id']!r} stream {target['stream_id']!r} version"
        f" {target['version']} event {target['event_id']} (line {earned[0] + 1}): its hash is"
        " not SHA-256(previous hash || canonical text)"
    )


async def test_a_stream_rewritten_against_its_checkpoint_is_rejected_naming_it(
    database_url: str, log: Log, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    private, public = keys
    _checkpoint(database_url, private)
    program_id = log.programs[0]
    member = next(key for key, program in log.program_of.items() if program == program_id)
    with behind_the_triggers(database_url) as connection:
        rewrite_earning(connection, program_id, member, 3, extra_points=5_000)
    folder = tmp_path / "export"
    _export(database_url, folder, public, program_id)

    verified = _verify(folder, tmp_path / "auditor", "--public-key", _public_hex(folder))

    assert verified.returncode == 1
    failures = [line for line in verified.stderr.splitlines() if line.startswith("FAIL")]
    assert len(failures) == 1, verified.stderr
    assert failures[0].startswith(
        f"FAIL program {program_id!r} stream {member!r} version 4"
        f" event {event_ids(database_url, program_id, member)[4]}"
    )
    assert "the stream was rewritten" in failures[0]


async def test_a_broken_signature_or_another_key_is_rejected(
    database_url: str, log: Log, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    private, public = keys
    _checkpoint(database_url, private)
    folder = tmp_path / "export"
    _export(database_url, folder, public, log.programs[1])
    published = _public_hex(folder)
    other = Signer(Ed25519PrivateKey.generate()).public_key.raw.hex()

    against_another_key = _verify(folder, tmp_path / "auditor", "--public-key", other)
    path = folder / "checkpoints.jsonl"
    (checkpoint,) = [json.loads(line) for line in path.read_text().splitlines()]
    signature = bytearray.fromhex(checkpoint["signature"])
    signature[5] ^= 0x10
    checkpoint["signature"] = signature.hex()
    path.write_text(json.dumps(checkpoint) + "\n", "utf-8")
    broken = _verify(folder, tmp_path / "auditor", "--public-key", published)

    assert against_another_key.returncode == 1
    assert (
        f"checkpoint {checkpoint['checkpoint_id']} of {checkpoint['made_at']}: signed by key"
        f" {checkpoint['key_id']}, none of the keys given"
    ) in against_another_key.stderr
    assert broken.returncode == 1
    name = f"checkpoint {checkpoint['checkpoint_id']} of {checkpoint['made_at']}"
    assert f"{name}: its signature does not verify" in broken.stderr


def test_an_export_of_a_program_the_log_does_not_hold_or_into_an_export_is_an_error(
    database_url: str, tmp_path: Path
) -> None:
    unknown = _cli("export", str(tmp_path / "a"), "--program", "nope", DATABASE_URL=database_url)
    first = _cli("export", str(tmp_path / "b"), DATABASE_URL=database_url)
    again = _cli("export", str(tmp_path / "b"), DATABASE_URL=database_url)

    assert unknown.returncode == 2
    assert json.loads(unknown.stderr)["reason"] == "PROGRAM_NOT_FOUND"
    assert first.returncode == 0, first.stderr
    assert again.returncode == 1
    assert "exists already" in again.stderr
