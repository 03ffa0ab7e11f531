"""Settings from the environment (12-factor), with the defaults `make run` uses."""

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass


class BadSettings(ValueError):
    """Every environment setting that is wrong, each with the variable it came from, so an
    operator fixes them all in one go instead of meeting a traceback per restart."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _Reader:
    """Reads settings from the environment, collecting every problem instead of stopping."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        self.problems: list[str] = []

    def _raw(self, name: str) -> str:
        return self._environ.get(name, "").strip()

    def text(self, name: str, default: str) -> str:
        return self._raw(name) or default

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        raw = self._raw(name)
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            self.problems.append(
                f"{name}: must be a whole number from {low} to {high}, not {raw!r}"
            )
            return default
        return value

    def number(self, name: str, default: float, low: float, high: float) -> float:
        raw = self._raw(name)
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not low <= value <= high:  # NaN and infinities fail here too
            self.problems.append(f"{name}: must be a number from {low:g} to {high:g}, not {raw!r}")
            return default
        return value

    def flag(self, name: str, default: bool) -> bool:
        raw = self._raw(name).lower()
        if not raw:
            return default
        if raw in {"1", "true", "on", "yes"}:
            return True
        if raw in {"0", "false", "off", "no"}:
            return False
        self.problems.append(f"{name}: must be 1 or 0 (true/false, on/off), not {raw!r}")
        return default

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        raw = self._raw(name).lower()
        if not raw:
            return default
        if raw not in choices:
            self.problems.append(f"{name}: must be one of {', '.join(choices)}, not {raw!r}")
            return default
        return raw

    def address(self, name: str, default: str) -> str:
        raw = self._raw(name)
        if not raw:
            return default
        host, colon, port = raw.rpartition(":")
        if not (colon and host and port.isdigit() and int(port) <= MAX_PORT):
            self.problems.append(f"{name}: must be HOST:PORT (port 0 to {MAX_PORT}), not {raw!r}")
            return default
        return raw


MAX_PORT = 65_535
MAX_SHARDS = 64
MAX_POOL_SIZE = 1_000
DAY_SECONDS = 86_400
MAX_STREAMS = 900
"""Room is left for at least 100 other calls under the server's limit of 1,000."""


@dataclass(frozen=True)
class Settings:
    listen_address: str = "127.0.0.1:50051"
    database_url: str | None = None
    """None: start the embedded PostgreSQL under .data/pg."""
    database_role: str | None = None
    """If set, every connection does SET ROLE to it (loyalty_ledger_app: SELECT/INSERT only)."""
    shards: int = 1
    pool_max_size: int = 10
    sweep_interval_seconds: int = 60
    shutdown_grace_seconds: int = 10
    health_check_interval_seconds: float = 1.0
    run_projections: bool = True
    """Run the projection runners (the member directory behind ListAccounts) in-process."""
    feed_poll_seconds: float = 1.0
    """StreamEvents' shared feed reads at least this often without a notification."""
    read_horizon_check_seconds: float = 30.0
    """How often the read horizon is checked (0: never); see service/horizon.py."""
    read_horizon_warn_seconds: float = 60.0
    """A transaction holding readers back this long is logged as a warning."""
    answer_retention_days: int = 30
    """Stored answers to requests are kept this long for retries, then deleted by the sweep
    (README "Personal data"); at least 1."""
    log_member_ids: bool = False
    """Development only: let log lines show member ids and account names in the clear."""
    referral_fingerprint_key: str = ""
    """The secret keying the hash of a fingerprint given at enrolment (README "Referrals");
    "": fingerprints are refused."""
    auth: str = "tokens"
    """"tokens": every call but health needs a known caller (service/auth.py); "none":
    anyone may call anything and the loyalty-actor header is taken as sent (development)."""
    callers_file: str | None = None
    """The callers file (TOML, README "Authentication"), re-read when it changes."""
    callers: str | None = None
    """The same, inline (an environment variable a Secret fills); read once."""
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_client_ca_file: str | None = None
    """Mutual TLS: clients must present a certificate this CA signed."""
    plaintext: bool = False
    """Serve without TLS: local development, or TLS ended by a sidecar in the same pod."""
    max_streams: int = 500
    max_streams_per_caller: int = 100
    """Live StreamEvents calls of one authenticated caller at once: one caller leaking
    streams leaves room for the others' followers."""
    """Live StreamEvents calls at once; more get RESOURCE_EXHAUSTED. Below the server's
    concurrent-call limit, so idle followers can never take the room of every other call
    (a readiness probe included)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """The settings the environment gives; BadSettings naming every wrong variable."""
        read = _Reader(os.environ if environ is None else environ)
        settings = cls(
            listen_address=read.address("LEDGER_LISTEN_ADDRESS", cls.listen_address),
            database_url=read.text("DATABASE_URL", "") or None,
            database_role=read.text("LEDGER_DB_ROLE", "") or None,
            shards=read.integer("LEDGER_SHARDS", cls.shards, 1, MAX_SHARDS),
            pool_max_size=read.integer("LEDGER_POOL_MAX_SIZE", cls.pool_max_size, 1, MAX_POOL_SIZE),
            sweep_interval_seconds=read.integer(
                "LEDGER_SWEEP_INTERVAL_SECONDS", cls.sweep_interval_seconds, 0, DAY_SECONDS
            ),
            shutdown_grace_seconds=read.integer(
                "LEDGER_SHUTDOWN_GRACE_SECONDS", cls.shutdown_grace_seconds, 0, 3_600
            ),
            run_projections=read.flag("LEDGER_RUN_PROJECTIONS", cls.run_projections),
            feed_poll_seconds=read.number(
                "LEDGER_FEED_POLL_SECONDS", cls.feed_poll_seconds, 0.01, 3_600
            ),
            read_horizon_check_seconds=read.number(
                "LEDGER_READ_HORIZON_CHECK_SECONDS", cls.read_horizon_check_seconds, 0, DAY_SECONDS
            ),
            read_horizon_warn_seconds=read.number(
                "LEDGER_READ_HORIZON_WARN_SECONDS", cls.read_horizon_warn_seconds, 1, DAY_SECONDS
            ),
            answer_retention_days=read.integer(
                "LEDGER_ANSWER_RETENTION_DAYS", cls.answer_retention_days, 1, 3_650
            ),
            log_member_ids=read.flag("LEDGER_LOG_MEMBER_IDS", cls.log_member_ids),
            referral_fingerprint_key=read.text("LEDGER_REFERRAL_FINGERPRINT_KEY", ""),
            max_streams=read.integer("LEDGER_MAX_STREAMS", cls.max_streams, 1, MAX_STREAMS),
            max_streams_per_caller=read.integer(
                "LEDGER_MAX_STREAMS_PER_CALLER", cls.max_streams_per_caller, 1, MAX_STREAMS
            ),
            auth=read.choice("LEDGER_AUTH", cls.auth, ("tokens", "none")),
            callers_file=read.text("LEDGER_CALLERS_FILE", "") or None,
            callers=read.text("LEDGER_CALLERS", "") or None,
            tls_cert_file=read.text("LEDGER_TLS_CERT_FILE", "") or None,
            tls_key_file=read.text("LEDGER_TLS_KEY_FILE", "") or None,
            tls_client_ca_file=read.text("LEDGER_TLS_CLIENT_CA_FILE", "") or None,
            plaintext=read.flag("LEDGER_PLAINTEXT", cls.plaintext),
        )
        if read.problems:
            raise BadSettings(read.problems)
        return settings

    def serving_problems(self) -> list[str]:
        """What keeps `serve` from starting with these settings (other commands neither
        listen nor authenticate, so they do not ask)."""
        problems = []
        if self.auth == "tokens" and not (self.callers_file or self.callers):
            problems.append(
                "LEDGER_CALLERS_FILE: LEDGER_AUTH=tokens (the default) needs the callers, from"
                " this file or LEDGER_CALLERS; LEDGER_AUTH=none is for local development only"
            )
        if self.callers_file and self.callers:
            problems.append("LEDGER_CALLERS: give the callers in one place, not two")
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            problems.append("LEDGER_TLS_KEY_FILE: TLS needs both a certificate and its key")
        if self.tls_client_ca_file and not self.tls_cert_file:
            problems.append("LEDGER_TLS_CLIENT_CA_FILE: mutual TLS needs the server's own TLS too")
        if not self.tls_cert_file and not self.plaintext:
            problems.append(
                "LEDGER_TLS_CERT_FILE: serving needs TLS (a certificate and key), or"
                " LEDGER_PLAINTEXT=1 for local development or TLS ended by a sidecar"
            )
        if self.tls_cert_file and self.plaintext:
            problems.append("LEDGER_PLAINTEXT: set, yet TLS is configured: choose one")
        return problems
