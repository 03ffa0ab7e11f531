"""The manifests and the code agree: every LEDGER_* variable set is one the code reads, the
settings parse as service/config.py parses them, the ports are one port (gRPC's and the
Prometheus endpoint's), the checkpoint key is where its setting says, and every command is
one the CLI takes."""

import ast
import base64
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.checkpointing import checkpoint_signer
from service.cli import _parser as cli_parser
from service.config import Settings
from tests.k8s.manifests import (
    OVERLAYS,
    ROOT,
    config_map,
    containers,
    environment,
    named,
    of_kind,
    pod_labels,
    pod_spec,
    port_of,
    rendered,
    selects,
    workloads,
)


class _ReadsRecorded(dict[str, str]):
    """An environment that remembers which names were asked of it."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[str] = set()

    def get(self, name: str, default: Any = None) -> Any:
        self.asked.add(name)
        return super().get(name, default)


def _names_settings_read(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    recording = _ReadsRecorded()
    monkeypatch.setattr(os, "environ", recording)
    Settings.from_env()
    monkeypatch.undo()
    return recording.asked


def _names_the_commands_read() -> set[str]:
    """LEDGER_* names passed to os.environ.get anywhere in service/ (the log level, read by
    the commands before Settings)."""
    names = set()
    for path in (ROOT / "service").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "get"
                and ast.unparse(node.func.value) == "os.environ"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and str(node.args[0].value).startswith("LEDGER_")
            ):
                names.add(str(node.args[0].value))
    return names


def _container_environments(overlay: str) -> Iterator[tuple[str, dict[str, Any]]]:
    objects = rendered(overlay)
    for workload in workloads(objects):
        for container in containers(workload):
            yield workload["metadata"]["name"], environment(objects, container)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_ledger_variable_the_manifests_set_is_read_by_the_code(
    overlay: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    read = _names_settings_read(monkeypatch) | _names_the_commands_read()
    assert "LEDGER_LOG_LEVEL" in read
    set_anywhere = set(config_map(rendered(overlay))["data"])
    for _, values in _container_environments(overlay):
        set_anywhere |= set(values)
    ledger_names = {name for name in set_anywhere if name.startswith("LEDGER_")}
    assert ledger_names, "no settings at all"
    assert ledger_names <= read, f"not read by the code: {sorted(ledger_names - read)}"
    assert "DATABASE_URL" in read


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_settings_parse_and_the_listen_port_is_the_probed_and_served_port(
    overlay: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = rendered(overlay)
    [container] = pod_spec(named(objects, "Deployment", "loyalty-ledger"))["containers"]
    values = environment(objects, container)
    for name in list(os.environ):
        if name.startswith("LEDGER_"):
            monkeypatch.delenv(name)
    for name, value in values.items():
        if isinstance(value, str) and name.startswith("LEDGER_"):
            monkeypatch.setenv(name, value)
    settings = Settings.from_env()

    assert settings.run_projections is False
    assert settings.database_role == "loyalty_ledger_app"
    assert settings.log_member_ids is False
    assert settings.allow_privileged_login is False
    [port] = [port for port in container["ports"] if port["name"] == "grpc"]
    assert port["containerPort"] == port_of(settings.listen_address)
    assert settings.listen_address.startswith("0.0.0.0:"), "reachable from outside the pod"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert container[probe]["grpc"]["port"] == port["containerPort"]
    for service in ("loyalty-ledger", "loyalty-ledger-headless"):
        [service_port] = named(objects, "Service", service)["spec"]["ports"]
        assert service_port["targetPort"] == port["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_runs_a_command_the_cli_takes(overlay: str) -> None:
    parser = cli_parser()
    commands = set()
    for workload in workloads(rendered(overlay)):
        for container in containers(workload):
            assert container["command"] == ["loyalty-ledger"]
            parsed = parser.parse_args(container["args"])  # exits (fails) if it does not
            commands.add(parsed.command)
    assert commands == {"serve", "migrate", "sweep", "projections"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_database_url_is_whole_once_kubernetes_expands_it(overlay: str) -> None:
    """$(VAR) in a value is expanded only from variables defined before it."""
    for where, values in _container_environments(overlay):
        url = values["DATABASE_URL"]
        if isinstance(url, dict):
            continue  # the migration Job's, straight from the Secret
        names = list(values)
        for reference in ("PGUSER", "PGHOST", "PGPORT", "PGDATABASE"):
            assert f"$({reference})" in url, where
            assert names.index(reference) < names.index("DATABASE_URL"), where
        assert "PGPASSWORD" in values and "$(PGPASSWORD)" not in url, where


def _settings_of(
    objects: tuple[Any, ...], deployment: str, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """The settings the Deployment's one container reads (`serve` and `projections run`
    alike read Settings.from_env)."""
    [container] = pod_spec(named(objects, "Deployment", deployment))["containers"]
    values = environment(objects, container)
    for name in list(os.environ):
        if name.startswith(("LEDGER_", "OTEL_")):
            monkeypatch.delenv(name)
    for name, value in values.items():
        if isinstance(value, str) and name.startswith("LEDGER_"):
            monkeypatch.setenv(name, value)
    return Settings.from_env()


@pytest.mark.parametrize("name", ["loyalty-ledger", "loyalty-ledger-projections"])
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_metrics_port_the_pods_declare_and_announce_is_the_one_the_process_opens(
    overlay: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On or off together: LEDGER_PROMETHEUS_ADDRESS, the container port `metrics`, the
    scrape annotations and (for the servers) the metrics Service's target."""
    objects = rendered(overlay)
    deployment = named(objects, "Deployment", name)
    [container] = pod_spec(deployment)["containers"]
    settings = _settings_of(objects, name, monkeypatch)
    declared = [port for port in container.get("ports", []) if port["name"] == "metrics"]
    annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
    services = [
        service
        for service in of_kind(objects, "Service")
        if any(port["targetPort"] == "metrics" for port in service["spec"]["ports"])
        and selects(service["spec"]["selector"], pod_labels(deployment))
    ]
    if settings.prometheus_address is None:
        assert declared == [] and services == []
        assert annotations.get("prometheus.io/scrape") != "true"
        return
    [port] = declared
    assert port["containerPort"] == port_of(settings.prometheus_address)
    assert settings.prometheus_address.startswith("0.0.0.0:"), "reachable from outside the pod"
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(port["containerPort"])
    assert annotations["prometheus.io/path"] == "/metrics"
    if name != "loyalty-ledger":
        return  # scraped by its pods' annotations (and a PodMonitor), no Service of its own
    [service] = services
    assert service["metadata"]["name"] not in {"loyalty-ledger", "loyalty-ledger-headless"}, (
        "no authentication: never on a Service callers use"
    )


def _mounted_secret_file(workload: Any, container: Any, path: str) -> tuple[Any, Any, str]:
    """The volume mount holding `path`, its volume, and the file's name inside it."""
    [mount] = [
        mount
        for mount in container.get("volumeMounts", [])
        if path.startswith(mount["mountPath"].rstrip("/") + "/")
    ]
    [volume] = [v for v in pod_spec(workload)["volumes"] if v["name"] == mount["name"]]
    return mount, volume, path[len(mount["mountPath"].rstrip("/")) + 1 :]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_checkpoint_key_is_a_secret_file_only_the_sweep_holds_read_only(
    overlay: str,
) -> None:
    objects = rendered(overlay)
    holders = set()
    for workload in workloads(objects):
        for container in containers(workload):
            key_file = environment(objects, container).get("LEDGER_CHECKPOINT_KEY_FILE")
            if key_file is None:
                assert not [
                    volume
                    for volume in pod_spec(workload).get("volumes", [])
                    if "checkpoint" in volume.get("secret", {}).get("secretName", "")
                ], workload["metadata"]["name"]
                continue
            holders.add(workload["metadata"]["name"])
            mount, volume, file_name = _mounted_secret_file(workload, container, key_file)
            assert mount["readOnly"] is True
            secret = volume["secret"]
            assert secret["secretName"].startswith("loyalty-ledger-checkpoint-key")
            assert secret["defaultMode"] == 0o400
            assert [item["path"] for item in secret["items"]] == [file_name]
            assert all(item.get("mode", 0o400) == 0o400 for item in secret["items"])
    assert holders == {"loyalty-ledger-sweep"}


def test_the_development_checkpoint_key_is_one_the_service_signs_with(tmp_path: Path) -> None:
    """The dev overlay's Secret holds a real Ed25519 private key under the mounted item's key:
    the dev sweep would otherwise stop at start (a bad key file is a bad setting)."""
    objects = rendered("dev")
    sweep = named(objects, "CronJob", "loyalty-ledger-sweep")
    [volume] = [v for v in pod_spec(sweep)["volumes"] if "secret" in v]
    secret = named(objects, "Secret", volume["secret"]["secretName"])
    [item] = volume["secret"]["items"]
    key_file = tmp_path / "checkpoint.key"
    key_file.write_bytes(base64.b64decode(secret["data"][item["key"]]))

    signer = checkpoint_signer(Settings(checkpoint_key_file=str(key_file)))

    assert signer is not None


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_pod_may_log_in_as_a_privileged_role(overlay: str) -> None:
    """The development opt-out of `serve`'s refusal is never set on a cluster."""
    objects = rendered(overlay)
    for workload in workloads(objects):
        for container in containers(workload):
            values = environment(objects, container)
            assert "LEDGER_ALLOW_PRIVILEGED_LOGIN" not in values, workload["metadata"]["name"]
