"""The `loyalty-ledger` commands of signed checkpoints: checkpoint-keygen, checkpoint and
export (README "Signed checkpoints")."""

import argparse
import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from ledger import bootstrap
from ledger.audit.checkpoints import period_start
from ledger.audit.export import export
from ledger.audit.signing import KeyProblem, generate_key_pair
from ledger.domain.errors import NotFound
from service.checkpointing import Checkpointer, checkpoint_signer, public_keys_given
from service.config import BadSettings, Settings


def _keygen(args: argparse.Namespace) -> int:
    try:
        public_key = generate_key_pair(Path(args.private), Path(args.public))
    except KeyProblem as error:
        print(f"loyalty-ledger: {error}", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {
                "private_key_file": args.private,
                "public_key_file": args.public,
                "public_key": public_key.raw.hex(),
                "key_id": public_key.key_id.hex(),
            },
            indent=2,
        )
    )
    return 0


def _checkpoint(_args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    signer = checkpoint_signer(settings)
    if signer is None:
        raise BadSettings(["LEDGER_CHECKPOINT_KEY_FILE: not set: no key to sign checkpoints with"])
    now = datetime.now(UTC)
    made = Checkpointer(bootstrap.database_url(), signer, settings, lambda: now).make_due()
    print(
        json.dumps(
            {
                "checkpoint_id": made,
                "period_start": period_start(now, settings.checkpoint_interval_seconds).isoformat(),
                "made": made is not None,
            }
        )
    )
    return 0


def _export(args: argparse.Namespace) -> int:
    public_keys = public_keys_given(args.public_key, Settings.from_env())
    try:
        exported = export(
            bootstrap.database_url(),
            Path(args.folder),
            program_id=args.program,
            public_keys=public_keys,
            now=datetime.now(UTC),
        )
    except NotFound as error:
        print(json.dumps({"reason": error.reason, "message": error.message}), file=sys.stderr)
        return 2
    except OSError as error:  # the folder holds an export already, or cannot be written
        print(f"loyalty-ledger: {error}", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {
                "folder": args.folder,
                "events": exported.events,
                "streams": exported.streams,
                "checkpoints": exported.checkpoints,
                "key_ids": [key.key_id.hex() for key in public_keys],
            }
        )
    )
    return 0


def utc_day(text: str) -> datetime:
    """An argument's day, YYYY-MM-DD, as its first instant in UTC."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a day (YYYY-MM-DD): {text!r}") from None
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC)


def sweep_checkpointer(settings: Settings) -> Checkpointer | None:
    """For `loyalty-ledger sweep`: what makes the current interval's checkpoint, if a key is
    set (read now, so a bad key stops the command before it sweeps)."""
    signer = checkpoint_signer(settings)
    if signer is None:
        return None
    return Checkpointer(bootstrap.database_url(), signer, settings, lambda: datetime.now(UTC))


def add_checkpoint_commands(commands: "argparse._SubParsersAction[Any]") -> None:
    keygen = commands.add_parser(
        "checkpoint-keygen",
        help="make the Ed25519 key pair that signs checkpoints (never overwrites a file)",
    )
    keygen.add_argument("--private", default="checkpoint.key", help="private key file to write")
    keygen.add_argument("--public", default="checkpoint.pub", help="public key file to write")
    keygen.set_defaults(run=_keygen)
    commands.add_parser(
        "checkpoint",
        help="make the current interval's signed checkpoint unless it exists"
        " (needs LEDGER_CHECKPOINT_KEY_FILE)",
    ).set_defaults(run=_checkpoint)
    exporting = commands.add_parser(
        "export",
        help="write the log (events, canonical texts, hashes, checkpoints) for an outside"
        " auditor; docs/VERIFY.md",
    )
    exporting.add_argument("folder", help="a new folder to write the files into")
    exporting.add_argument("--program", help="only this program's streams")
    exporting.add_argument(
        "--public-key",
        action="append",
        help="public key file (PEM, one key or several) to name in the export; repeatable"
        " (default: from the settings)",
    )
    exporting.set_defaults(run=_export)
