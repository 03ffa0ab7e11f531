"""What every benchmark needs: fresh databases, the service as its own process, the load
generator as another, and memory readings from /proc."""

import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc
import psycopg
from grpc_health.v1 import health_pb2, health_pb2_grpc
from psycopg import sql
from psycopg.conninfo import make_conninfo

from ledger import bootstrap

ROOT = Path(__file__).resolve().parents[1]
STARTUP_SECONDS = 60.0


@contextlib.contextmanager
def fresh_database(server_url: str, prefix: str, *, migrated: bool = True) -> Iterator[str]:
    """A new database on the server (migrated to today's schema unless told), dropped
    afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_conninfo(server_url, dbname=name)
    try:
        if migrated:
            bootstrap.migrate(url)
        yield url
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def accounts_file(accounts: list[str], name: str = "accounts") -> Path:
    """The accounts a load generator cycles through, as the file it reads them from."""
    path = ROOT / ".bench" / f"{name}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(accounts))
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def memory_kib(pid: int, field: str) -> int:
    """VmRSS (now) or VmHWM (peak) of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise LookupError(field)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


@dataclass
class Service:
    """`loyalty-ledger serve` in its own process."""

    process: subprocess.Popen[bytes]
    target: str

    @classmethod
    @contextlib.contextmanager
    def running(
        cls,
        database_url: str,
        python_path: str | None = None,
        token: str | None = None,
        settings: Mapping[str, str] | None = None,
    ) -> Iterator["Service"]:
        """`python_path`: serve another tree's code (benchmarks/baseline.py) instead of
        today's. `token`: authenticate callers, with this token the one caller's (of every
        scope and program). `settings`: environment variables besides (or instead of) the
        ones set here."""
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "LEDGER_SWEEP_INTERVAL_SECONDS": "0",
            # Figures measure one thing each: the projection runner has figures of its own
            # (benchmarks/projections.py) and does not share the cores with the earn load.
            "LEDGER_RUN_PROJECTIONS": "0",
            "LEDGER_LOG_LEVEL": "WARNING",
            # The earn figures measure the ledger; authentication's cost has a figure of its
            # own. (Code from before authentication ignores both.)
            "LEDGER_AUTH": "none",
            "LEDGER_PLAINTEXT": "1",
            # The benchmark's databases are its own, reached as their superuser: today's
            # service and the baselines' (which predate the restricted login, and ignore
            # this) log in alike, so their ratios compare like with like.
            "LEDGER_ALLOW_PRIVILEGED_LOGIN": "true",
        }
        if python_path is not None:
            env["PYTHONPATH"] = python_path
        if token is not None:
            digest = hashlib.sha256(token.encode()).hexdigest()
            env["LEDGER_AUTH"] = "tokens"
            env["LEDGER_CALLERS"] = (
                '[[callers]]\nname = "bench"\nscopes = ["read", "write", "admin"]\n'
                f'programs = ["*"]\n[[callers.tokens]]\nsha256 = "{digest}"\n'
            )
        env.update(settings or {})
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "service.cli",
                "serve",
                "--no-migrate",
                "--listen",
                f"127.0.0.1:{port}",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=python_path.split(":")[0] if python_path else ROOT,
        )
        service = cls(process, f"127.0.0.1:{port}")
        try:
            service.wait_serving()
            yield service
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def wait_serving(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        with grpc.insecure_channel(self.target) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError("the service exited during start-up")
                with contextlib.suppress(grpc.RpcError):
                    response = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                    if response.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                time.sleep(0.1)
        raise TimeoutError("the service did not start serving")

    @property
    def pid(self) -> int:
        return self.process.pid


def run_load(
    target: str,
    kind: str,
    *,
    callers: int,
    seconds: float,
    accounts_file: Path | None = None,
    token: str | None = None,
) -> dict[str, float]:
    """The load generator in a process of its own; returns its JSON result."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.load",
        "--target",
        target,
        "--kind",
        kind,
        "--callers",
        str(callers),
        "--seconds",
        str(seconds),
    ]
    if accounts_file is not None:
        command += ["--accounts-file", str(accounts_file)]
    if token is not None:
        command += ["--token", token]
    completed = subprocess.run(
        command, check=True, capture_output=True, cwd=ROOT, timeout=seconds + 120
    )
    result: dict[str, float] = json.loads(completed.stdout)
    return result


def alternated_runs(
    target: str,
    loads: dict[str, tuple[str, Path]],
    *,
    callers: int,
    seconds: float,
    repeats: int,
) -> dict[str, list[dict[str, float]]]:
    """Each load (by label: the load generator's kind and its accounts file) run `repeats`
    times, the loads in turn, so that what else the host does falls on all of them alike."""
    runs: dict[str, list[dict[str, float]]] = {label: [] for label in loads}
    for _ in range(repeats):
        for label, (kind, accounts_file) in loads.items():
            runs[label].append(
                run_load(
                    target, kind, callers=callers, seconds=seconds, accounts_file=accounts_file
                )
            )
    return runs


def machine() -> dict[str, str]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = memory_kib(os.getpid(), "VmRSS")  # touch /proc to fail early if missing
    total = next(
        line.split()[1]
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    del memory
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory_gib": f"{int(total) / 1024 / 1024:.1f}",
        "python": sys.version.split()[0],
        "kernel": os.uname().release,
    }
