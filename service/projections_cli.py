"""`loyalty-ledger projections run | rebuild NAME | status`."""

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from ledger import bootstrap
from ledger.domain.errors import LedgerError
from ledger.projections.catalog import PROJECTIONS, Projection
from ledger.projections.rebuild import REBUILD_PAGE_EVENTS
from ledger.projections.runner import PAGE_EVENTS, RunnerStats
from ledger.projections.workers import projection_status, rebuild_projection, run_projections
from service.cli_numbers import int_between
from service.config import Settings
from service.logs import configure_logging
from service.metrics import observe_projections
from service.telemetry import telemetry_of


def add_projection_commands(commands: "argparse._SubParsersAction[Any]") -> None:
    parser = commands.add_parser("projections", help="run, rebuild or inspect the read models")
    actions = parser.add_subparsers(dest="projection_command", required=True)
    run = actions.add_parser(
        "run",
        help="keep projections current until SIGTERM; across processes one runner per"
        " projection is active and the others stand by",
    )
    run.add_argument(
        "names", nargs="*", help=f"projections (default: all of {sorted(PROJECTIONS)})"
    )
    run.add_argument("--runner-id", help="who this runner is in checkpoints (default host:pid)")
    run.set_defaults(run=_run)
    rebuild = actions.add_parser(
        "rebuild", help="build a fresh copy from position 0 beside the live one, then swap it in"
    )
    rebuild.add_argument("name", choices=sorted(PROJECTIONS))
    rebuild.add_argument(
        "--page-events",
        type=int_between(1, REBUILD_PAGE_EVENTS * 10),
        default=REBUILD_PAGE_EVENTS,
    )
    rebuild.set_defaults(run=_rebuild)
    actions.add_parser("status", help="each projection's checkpoint and lag, as JSON").set_defaults(
        run=_status
    )


def _chosen(names: Sequence[str]) -> list[Projection]:
    unknown = sorted(set(names) - set(PROJECTIONS))
    if unknown:
        raise SystemExit(f"unknown projections: {', '.join(unknown)}; known: {sorted(PROJECTIONS)}")
    return [PROJECTIONS[name] for name in names] if names else list(PROJECTIONS.values())


def run_until_signalled(
    projections: Sequence[Projection], runner_id: str | None, *, page_events: int = PAGE_EVENTS
) -> int:
    """Runs the projections' runners until SIGTERM or SIGINT, then stops them cleanly. Their
    lag and who leads are metrics as `serve`'s are (LEDGER_PROMETHEUS_ADDRESS, OTEL_*)."""
    configure_logging(os.environ.get("LEDGER_LOG_LEVEL", "INFO").upper())
    settings = Settings.from_env()
    conninfo = bootstrap.service_database_url()
    stats: dict[str, RunnerStats] = {}
    telemetry = telemetry_of(settings)
    if telemetry.measuring:
        observe_projections(telemetry.meter_provider, stats)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await run_projections(
            conninfo,
            projections,
            stop,
            role=settings.database_role,
            runner_id=runner_id,
            stats=stats,
            page_events=page_events,
        )

    try:
        asyncio.run(run())
    finally:
        telemetry.shutdown()
    return 0


def _run(args: argparse.Namespace) -> int:
    return run_until_signalled(_chosen(args.names), args.runner_id)


def _rebuild(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    conninfo = bootstrap.service_database_url()
    try:
        result = asyncio.run(
            rebuild_projection(
                conninfo,
                PROJECTIONS[args.name],
                sys.stderr,
                role=settings.database_role,
                page_events=args.page_events,
            )
        )
    except LedgerError as error:
        print(json.dumps({"error": error.reason, "message": error.message}), file=sys.stderr)
        return 1
    print(
        json.dumps(
            {
                "projection": result.projection,
                "events": result.events,
                "seconds": round(result.seconds, 3),
                "events_per_second": round(result.events_per_second),
                "swap_attempts": result.swap_attempts,
            }
        )
    )
    return 0


def _status(_args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    conninfo = bootstrap.service_database_url()
    statuses = asyncio.run(
        projection_status(conninfo, list(PROJECTIONS.values()), role=settings.database_role)
    )
    report = [
        {
            "projection": name,
            **{
                "live" if status.live else "standby": status.to_data()
                for status in statuses
                if status.projection == name
            },
        }
        for name in PROJECTIONS
    ]
    print(json.dumps({"projections": report}, indent=2))
    return 0
