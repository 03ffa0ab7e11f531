"""EarnPoints with telemetry on (traces sampled at 0.1, metrics, both exported over OTLP)
against the same service with telemetry off, and the access line's own cost: three services
on one database, the same accounts, runs alternated.

- "off": the defaults, an access line per call and no tracer or meter;
- "on": OTEL_TRACES_SAMPLER=parentbased_traceidratio at 0.1 (a span per call and per query,
  one in ten recorded and exported), metrics exported every OTEL_METRIC_EXPORT_INTERVAL, both
  to an OTLP sink in the benchmark's process (benchmarks/otlp_sink.py);
- "quiet": LEDGER_ACCESS_LOG=0, what the earn path cost before the access line.

Each service logs at INFO (the other figures' services log at WARNING, where an access line
is never written) into /dev/null: the line is made and written, and nothing reads it.
"""

import asyncio
import contextlib
import json
import statistics
from concurrent import futures
from typing import TYPE_CHECKING

from benchmarks import seed
from benchmarks.harness import ROOT, Service, fresh_database, run_load
from benchmarks.otlp_sink import otlp_sink

if TYPE_CHECKING:
    from benchmarks.__main__ import Figure, Sizes

SAMPLING_RATIO = 0.1
METRIC_EXPORT_MILLISECONDS = 1_000
"""Far more often than a deployment's (60 s by default), so every run exports several
times."""


def _settings(endpoint: str) -> dict[str, dict[str, str]]:
    logged = {"LEDGER_LOG_LEVEL": "INFO"}
    return {
        "off": logged,
        "on": {
            **logged,
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_METRICS_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            "OTEL_EXPORTER_OTLP_INSECURE": "true",
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": str(SAMPLING_RATIO),
            "OTEL_METRIC_EXPORT_INTERVAL": str(METRIC_EXPORT_MILLISECONDS),
        },
        "quiet": {**logged, "LEDGER_ACCESS_LOG": "0"},
    }


def bench_telemetry(server_url: str, sizes: "Sizes", figure: type["Figure"]) -> list["Figure"]:
    with (
        otlp_sink() as (endpoint, received),
        fresh_database(server_url, "bench_telemetry") as url,
        contextlib.ExitStack() as stack,
    ):
        services = _started(stack, url, _settings(endpoint))
        _, accounts = asyncio.run(
            seed.new_program_with_accounts(services["off"].target, sizes.accounts)
        )
        path = ROOT / ".bench" / "telemetry.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(accounts))
        # Smoke sizes (one run each) only show that it runs: no warm-up there.
        for service in services.values() if sizes.repeats > 1 else ():
            run_load(
                service.target,
                "earn",
                callers=sizes.callers,
                seconds=sizes.load_seconds / 2,
                accounts_file=path,
            )
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in services}
        for _ in range(sizes.repeats):
            for name, service in services.items():
                runs[name].append(
                    run_load(
                        service.target,
                        "earn",
                        callers=sizes.callers,
                        seconds=sizes.load_seconds,
                        accounts_file=path,
                    )
                )
        stack.close()  # the services stop, and export what they still hold
        spans, metric_exports = received.spans, received.metric_exports
    assert not any(run["errors"] for run in runs["on"]), "earns with telemetry on failed"
    assert spans > 0, "the service with telemetry on exported no span"
    rate = {name: statistics.median(run["per_second"] for run in runs[name]) for name in runs}
    calls = sum(run["per_second"] * sizes.load_seconds for run in runs["on"])
    return [
        figure(
            "EarnPoints with telemetry on (traces sampled at 0.1, metrics, OTLP) vs off",
            rate["on"],
            rate["off"],
            "calls/s",
            ">= 0.85x",
            rate["on"] >= 0.85 * rate["off"],
            f"{sizes.callers} callers; three services on one database, the same accounts;"
            f" medians of {sizes.repeats} alternated runs (on {_rates(runs['on'])}, off"
            f" {_rates(runs['off'])} calls/s); about {calls:,.0f} calls measured with"
            f" telemetry on, {spans:,} spans and {metric_exports} metric exports received by"
            " an OTLP sink on loopback (benchmarks/otlp_sink.py); both write an access line"
            " per call to /dev/null",
        ),
        figure(
            "EarnPoints with an access line per call vs without (LEDGER_ACCESS_LOG=0)",
            rate["off"],
            rate["quiet"],
            "calls/s",
            ">= 0.9x",
            rate["off"] >= 0.9 * rate["quiet"],
            f"{sizes.callers} callers; the same run as the telemetry figure (access lines"
            f" {_rates(runs['off'])}, none {_rates(runs['quiet'])} calls/s); a JSON line of"
            " method, caller, program, status, latency and request id to /dev/null",
        ),
    ]


def _started(
    stack: contextlib.ExitStack, url: str, settings: dict[str, dict[str, str]]
) -> dict[str, Service]:
    """The services, started side by side (each takes seconds to import and start); those
    that started are stopped with `stack` even when another failed to."""
    starting = {name: Service.running(url, settings=env) for name, env in settings.items()}
    with futures.ThreadPoolExecutor(len(starting)) as pool:
        entered = {name: pool.submit(context.__enter__) for name, context in starting.items()}
        futures.wait(entered.values())
    started: dict[str, Service] = {}
    for name, future in entered.items():
        if future.exception() is None:
            started[name] = future.result()
            stack.push(starting[name])
    for future in entered.values():
        future.result()  # raises the first failure, once every started one is in the stack
    return started


def _rates(runs: list[dict[str, float]]) -> str:
    return ", ".join(f"{run['per_second']:.0f}" for run in runs)
