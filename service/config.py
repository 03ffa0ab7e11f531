"""Settings from the environment (12-factor), with the defaults `make run` uses."""

import os
from dataclasses import dataclass


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    return int(raw) if raw.strip() else default


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "on", "yes"}:
        return True
    if raw in {"0", "false", "off", "no"}:
        return False
    raise ValueError(f"{name} must be 1 or 0 (true/false, on/off), not {raw!r}")


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    return float(raw) if raw.strip() else default


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

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            listen_address=os.environ.get("LEDGER_LISTEN_ADDRESS", cls.listen_address),
            database_url=os.environ.get("DATABASE_URL") or None,
            database_role=os.environ.get("LEDGER_DB_ROLE") or None,
            shards=_int("LEDGER_SHARDS", cls.shards),
            pool_max_size=_int("LEDGER_POOL_MAX_SIZE", cls.pool_max_size),
            sweep_interval_seconds=_int(
                "LEDGER_SWEEP_INTERVAL_SECONDS", cls.sweep_interval_seconds
            ),
            shutdown_grace_seconds=_int(
                "LEDGER_SHUTDOWN_GRACE_SECONDS", cls.shutdown_grace_seconds
            ),
            run_projections=_bool("LEDGER_RUN_PROJECTIONS", cls.run_projections),
            feed_poll_seconds=_float("LEDGER_FEED_POLL_SECONDS", cls.feed_poll_seconds),
            read_horizon_check_seconds=_float(
                "LEDGER_READ_HORIZON_CHECK_SECONDS", cls.read_horizon_check_seconds
            ),
            read_horizon_warn_seconds=_float(
                "LEDGER_READ_HORIZON_WARN_SECONDS", cls.read_horizon_warn_seconds
            ),
            answer_retention_days=max(
                1, _int("LEDGER_ANSWER_RETENTION_DAYS", cls.answer_retention_days)
            ),
            log_member_ids=_bool("LEDGER_LOG_MEMBER_IDS", cls.log_member_ids),
        )
