"""The container image, built by `make image` as on a fresh machine (mmdebstrap and buildah
from Debian's packages, no registry): it runs as a non-root user, holds no compiler, pip or
package manager, its entrypoint answers --version and serves, and its entrypoint, user and
port are the ones the Kubernetes manifests use. Containers cannot run on these machines, so
the image's own filesystem is entered with chroot. The image, the manifests and the service's
settings are read together: the settings the pod gets parse, and its port is the image's.
Slow (a Debian root filesystem is downloaded: about two minutes)."""

import json
import os
import shutil
import signal
import subprocess
import tarfile
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import psycopg
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ledger.store.embedded import service_login_url
from service.config import Settings
from tests.conftest import unique
from tests.k8s.manifests import (
    containers,
    environment,
    kubectl,
    named,
    pod_spec,
    port_of,
    rendered,
    workloads,
)

pytestmark = [pytest.mark.slow, pytest.mark.packaging, pytest.mark.timeout(1200)]

ROOT = Path(__file__).resolve().parents[2]
IMAGE_DIR = ROOT / "dist" / "image"
BUILD_SECONDS = 900
START_SECONDS = 30.0
STOP_SECONDS = 20
ARCHIVE_CEILING_BYTES = 80 * 1024 * 1024
"""Compressed layers of today's image: about 40 MB (README "Container image")."""
FORBIDDEN = {"pip", "pip3", "gcc", "cc", "c++", "g++", "ld", "as", "apt", "apt-get", "dpkg"}
"""Executables an image must not hold: compilers, pip, package managers."""


@dataclass(frozen=True)
class Image:
    rootfs: Path
    archive: Path
    config: dict[str, Any]

    @property
    def path(self) -> list[str]:
        env: dict[str, str] = dict(item.split("=", 1) for item in self.config["Env"])
        return env["PATH"].split(":")

    def which(self, command: str) -> Path | None:
        for folder in self.path:
            candidate = self.rootfs / folder.lstrip("/") / command
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return candidate
        return None


@pytest.fixture(scope="module")
def image() -> Image:
    if os.geteuid() != 0:
        pytest.skip("building the image and entering it with chroot need root")
    done = subprocess.run(
        ["make", "image"],  # noqa: S607 - the project's own make target
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=BUILD_SECONDS,
        check=False,
    )
    assert done.returncode == 0, f"make image failed:\n{done.stdout[-4000:]}{done.stderr[-4000:]}"
    built = json.loads((IMAGE_DIR / "image.json").read_text("utf-8"))
    version = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["version"]
    archive = IMAGE_DIR / f"loyalty-ledger-{version}.oci.tar"
    assert built["name"] == f"loyalty-ledger:{version}"
    return Image(IMAGE_DIR / "rootfs", archive, built["config"])


def _in_image(image: Image, *command: str, env: dict[str, str] | None = None) -> list[str]:
    """The command as the image's user would run it, with only the image's environment."""
    user = image.config["User"]
    environment = dict(item.split("=", 1) for item in image.config["Env"]) | (env or {})
    chroot = shutil.which("chroot")
    assert chroot is not None
    return [
        "/usr/bin/env",
        "-i",
        *(f"{name}={value}" for name, value in environment.items()),
        chroot,
        f"--userspec={user}",
        str(image.rootfs),
        *command,
    ]


def test_the_image_is_an_oci_archive_of_a_non_root_service(image: Image) -> None:
    with tarfile.open(image.archive) as archive:
        layout = json.load(archive.extractfile("oci-layout"))  # type: ignore[arg-type]
    assert layout == {"imageLayoutVersion": "1.0.0"}
    assert image.archive.stat().st_size < ARCHIVE_CEILING_BYTES
    user, group = image.config["User"].split(":")
    assert int(user) > 0 and int(group) > 0
    assert image.config["Entrypoint"] == ["loyalty-ledger"]
    assert image.config["Cmd"] == ["serve"]
    assert set(image.config["ExposedPorts"]) == {"50051"}
    assert image.which("loyalty-ledger") is not None


def test_the_image_holds_no_compiler_no_pip_and_no_package_manager(image: Image) -> None:
    found = [
        str(path.relative_to(image.rootfs))
        for path in image.rootfs.rglob("*")
        if path.name in FORBIDDEN and not path.is_dir()
    ]
    assert found == []
    site = image.rootfs / "opt" / "loyalty-ledger" / "lib" / "python3.11" / "site-packages"
    assert (site / "service").is_dir() and (site / "ledger" / "store" / "migrations").is_dir()
    assert not (site / "pip").exists() and not (site / "setuptools").exists()
    assert not (site / "pgserver").exists()  # the embedded database is for development only


def test_its_entrypoint_answers_version_as_the_images_user(image: Image) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["version"]

    done = subprocess.run(  # noqa: S603 - the image's own entrypoint
        _in_image(image, *image.config["Entrypoint"], "--version"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert (done.returncode, done.stdout.strip()) == (0, f"loyalty-ledger {version}"), done.stderr


MACHINE_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
"""The machine's own PostgreSQL, where the suite's server is the embedded one: the image's
filesystem cannot see the embedded server's Unix socket, and it serves no TCP."""


@pytest.fixture
def tcp_database(server_url: str) -> Iterator[str]:
    """A fresh, empty database of this test's own on a server the image reaches over TCP."""
    host = str(conninfo_to_dict(server_url).get("host") or "")
    server = server_url if host and not host.startswith("/") else MACHINE_SERVER
    try:
        admin = psycopg.connect(server, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError:
        pytest.skip("no PostgreSQL reachable over TCP for the image (the suite's is a socket)")
    name = unique("image").replace("-", "_")
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(server, dbname=name)
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def test_the_image_migrates_serves_and_drains_on_sigterm(image: Image, tcp_database: str) -> None:
    """What the migration Job and the Deployment run: `migrate`, then the entrypoint's
    default command, serving until SIGTERM."""
    settings = {
        "DATABASE_URL": tcp_database,
        "LEDGER_AUTH": "none",
        "LEDGER_PLAINTEXT": "1",
    }
    migrate = subprocess.run(  # noqa: S603 - the image's own entrypoint
        _in_image(image, "loyalty-ledger", "migrate", env=settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    # The owner migrated; the server logs in as the service's own login (README "Database
    # roles"), as the Deployment does: it refuses a superuser.
    settings["DATABASE_URL"] = service_login_url(tcp_database)
    port = _free_port()
    settings["LEDGER_LISTEN_ADDRESS"] = f"127.0.0.1:{port}"
    server = subprocess.Popen(  # noqa: S603 - the image's own entrypoint
        _in_image(
            image, *image.config["Entrypoint"], *image.config["Cmd"], "--no-migrate", env=settings
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert _serving(f"127.0.0.1:{port}"), "the image's server never answered SERVING"
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=STOP_SECONDS)
        assert server.returncode == 0, output
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _serving(target: str) -> bool:
    deadline = time.monotonic() + START_SECONDS
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=2)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return True
            except grpc.RpcError:
                pass
            time.sleep(0.2)
    return False


@pytest.mark.skipif(kubectl() is None, reason="kubectl is not installed: no manifests to read")
@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_the_manifests_run_the_image_as_it_was_built(image: Image, overlay: str) -> None:
    """Every workload's command is on the image's PATH and its user is the image's, and the
    server's gRPC port is the one the image exposes: an image and manifests that disagree
    fail here, not in a cluster."""
    user = int(image.config["User"].split(":")[0])
    ours = [w for w in workloads(rendered(overlay)) if _runs_our_image(w)]
    assert {w["metadata"]["name"] for w in ours} >= {"loyalty-ledger", "loyalty-ledger-migrate"}
    for workload in ours:
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsUser"] == user, workload["metadata"]["name"]
        for container in containers(workload):
            assert image.which(container["command"][0]) is not None, container["name"]
    objects = rendered(overlay)
    server = named(objects, "Deployment", "loyalty-ledger")
    ports = {
        str(port["containerPort"])
        for container in containers(server)
        for port in container.get("ports", [])
        if port["name"] == "grpc"
    }
    assert ports and ports <= set(image.config["ExposedPorts"])
    # And the service's own settings: what the image and the manifests set together parses,
    # and the server listens on the port the image exposes.
    [container] = [c for c in containers(server) if c["name"] == "server"]
    given = {
        name: value
        for name, value in environment(objects, container).items()
        if isinstance(value, str) and "$(" not in value
    }
    image_env = dict(item.split("=", 1) for item in image.config["Env"])
    settings = Settings.from_env({**image_env, **given})
    assert {str(port_of(settings.listen_address))} == ports
    assert not [name for name in image_env if name.startswith("LEDGER_")]


def _runs_our_image(workload: dict[str, Any]) -> bool:
    return any("loyalty-ledger" in c["image"] for c in containers(workload))
