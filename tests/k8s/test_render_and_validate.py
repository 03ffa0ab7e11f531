"""Both overlays render, and every object they hold is one a cluster would accept: checked
offline against the Kubernetes API's own schemas (kubernetes-validate, strict: an unknown or
misspelled field fails), and the CloudNativePG Cluster and the Prometheus Operator's objects
against the vendored subsets of their CRDs' schemas (deploy/k8s/schemas)."""

import copy
import json
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from tests.k8s.manifests import K8S, OVERLAYS, Object, named, rendered

KUBERNETES_VERSIONS = ("1.31", "1.37")
"""The oldest Kubernetes the manifests need (the preStop `sleep` action, the PDB's
unhealthyPodEvictionPolicy) and the newest kubernetes-validate knows."""
CRD_SCHEMAS = {
    ("postgresql.cnpg.io/v1", "Cluster"): K8S / "schemas" / "cnpg-cluster-v1.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): K8S
    / "schemas"
    / "monitoring-prometheusrule-v1.json",
    ("monitoring.coreos.com/v1", "PodMonitor"): K8S / "schemas" / "monitoring-podmonitor-v1.json",
}


def validate(item: Object, version: str) -> None:
    """Raises if the object would be refused; an unknown kind is an error too."""
    schema_file = CRD_SCHEMAS.get((item["apiVersion"], item["kind"]))
    if schema_file is not None:
        schema: dict[str, Any] = json.loads(schema_file.read_text("utf-8"))
        jsonschema.Draft202012Validator(schema).validate(item)
        return
    kubernetes_validate.validate(item, version, strict=True)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_of_the_overlay_is_valid_for_the_cluster(overlay: str, version: str) -> None:
    objects = rendered(overlay)
    assert {item["kind"] for item in objects} >= {
        "Namespace",
        "ServiceAccount",
        "ConfigMap",
        "Deployment",
        "Service",
        "Job",
        "CronJob",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "NetworkPolicy",
        "Cluster",
    }
    for item in objects:
        where = f"{item['kind']}/{item['metadata']['name']}"
        try:
            validate(item, version)
        except (kubernetes_validate.ValidationError, jsonschema.ValidationError) as error:
            path = ".".join(str(part) for part in error.path)
            pytest.fail(f"{overlay}: {where} is invalid at {path}: {error.message}")


def test_a_misspelled_field_is_refused_by_both_schemas() -> None:
    """The validation above is worth something only if a typo fails it."""
    objects = rendered("prod")
    server = copy.deepcopy(named(objects, "Deployment", "loyalty-ledger"))
    server["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["grpc"]["prot"] = 1
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(server, KUBERNETES_VERSIONS[0])

    cluster = copy.deepcopy(named(objects, "Cluster", "loyalty-ledger-db"))
    cluster["spec"]["instance"] = cluster["spec"].pop("instances")
    with pytest.raises(jsonschema.ValidationError):
        validate(cluster, KUBERNETES_VERSIONS[0])

    rules = named(objects, "PrometheusRule", "loyalty-ledger")
    for field, value in (("expression", "up"), ("for", "5 minutes"), ("record", "ledger:both")):
        wrong = copy.deepcopy(rules)
        wrong["spec"]["groups"][0]["rules"][0][field] = value
        with pytest.raises(jsonschema.ValidationError):
            validate(wrong, KUBERNETES_VERSIONS[0])
    monitor = copy.deepcopy(named(objects, "PodMonitor", "loyalty-ledger"))
    monitor["spec"]["podMetricsEndpoints"][0]["ports"] = "metrics"
    with pytest.raises(jsonschema.ValidationError):
        validate(monitor, KUBERNETES_VERSIONS[0])
