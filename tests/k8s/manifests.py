"""The rendered overlays of deploy/k8s, and ways to look into them."""

import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
RENDER_SECONDS = 60

Object = dict[str, Any]


def kubectl() -> str | None:
    return shutil.which("kubectl")


@cache
def rendered(overlay: str) -> tuple[Object, ...]:
    """`kubectl kustomize deploy/k8s/overlays/<overlay>`, parsed."""
    command = kubectl()
    assert command is not None
    done = subprocess.run(  # noqa: S603 - kubectl on our own manifests
        [command, "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=RENDER_SECONDS,
        check=False,
    )
    assert done.returncode == 0, f"kustomize failed for {overlay}:\n{done.stderr}"
    return tuple(item for item in yaml.safe_load_all(done.stdout) if item)


def named(objects: tuple[Object, ...], kind: str, name: str) -> Object:
    [found] = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def of_kind(objects: tuple[Object, ...], kind: str) -> list[Object]:
    return [o for o in objects if o["kind"] == kind]


def pod_spec(workload: Object) -> Object:
    """The pod template's spec of a Deployment, Job or CronJob."""
    if workload["kind"] == "CronJob":
        spec: Object = workload["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        return spec
    template_spec: Object = workload["spec"]["template"]["spec"]
    return template_spec


def pod_labels(workload: Object) -> dict[str, str]:
    if workload["kind"] == "CronJob":
        labels: dict[str, str] = workload["spec"]["jobTemplate"]["spec"]["template"]["metadata"][
            "labels"
        ]
        return labels
    template_labels: dict[str, str] = workload["spec"]["template"]["metadata"]["labels"]
    return template_labels


def workloads(objects: tuple[Object, ...]) -> list[Object]:
    return [o for o in objects if o["kind"] in {"Deployment", "Job", "CronJob"}]


def containers(workload: Object) -> Iterator[Object]:
    spec = pod_spec(workload)
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def label_selector_selects(selector: Object, labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels and matchExpressions, as Kubernetes reads them)."""
    if not selects(selector.get("matchLabels", {}), labels):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values", [])
        held = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }
        if not held[operator]:
            return False
    return True


def config_map(objects: tuple[Object, ...]) -> Object:
    """The ledger's settings (its generated name ends in a content hash)."""
    [found] = [
        o
        for o in of_kind(objects, "ConfigMap")
        if o["metadata"]["name"].startswith("loyalty-ledger-")
    ]
    return found


def environment(objects: tuple[Object, ...], container: Object) -> dict[str, Any]:
    """What the container's environment holds: ConfigMap values as strings, other sources
    (Secrets) as their `valueFrom`."""
    values: dict[str, Any] = {}
    for source in container.get("envFrom", []):
        reference = source["configMapRef"]["name"]
        values.update(named(objects, "ConfigMap", reference)["data"])
    for variable in container.get("env", []):
        values[variable["name"]] = variable.get("value", variable.get("valueFrom"))
    return values


def port_of(listen_address: str) -> int:
    """The port of a LEDGER_LISTEN_ADDRESS (host:port, [v6]:port)."""
    return int(listen_address.rsplit(":", 1)[1])
