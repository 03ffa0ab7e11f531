"""Signed checkpoints from the service: the key from its setting, and the checkpoint of each
interval made by whichever process's sweep gets there first (README "Signed checkpoints")."""

import asyncio
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import structlog

from ledger.audit.checkpoints import make_checkpoint
from ledger.audit.signing import KeyProblem, PublicKey, Signer, load_public_keys, load_signer
from service.config import BadSettings, Settings

log = structlog.get_logger(__name__)


def checkpoint_signer(settings: Settings) -> Signer | None:
    """The signing key, or None when none is configured; BadSettings naming the setting when
    its file is missing, unreadable or not an Ed25519 private key."""
    if settings.checkpoint_key_file is None:
        return None
    try:
        return load_signer(Path(settings.checkpoint_key_file))
    except KeyProblem as error:
        raise BadSettings([f"LEDGER_CHECKPOINT_KEY_FILE: {error}"]) from None


def checkpoint_public_keys(settings: Settings) -> list[PublicKey]:
    """The keys checkpoints are verified with: those in LEDGER_CHECKPOINT_PUBLIC_KEY_FILE,
    else the public half of LEDGER_CHECKPOINT_KEY_FILE, else none."""
    if settings.checkpoint_public_key_file is not None:
        try:
            return load_public_keys(Path(settings.checkpoint_public_key_file))
        except KeyProblem as error:
            raise BadSettings([f"LEDGER_CHECKPOINT_PUBLIC_KEY_FILE: {error}"]) from None
    signer = checkpoint_signer(settings)
    return [signer.public_key] if signer is not None else []


def public_keys_given(files: list[str] | None, settings: Settings) -> list[PublicKey]:
    """The keys of `--public-key` options (each file may hold several), else the settings'."""
    if not files:
        return checkpoint_public_keys(settings)
    keys: list[PublicKey] = []
    for file in files:
        try:
            keys += load_public_keys(Path(file))
        except KeyProblem as error:
            raise BadSettings([f"--public-key: {error}"]) from None
    return keys


class Checkpointer:
    """Makes the current interval's checkpoint unless it exists; run by every sweep."""

    def __init__(
        self,
        database_url: str,
        signer: Signer,
        settings: Settings,
        now: Callable[[], datetime],
    ) -> None:
        self._database_url = database_url
        self._signer = signer
        self._interval = settings.checkpoint_interval_seconds
        self._role = settings.database_role
        self._now = now

    def make_due(self) -> int | None:
        """The id of the checkpoint made now, or None if this interval has one."""
        return make_checkpoint(
            self._database_url, self._signer, self._now(), self._interval, role=self._role
        )

    async def make_due_in_thread(self) -> None:
        """For the server's sweep: off the event loop (the heads are read and hashed in one
        go), and a failure logged, never raised: the next sweep tries again."""
        try:
            made = await asyncio.to_thread(self.make_due)
        except Exception:
            log.exception("checkpoint_failed")
            return
        if made is not None:
            log.info("checkpoint_made", checkpoint_id=made)


def log_checkpoint_setting(signer: Signer | None, settings: Settings) -> None:
    """One line at start saying whether this process makes checkpoints."""
    if signer is None:
        log.warning(
            "checkpoints_off",
            note="LEDGER_CHECKPOINT_KEY_FILE is not set: this process makes no signed"
            " checkpoint; `loyalty-ledger sweep` must, with the key, elsewhere (the Kubernetes"
            " CronJob does), or none are made (README, Signed checkpoints)",
        )
    elif settings.sweep_interval_seconds == 0:
        log.warning(
            "checkpoints_off",
            note="LEDGER_SWEEP_INTERVAL_SECONDS=0: this process does not sweep, so it makes no"
            " checkpoint; `loyalty-ledger sweep` or `loyalty-ledger checkpoint` must",
            key_id=signer.public_key.key_id.hex(),
        )
    else:
        log.info(
            "checkpoints_on",
            interval_seconds=settings.checkpoint_interval_seconds,
            key_id=signer.public_key.key_id.hex(),
        )
