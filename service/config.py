"""Settings from the environment (12-factor), with the defaults `make run` uses."""

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypedDict


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

    def names(self, name: str, allowed: frozenset[str]) -> tuple[str, ...]:
        """A comma-separated list, each one of `allowed` ("none" alone: the empty list)."""
        raw = self._raw(name).lower()
        chosen = tuple(item.strip() for item in raw.split(",") if item.strip())
        if chosen == ("none",):
            return ()
        unknown = [item for item in chosen if item not in allowed]
        if unknown:
            self.problems.append(
                f"{name}: must be none or a list of {', '.join(sorted(allowed))}, not {raw!r}"
            )
            return ()
        return chosen

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
MIN_CHECKPOINT_INTERVAL_SECONDS = 60
MAX_CHECKPOINT_INTERVAL_SECONDS = 31 * DAY_SECONDS
MAX_STREAMS = 900
MAX_CONCURRENT_CALLS = 10_000


@dataclass(frozen=True)
class Settings:
    listen_address: str = "127.0.0.1:50051"
    database_url: str | None = None
    """None: start the embedded PostgreSQL under .data/pg."""
    database_role: str | None = None
    """If set, every connection does SET ROLE to it (loyalty_ledger_app: SELECT/INSERT only)."""
    allow_privileged_login: bool = False
    """Development only: let `serve` log in as a superuser or the tables' owner, which it
    otherwise refuses (service/database_login.py, README "Database roles")."""
    start_database_wait_seconds: int = 60
    """`serve` started while its database does not answer waits NOT_SERVING this long for
    it, then exits 1 in one line (Kubernetes restarts it with back-off); 0: wait for ever."""
    read_database_url: str | None = None
    """A streaming replica of DATABASE_URL's server: reads of one account (GetAccount,
    ListLedgerEntries, GetBalanceAsOf) go there while it is within read_max_staleness_ms."""
    read_max_staleness_ms: int = 1_000
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
    """Live StreamEvents calls at once; more get RESOURCE_EXHAUSTED. A pool of their own
    (service/limits.py), so idle followers can never take the room of every other call (a
    readiness probe included)."""
    max_streams_per_caller: int = 100
    """Live StreamEvents calls of one authenticated caller at once: one caller leaking
    streams leaves room for the others' followers."""
    access_log: bool = True
    """One line per call (method, caller, program, status, latency, request id, trace)."""
    traces_exporters: tuple[str, ...] = ()
    """OTEL_TRACES_EXPORTER: none (the default here) creates no tracer at all."""
    traces_sampler: str = "parentbased_always_on"
    traces_sampler_ratio: float = 1.0
    """OTEL_TRACES_SAMPLER_ARG, for the traceidratio samplers."""
    metrics_exporters: tuple[str, ...] = ()
    """OTEL_METRICS_EXPORTER: none (the default here) unless an exporter is named."""
    prometheus_address: str | None = None
    """HOST:PORT of the Prometheus scrape endpoint (GET /metrics); None: not served."""
    service_name: str = "loyalty-ledger"
    """OTEL_SERVICE_NAME: the service.name of every span and metric."""
    max_concurrent_reads: int = 400
    """Reads (GetAccount, ListLedgerEntries ...) in flight at once; more are refused."""
    max_concurrent_writes: int = 400
    """Writes in flight at once: a pool apart from the reads', so writes piling up behind a
    slow database never take the reads' room."""
    max_connection_age_seconds: int = 300
    """A client connection is asked to reconnect (GOAWAY) after this long, so the clients of
    a service behind a Kubernetes Service spread over the pods added since (0: never)."""
    max_connection_age_grace_seconds: int = 30
    """Calls in flight on a connection past its age get this long to finish."""
    checkpoint_key_file: str | None = None
    """The Ed25519 private key (PEM) that signs checkpoints; None: no checkpoints are made
    (README "Signed checkpoints")."""
    checkpoint_interval_seconds: int = DAY_SECONDS
    """One checkpoint per interval, counted from the Unix epoch in UTC."""
    checkpoint_public_key_file: str | None = None
    """The key the audit and the export verify checkpoints with (PEM); default: the public
    half of checkpoint_key_file."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """The settings the environment gives; BadSettings naming every wrong variable."""
        read = _Reader(os.environ if environ is None else environ)
        settings = cls(
            listen_address=read.address("LEDGER_LISTEN_ADDRESS", cls.listen_address),
            database_url=read.text("DATABASE_URL", "") or None,
            database_role=read.text("LEDGER_DB_ROLE", "") or None,
            allow_privileged_login=read.flag(
                "LEDGER_ALLOW_PRIVILEGED_LOGIN", cls.allow_privileged_login
            ),
            start_database_wait_seconds=read.integer(
                "LEDGER_START_DATABASE_WAIT_SECONDS", cls.start_database_wait_seconds, 0, 3_600
            ),
            read_database_url=read.text("LEDGER_READ_DATABASE_URL", "") or None,
            read_max_staleness_ms=read.integer(
                "LEDGER_READ_MAX_STALENESS_MS", cls.read_max_staleness_ms, 100, 3_600_000
            ),
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
            max_concurrent_reads=read.integer(
                "LEDGER_MAX_CONCURRENT_READS", cls.max_concurrent_reads, 1, MAX_CONCURRENT_CALLS
            ),
            max_concurrent_writes=read.integer(
                "LEDGER_MAX_CONCURRENT_WRITES", cls.max_concurrent_writes, 1, MAX_CONCURRENT_CALLS
            ),
            max_connection_age_seconds=read.integer(
                "LEDGER_MAX_CONNECTION_AGE_SECONDS", cls.max_connection_age_seconds, 0, DAY_SECONDS
            ),
            max_connection_age_grace_seconds=read.integer(
                "LEDGER_MAX_CONNECTION_AGE_GRACE_SECONDS",
                cls.max_connection_age_grace_seconds,
                0,
                3_600,
            ),
            auth=read.choice("LEDGER_AUTH", cls.auth, ("tokens", "none")),
            callers_file=read.text("LEDGER_CALLERS_FILE", "") or None,
            callers=read.text("LEDGER_CALLERS", "") or None,
            tls_cert_file=read.text("LEDGER_TLS_CERT_FILE", "") or None,
            tls_key_file=read.text("LEDGER_TLS_KEY_FILE", "") or None,
            tls_client_ca_file=read.text("LEDGER_TLS_CLIENT_CA_FILE", "") or None,
            plaintext=read.flag("LEDGER_PLAINTEXT", cls.plaintext),
            **_telemetry_settings(read),
            checkpoint_key_file=read.text("LEDGER_CHECKPOINT_KEY_FILE", "") or None,
            checkpoint_interval_seconds=read.integer(
                "LEDGER_CHECKPOINT_INTERVAL_SECONDS",
                cls.checkpoint_interval_seconds,
                MIN_CHECKPOINT_INTERVAL_SECONDS,
                MAX_CHECKPOINT_INTERVAL_SECONDS,
            ),
            checkpoint_public_key_file=read.text("LEDGER_CHECKPOINT_PUBLIC_KEY_FILE", "") or None,
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


TRACES_SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
"""OTEL_TRACES_SAMPLER's values in the OpenTelemetry specification (the SDK's own)."""


OTLP = "otlp"
OTLP_ENTRY_POINT = "otlp_proto_grpc"


def _otlp_named(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(OTLP_ENTRY_POINT if name == OTLP else name for name in names)


def _exporters(group: str) -> frozenset[str]:
    """The exporters installed for OTEL_TRACES_EXPORTER or OTEL_METRICS_EXPORTER: the names
    the OpenTelemetry SDK's own configuration accepts (otlp, console, and any other
    installed)."""
    from importlib.metadata import entry_points

    return frozenset(entry.name for entry in entry_points(group=group))


class _TelemetrySettings(TypedDict):
    access_log: bool
    traces_exporters: tuple[str, ...]
    traces_sampler: str
    traces_sampler_ratio: float
    metrics_exporters: tuple[str, ...]
    prometheus_address: str | None
    service_name: str


def _telemetry_settings(read: _Reader) -> _TelemetrySettings:
    """The OpenTelemetry settings, from the standard OTEL_* variables (the exporters read
    their own, such as OTEL_EXPORTER_OTLP_ENDPOINT) and LEDGER_PROMETHEUS_ADDRESS. Unlike the
    SDK's defaults, nothing is exported unless an exporter is named: a service that nobody
    asked to trace pays for no tracer."""
    disabled = read.flag("OTEL_SDK_DISABLED", False)
    # OTLP over gRPC is the one installed: "otlp" is it, as in the SDK's own configuration.
    read.choice("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", ("grpc",))
    traces = read.names(
        "OTEL_TRACES_EXPORTER", _exporters("opentelemetry_traces_exporter") | {OTLP}
    )
    metrics = read.names(
        "OTEL_METRICS_EXPORTER", _exporters("opentelemetry_metrics_exporter") | {OTLP}
    )
    prometheus = read.address("LEDGER_PROMETHEUS_ADDRESS", "") or None
    return _TelemetrySettings(
        access_log=read.flag("LEDGER_ACCESS_LOG", Settings.access_log),
        traces_exporters=() if disabled else _otlp_named(traces),
        traces_sampler=read.choice("OTEL_TRACES_SAMPLER", Settings.traces_sampler, TRACES_SAMPLERS),
        traces_sampler_ratio=read.number(
            "OTEL_TRACES_SAMPLER_ARG", Settings.traces_sampler_ratio, 0.0, 1.0
        ),
        metrics_exporters=() if disabled else _otlp_named(metrics),
        prometheus_address=None if disabled else prometheus,
        service_name=read.text("OTEL_SERVICE_NAME", Settings.service_name),
    )
