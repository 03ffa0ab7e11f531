"""Server assembly: the ledger service, health, reflection, background tasks, shutdown."""

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import structlog
from google.longrunning import operations_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from ledger import bootstrap
from ledger.application import Ledger
from ledger.cancellation import honour_lost_cancellation
from ledger.domain.errors import LedgerError
from ledger.eventlog.schema import SchemaStatus
from ledger.feed import EventFeed, FeedLimits
from ledger.projections.catalog import PROJECTIONS
from ledger.projections.workers import ProjectionWorkers
from service.auth import OPERATIONS_SERVICE, RPC_SCOPES, Authenticator, AuthInterceptor
from service.callers import BadCallers, CallerRegistry
from service.checkpointing import Checkpointer, checkpoint_signer, log_checkpoint_setting
from service.config import BadSettings, Settings
from service.decoding import SERVICE, add_ledger_service, add_tolerant_service
from service.directory import AccountDirectory
from service.horizon import LastHorizon, watch_read_horizon
from service.limits import HEALTH_ROOM, Admission, Limits
from service.metrics import (
    observe_feed,
    observe_ledger,
    observe_projections,
    observe_read_horizon,
)
from service.operations import OperationsServicer
from service.rpc_telemetry import TelemetryInterceptor
from service.servicer import LedgerServicer
from service.simulations import Simulations
from service.telemetry import Telemetry, telemetry_of
from service.tls import TlsFiles, server_credentials

log = structlog.get_logger(__name__)

SERVICE_NAME = SERVICE.full_name
OPERATIONS_DESCRIPTOR = operations_pb2.DESCRIPTOR.services_by_name["Operations"]
LIVENESS_CHECK = "liveness"
"""A health name that is SERVING from start to shutdown whatever the database: for liveness
probes. Probing "" there would restart every pod while the database is down or behind its
migrations, which a restart mends in neither case; readiness probes ask "" instead."""
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
TASKS_STOP_SECONDS = 10.0
"""How long a stopping server waits for its watchers to end after cancelling them."""
READ_METHODS = frozenset(
    {
        *(method for method, scope in RPC_SCOPES.items() if scope == "read"),
        "GetOperation",
        "ListOperations",
        "WaitOperation",
    }
)
"""The RPCs in the reads' pool (service/limits.py); every other unary RPC is a write."""


def max_concurrent_rpcs(settings: Settings) -> int:
    """Calls in flight at once in all; more get RESOURCE_EXHAUSTED instead of queueing
    without bound. The pools' sum and room for health checks, so that no pool, full, can
    take a probe's place."""
    return (
        settings.max_concurrent_reads
        + settings.max_concurrent_writes
        + settings.max_streams
        + HEALTH_ROOM
    )


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class RunningServer:
    server: grpc.aio.Server
    port: int
    ledger: Ledger
    health: health.aio.HealthServicer
    feed: EventFeed
    resources: contextlib.AsyncExitStack
    admission: Admission
    """The limits' counters (service/limits.py)."""
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    projections: ProjectionWorkers | None = None
    telemetry: Telemetry = field(default_factory=Telemetry)

    async def stop(self, grace_seconds: float) -> None:
        """Stops taking calls, lets in-flight calls finish (up to the grace), then the rest."""
        await self.health.enter_graceful_shutdown()
        stopping = asyncio.create_task(self.server.stop(grace_seconds))
        # A live stream never finishes by itself: closing the feed ends each one (UNAVAILABLE,
        # resume from the last position elsewhere), so they do not hold the server to its grace.
        await self.feed.close()
        await stopping
        for task in self.tasks:
            task.cancel()
        if self.tasks:
            # Each watcher honours a cancellation its read may have lost (ledger/cancellation.py);
            # should one still run, the stop goes on without it rather than hang.
            _, stuck = await asyncio.wait(self.tasks, timeout=TASKS_STOP_SECONDS)
            if stuck:
                log.warning(
                    "tasks_not_stopped",
                    tasks=sorted(task.get_name() for task in stuck),
                    after_seconds=TASKS_STOP_SECONDS,
                )
        if self.projections is not None:
            # The runners finish the page in hand; closing their connections frees their
            # locks for a standby elsewhere at once.
            await self.projections.stop()
        await self.resources.aclose()


def _connection_age(settings: Settings) -> list[tuple[str, int]]:
    if not settings.max_connection_age_seconds:
        return []
    return [
        ("grpc.max_connection_age_ms", settings.max_connection_age_seconds * 1_000),
        ("grpc.max_connection_age_grace_ms", settings.max_connection_age_grace_seconds * 1_000),
    ]


def _authenticator(settings: Settings, now: Callable[[], datetime]) -> Authenticator:
    try:
        if settings.callers_file:
            registry = CallerRegistry(path=Path(settings.callers_file))
        else:
            registry = CallerRegistry(text=settings.callers)
    except BadCallers as error:
        raise BadSettings(error.problems) from None
    except OSError as error:
        raise BadSettings([f"LEDGER_CALLERS_FILE: cannot be read: {error}"]) from None
    return Authenticator(registry, now)


class CannotListen(OSError):
    """The server could not bind its address."""


async def start_server(
    settings: Settings,
    database_url: str,
    now: Callable[[], datetime] = utc_now,
    feed_limits: FeedLimits | None = None,
    telemetry: Telemetry | None = None,
) -> RunningServer:
    """`telemetry`: the tracer and meter providers (tests); None: those `settings` ask for.
    Either way the server shuts them down when it stops."""
    problems = settings.serving_problems()
    if problems:
        raise BadSettings(problems)
    signer = checkpoint_signer(settings)
    interceptors: list[grpc.aio.ServerInterceptor] = (
        []
        if settings.auth == "none"
        else [AuthInterceptor(_authenticator(settings, now), settings.max_streams_per_caller)]
    )
    # Inside the handlers, so authentication's wrapper runs first and tells them who calls.
    admission = Admission(settings.max_concurrent_reads, settings.max_concurrent_writes)
    limits = Limits(admission, READ_METHODS)
    resources = contextlib.AsyncExitStack()
    try:
        telemetry = _telemetry(settings, telemetry)
        resources.callback(telemetry.shutdown)
        interceptors = _with_telemetry(settings, telemetry, interceptors)
        if telemetry.tracing:
            resources.callback(bootstrap.trace_queries(telemetry.tracer_provider))
        providers = _ledger_providers(telemetry)
        # Do not wait for the database: the server starts NOT_SERVING and turns SERVING when
        # the database answers, so Kubernetes sees an honest readiness from the first second.
        ledger = await resources.enter_async_context(
            bootstrap.postgres_ledger(
                database_url,
                now,
                shards=settings.shards,
                pool_max_size=settings.pool_max_size,
                role=settings.database_role,
                wait=False,
                answer_retention=timedelta(days=settings.answer_retention_days),
                read_url=settings.read_database_url,
                read_max_staleness=timedelta(milliseconds=settings.read_max_staleness_ms),
                **providers,
            )
        )
        if telemetry.measuring:
            observe_ledger(telemetry.meter_provider, ledger.stats)
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                ("grpc.so_reuseport", 0),
                *_connection_age(settings),
            ],
            maximum_concurrent_rpcs=max_concurrent_rpcs(settings),
            interceptors=interceptors,
            # Bytes that do not decode: INVALID_ARGUMENT rather than grpc's UNKNOWN.
        )
        feed = await resources.enter_async_context(
            bootstrap.postgres_feed(
                database_url,
                ledger,
                feed_limits
                or FeedLimits(
                    poll_seconds=settings.feed_poll_seconds, subscribers=settings.max_streams
                ),
            )
        )
        if telemetry.measuring:
            observe_feed(telemetry.meter_provider, feed)
        simulations = Simulations(ledger, database_url, now)
        resources.push_async_callback(simulations.close)
        add_ledger_service(
            LedgerServicer(
                ledger,
                AccountDirectory(ledger),
                feed,
                referral_fingerprint_key=settings.referral_fingerprint_key,
                simulations=simulations,
            ),
            server,
            limits.around,
        )
        add_tolerant_service(
            OperationsServicer(simulations), server, OPERATIONS_DESCRIPTOR, limits.around
        )
        health_servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        # grpc's servicer starts "" as SERVING: a pod would look ready before the first check of
        # its database (on an empty one too), so readiness starts NOT_SERVING.
        for name in ("", SERVICE_NAME):
            await health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        await health_servicer.set(LIVENESS_CHECK, health_pb2.HealthCheckResponse.SERVING)
        reflection.enable_server_reflection(
            (SERVICE_NAME, OPERATIONS_SERVICE, health.SERVICE_NAME, reflection.SERVICE_NAME),
            server,
        )
        try:
            if settings.tls_cert_file and settings.tls_key_file:
                files = TlsFiles(
                    Path(settings.tls_cert_file),
                    Path(settings.tls_key_file),
                    Path(settings.tls_client_ca_file) if settings.tls_client_ca_file else None,
                )
                port = server.add_secure_port(settings.listen_address, server_credentials(files))
            else:
                port = server.add_insecure_port(settings.listen_address)
        except RuntimeError:  # grpc's word for "could not bind"
            port = 0
        if port == 0:
            raise CannotListen(
                f"cannot listen on {settings.listen_address}: the port is in use,"
                " or the address is not this machine's"
            )
        await server.start()
    except BaseException:
        # A port in use (or any failure on the way up) must end the process, not leave it
        # hanging on the pools, listeners and threads already started.
        await resources.aclose()
        raise
    running = RunningServer(
        server, port, ledger, health_servicer, feed, resources, admission, telemetry=telemetry
    )
    running.tasks.append(
        asyncio.create_task(
            _watch_database(ledger, health_servicer, settings.health_check_interval_seconds),
            name="watch-database",
        )
    )
    if settings.read_horizon_check_seconds > 0:
        last_horizon = LastHorizon()
        running.tasks.append(
            asyncio.create_task(
                watch_read_horizon(
                    ledger,
                    settings.read_horizon_check_seconds,
                    settings.read_horizon_warn_seconds,
                    last_horizon,
                ),
                name="watch-read-horizon",
            )
        )
        if telemetry.measuring:
            observe_read_horizon(telemetry.meter_provider, last_horizon)
    if settings.sweep_interval_seconds > 0:
        checkpointer = (
            Checkpointer(database_url, signer, settings, now) if signer is not None else None
        )
        running.tasks.append(
            asyncio.create_task(
                _sweep_forever(ledger, settings.sweep_interval_seconds, checkpointer),
                name="sweep",
            )
        )
    if settings.run_projections:
        running.projections = ProjectionWorkers(
            database_url, list(PROJECTIONS.values()), settings.database_role, now=now
        )
        running.projections.start()
        if telemetry.measuring:
            observe_projections(telemetry.meter_provider, running.projections.stats)
    log.info("serving", address=settings.listen_address, port=port)
    log_checkpoint_setting(signer, settings)
    if settings.auth == "none":
        log.warning(
            "serving_without_authentication",
            note="development only: any caller may do anything (README, Authentication)",
            try_it=f"loyalty-ledger create-program shop --rate USD:1 --target 127.0.0.1:{port}",
        )
    return running


def _telemetry(settings: Settings, given: Telemetry | None) -> Telemetry:
    if given is not None:
        return given
    try:
        return telemetry_of(settings)
    except OSError as error:
        raise CannotListen(
            f"cannot serve Prometheus metrics on {settings.prometheus_address}:"
            f" {error.strerror or error}"
        ) from None


def _with_telemetry(
    settings: Settings, telemetry: Telemetry, interceptors: list[grpc.aio.ServerInterceptor]
) -> list[grpc.aio.ServerInterceptor]:
    """The telemetry interceptor outside the others (it sees denied calls too), when there
    is anything for it to do: with no access line, traces nor metrics, calls go without it."""
    access_log = settings.access_log and logging.getLogger().isEnabledFor(logging.INFO)
    if not (access_log or telemetry.tracing or telemetry.measuring):
        return interceptors
    log.info(
        "telemetry",
        access_log=access_log,
        traces=telemetry.tracing,
        sampler=f"{settings.traces_sampler} {settings.traces_sampler_ratio:g}"
        if telemetry.tracing
        else None,
        metrics=telemetry.measuring,
        prometheus_port=telemetry.prometheus_port,
    )
    outermost = TelemetryInterceptor(
        telemetry.tracer_provider,
        telemetry.meter_provider,
        tracing=telemetry.tracing,
        measuring=telemetry.measuring,
        access_log=access_log,
    )
    return [outermost, *interceptors]


def _ledger_providers(telemetry: Telemetry) -> dict[str, Any]:
    providers: dict[str, Any] = {}
    if telemetry.tracing:
        providers["tracer_provider"] = telemetry.tracer_provider
    if telemetry.measuring:
        providers["meter_provider"] = telemetry.meter_provider
    return providers


async def _watch_database(
    ledger: Ledger, servicer: health.aio.HealthServicer, interval: float
) -> None:
    """SERVING while the database answers and has every migration this release needs,
    NOT_SERVING otherwise."""
    current: int | None = None
    reported: SchemaStatus | None = None
    while True:
        schema: SchemaStatus | None = None
        try:
            schema = await ledger.schema_status(deadline=time.monotonic() + max(interval, 1.0) * 2)
        except LedgerError:
            schema = None  # the database does not answer: NOT_SERVING (the "health" line)
        except Exception:
            # Not a failure of the database's: a bug. Reported, and the service is honestly
            # not serving; the watcher itself must go on.
            log.exception("health_check_failed")
        honour_lost_cancellation()
        if schema is not None and schema != reported:
            _report_schema(schema)
            reported = schema
        serving = schema is not None and schema.current
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        if status != current:
            log.info("health", serving=serving)
            for name in ("", SERVICE_NAME):
                await servicer.set(name, status)
            current = status
        await asyncio.sleep(interval)


def _report_schema(schema: SchemaStatus) -> None:
    """One line each time what the database holds changes (not every check)."""
    if not schema.readable:
        log.error(
            "schema_unreadable",
            hint="this role may not read ledger.schema_migrations: run `loyalty-ledger"
            " migrate` with the owner's credentials (the migration Job)",
        )
    elif schema.missing:
        log.error(
            "schema_behind",
            missing_migrations=schema.missing,
            applied_count=len(schema.applied),
            hint="not serving until `loyalty-ledger migrate` (the migration Job) has run",
        )
    elif schema.unknown:
        log.warning(
            "schema_ahead",
            unknown_migrations=schema.unknown,
            hint="a newer release migrated this database; serving, as releases' migrations"
            " keep the previous release working",
        )
    else:
        log.info("schema_current", migrations=len(schema.expected))


async def _sweep_forever(
    ledger: Ledger, interval_seconds: int, checkpointer: Checkpointer | None
) -> None:
    while True:
        await asyncio.sleep(interval_seconds)
        if checkpointer is not None:
            await checkpointer.make_due_in_thread()
        with contextlib.suppress(LedgerError):
            appended = await ledger.sweep()
            answers, strays = await ledger.expire()
            if appended or answers or strays:
                log.info(
                    "sweep",
                    events_appended=appended,
                    answers_expired=answers,
                    stray_links_deleted=strays,
                )
        honour_lost_cancellation()


SERVING_GC_THRESHOLDS = (10_000, 20, 20)


def settle_heap_for_serving() -> None:
    """For a process that only serves, once started. Requests allocate many short-lived
    objects and make almost no reference cycles, yet with the default thresholds the cyclic
    collector took about 4% of the server's CPU under write load, mostly re-scanning what
    start-up loaded (modules, descriptors, the pool). Those are frozen out of its sight, and
    young objects are collected less often: about 1% then, in pauses of a few milliseconds."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVING_GC_THRESHOLDS)
