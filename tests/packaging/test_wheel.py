"""The wheel is all an image needs: built from the tree, installed with constraints.txt into a
fresh venv outside the checkout, its `loyalty-ledger` migrates an empty database, serves it and
answers a short flow of calls. Slow (a venv and a pip install: a minute or so) and needs PyPI
or a pip cache: `pytest -m packaging`."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import grpc
import psycopg
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from packaging.utils import canonicalize_name
from psycopg import sql
from psycopg.conninfo import make_conninfo

from ledger.store.embedded import service_login_url
from ledger.store.migrate import migration_names
from loyalty.v1 import ledger_pb2 as pb
from loyalty.v1 import ledger_pb2_grpc
from tests.bearer import bearer_token, callers_toml

pytestmark = [pytest.mark.slow, pytest.mark.packaging, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
STORE = ROOT / "ledger" / "store"
LEFT_OUT_OF_THE_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", ".data", ".bench", "build", "dist", "*.egg-info", "__pycache__", ".*_cache"
)
"""What a build never needs (and the checkout's own build output, which setuptools reuses)."""
BUILD_SECONDS = 300
INSTALL_SECONDS = 600
COMMAND_SECONDS = 60
START_SECONDS = 30.0
STOP_SECONDS = 20
TOKEN = "wheel-smoke-test-token"


def _run(
    command: list[str],
    timeout: float,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> str:
    """Runs a command; its output is the test's failure message if it fails."""
    done = subprocess.run(  # noqa: S603 - our own tools, never input
        command, capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd, env=env
    )
    assert done.returncode == 0, f"{command} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of the working tree (gen/ included), built from a copy so the checkout's
    build/ neither leaks in nor gets written."""
    assert (ROOT / "gen" / "loyalty" / "v1").is_dir(), "run `make gen` first"
    source = tmp_path_factory.mktemp("source") / "loyalty-ledger"
    shutil.copytree(ROOT, source, ignore=LEFT_OUT_OF_THE_SOURCE)
    out = tmp_path_factory.mktemp("dist")
    _run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--quiet", "-w", str(out)],
        BUILD_SECONDS,
    )
    [built] = out.glob("loyalty_ledger-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv outside the checkout holding the wheel and its pinned dependencies only."""
    home = tmp_path_factory.mktemp("image") / "venv"
    _run([sys.executable, "-m", "venv", str(home)], COMMAND_SECONDS)
    _run(
        [
            str(home / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-c",
            str(ROOT / "constraints.txt"),
            str(wheel),
        ],
        INSTALL_SECONDS,
    )
    return home


@pytest.fixture
def empty_database(server_url: str) -> Iterator[str]:
    name = f"loyalty_wheel_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(server_url, dbname=name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _image_environment(database_url: str) -> dict[str, str]:
    """As a container would have it: no checkout on any path, no development venv."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PIP_INDEX_URL", "PIP_CACHE_DIR")
    environment = {name: os.environ[name] for name in keep if name in os.environ}
    environment.update(
        DATABASE_URL=database_url,
        LEDGER_SWEEP_INTERVAL_SECONDS="0",
        LEDGER_SHUTDOWN_GRACE_SECONDS="1",
        OTEL_SDK_DISABLED="true",
        # Plaintext on loopback, but with callers as a deployment has them.
        LEDGER_PLAINTEXT="1",
        LEDGER_CALLERS=callers_toml(("smoke", TOKEN, ["admin", "write", "read"], ["*"])),
    )
    return environment


def test_the_wheel_holds_the_service_its_sql_and_the_generated_api_and_nothing_else(
    wheel: Path,
) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        [entry_points] = [name for name in names if name.endswith(".dist-info/entry_points.txt")]
        scripts = archive.read(entry_points).decode()

    def shipped(folder: str) -> set[str]:
        return {Path(name).name for name in names if name.startswith(f"ledger/store/{folder}/")}

    assert shipped("migrations") >= {p.name for p in (STORE / "migrations").glob("*.sql")}
    assert shipped("queries") >= {p.name for p in (STORE / "queries").glob("*.sql")}
    assert len([name for name in names if name.endswith(".sql")]) == len(
        list(STORE.glob("*/*.sql"))
    )
    assert {
        "loyalty/v1/ledger_pb2.py",
        "loyalty/v1/ledger_pb2_grpc.py",
        "ledger/py.typed",
        "service/cli.py",
    } <= names
    assert not [name for name in names if name.startswith(("tests/", "benchmarks/", "gen/"))]
    assert "loyalty-ledger = service.cli:main" in scripts
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)


def test_the_installed_venv_holds_exactly_the_pinned_dependencies(venv: Path) -> None:
    frozen = _run(
        [str(venv / "bin" / "python"), "-m", "pip", "freeze", "--exclude", "loyalty-ledger"],
        COMMAND_SECONDS,
    ).splitlines()
    pinned = [
        line
        for line in (ROOT / "constraints.txt").read_text("utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    assert _normalized(frozen) == _normalized(pinned), (
        "constraints.txt is not what the wheel installs: run `make constraints`"
    )
    where = _run(
        [str(venv / "bin" / "python"), "-c", "import ledger, loyalty; print(ledger.__file__)"],
        COMMAND_SECONDS,
        cwd=venv,
        env=_image_environment(""),
    )
    assert Path(where.strip()).is_relative_to(venv), "imported the checkout, not the wheel"


def test_the_installed_command_migrates_an_empty_database_and_serves_it(
    venv: Path, empty_database: str, tmp_path: Path
) -> None:
    command = str(venv / "bin" / "loyalty-ledger")
    environment = _image_environment(empty_database)

    migrated = _run([command, "migrate"], COMMAND_SECONDS, cwd=tmp_path, env=environment)
    assert json.loads(migrated) == {"applied": sorted(migration_names())}

    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(  # noqa: S603 - the installed entry point
            [command, "serve", "--no-migrate", "--listen", "127.0.0.1:0"],
            cwd=tmp_path,
            # The owner migrated; the service logs in as its own login (a superuser it refuses).
            env=_image_environment(service_login_url(empty_database)),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        port = _port_served(server, log_path)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            _wait_until_serving(channel)  # health needs no token
            with_token = grpc.intercept_channel(channel, bearer_token(TOKEN))
            account = _smoke_flow(ledger_pb2_grpc.LedgerServiceStub(with_token))
        assert (account.balances.available, account.balances.lifetime_earned) == (250, 250)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            exit_code = server.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
            raise
    assert exit_code == 0, f"serve exited {exit_code} on SIGTERM:\n{log_path.read_text()}"


def _normalized(pins: list[str]) -> dict[str, str]:
    """name -> version, names as pip compares them (typing_extensions is typing-extensions)."""
    return {
        canonicalize_name(name): version
        for name, version in (pin.split("==", 1) for pin in pins if pin.strip())
    }


def _port_served(server: "subprocess.Popen[bytes]", log_path: Path) -> int:
    """The port from the server's `serving` log line (it listens on port 0)."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        for line in log_path.read_text(errors="replace").splitlines():
            fields = json.loads(line) if line.startswith("{") else {}
            if fields.get("event") == "serving":
                return int(fields["port"])
        assert server.poll() is None, f"serve exited:\n{log_path.read_text()}"
        time.sleep(0.1)
    raise AssertionError(f"no `serving` line within {START_SECONDS} s:\n{log_path.read_text()}")


def _wait_until_serving(channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        try:
            answer = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
        except grpc.RpcError:
            answer = None  # not listening yet
        if answer is not None and answer.status == health_pb2.HealthCheckResponse.SERVING:
            return
        time.sleep(0.05)
    raise AssertionError(f"health not SERVING within {START_SECONDS} s")


def _smoke_flow(stub: ledger_pb2_grpc.LedgerServiceStub) -> pb.Account:
    """Create a program, enroll, earn twice; the account as GetAccount shows it then."""
    program_id = f"wheel-{uuid.uuid4().hex[:8]}"
    stub.CreateProgram(
        pb.CreateProgramRequest(
            request_id=str(uuid.uuid4()),
            program_id=program_id,
            program=pb.Program(
                earn_rates=[pb.EarnRate(currency_code="USD", points=1, per_major_units=1)]
            ),
        ),
        timeout=10,
    )
    enrolled = stub.EnrollMember(
        pb.EnrollMemberRequest(
            request_id=str(uuid.uuid4()), parent=f"programs/{program_id}", member_id="ada"
        ),
        timeout=10,
    )
    for points in (200, 50):
        stub.EarnPoints(
            pb.EarnPointsRequest(
                request_id=str(uuid.uuid4()),
                account=enrolled.account.name,
                points=points,
                reason="welcome",
            ),
            timeout=10,
        )
    return stub.GetAccount(pb.GetAccountRequest(name=enrolled.account.name), timeout=10).account
