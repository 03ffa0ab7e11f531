"""Who may talk to the ledger's pods and whom they may talk to; the database the overlays
bring and the logins the pods use on it."""

import base64
from typing import Any

import pytest

from tests.k8s.manifests import (
    OVERLAYS,
    Object,
    containers,
    environment,
    label_selector_selects,
    named,
    of_kind,
    pod_labels,
    rendered,
    workloads,
)

GRPC_IN = {(50051, "TCP")}
METRICS_IN = {(9464, "TCP")}
ALLOWED_OUT = {(5432, "TCP"), (53, "UDP"), (53, "TCP"), (4317, "TCP"), (4318, "TCP")}
CLUSTER = "loyalty-ledger-db"
INSTANCES = {"dev": 1, "prod": 3}


def _policies_of(objects: tuple[Object, ...], labels: dict[str, str]) -> list[Object]:
    return [
        policy
        for policy in of_kind(objects, "NetworkPolicy")
        if label_selector_selects(policy["spec"]["podSelector"], labels)
    ]


def _ports(rules: list[dict[str, Any]]) -> set[tuple[int, str]]:
    return {(port["port"], port["protocol"]) for rule in rules for port in rule["ports"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_grpc_and_prometheus_come_in_and_only_postgres_dns_and_otlp_go_out(
    overlay: str,
) -> None:
    objects = rendered(overlay)
    for workload in workloads(objects):
        labels = pod_labels(workload)
        policies = _policies_of(objects, labels)
        where = workload["metadata"]["name"]
        ingress = [rule for p in policies for rule in p["spec"].get("ingress", [])]
        egress = [rule for p in policies for rule in p["spec"].get("egress", [])]
        assert any("Ingress" in p["spec"]["policyTypes"] for p in policies), where
        assert any("Egress" in p["spec"]["policyTypes"] for p in policies), where
        name = workload["metadata"]["name"] if workload["kind"] == "Deployment" else None
        expected_in = {
            "loyalty-ledger": GRPC_IN | METRICS_IN,
            # The runners serve nothing but their metrics.
            "loyalty-ledger-projections": METRICS_IN,
        }.get(name or "", set())
        assert _ports(ingress) == expected_in, where
        for rule in ingress:
            if _ports([rule]) & METRICS_IN:
                # No authentication on /metrics: only Prometheus' pods, never any source.
                assert _ports([rule]) == METRICS_IN, where
                [source] = rule["from"]
                assert source["podSelector"]["matchLabels"], where
                assert source["namespaceSelector"]["matchLabels"], where
        assert all(rule.get("ports") for rule in ingress + egress), "a rule open on every port"
        assert _ports(egress) <= ALLOWED_OUT, where
        [postgres] = [rule for rule in egress if _ports([rule]) == {(5432, "TCP")}]
        [database_pods] = postgres["to"]
        assert database_pods["podSelector"]["matchLabels"] == {"cnpg.io/cluster": CLUSTER}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_overlay_brings_its_cluster_and_the_pods_log_in_as_the_service_role(
    overlay: str,
) -> None:
    objects = rendered(overlay)
    cluster = named(objects, "Cluster", CLUSTER)
    spec = cluster["spec"]
    assert spec["instances"] == INSTANCES[overlay]
    roles = {role["name"]: role for role in spec["managed"]["roles"]}
    assert roles["loyalty_ledger_app"]["login"] is False
    [login] = [role for role in roles.values() if role.get("login")]
    assert login["inRoles"] == ["loyalty_ledger_app"]
    assert login["name"] != spec["bootstrap"]["initdb"]["owner"]
    for workload in workloads(objects):
        for container in containers(workload):
            values = environment(objects, container)
            for value in values.values():
                if isinstance(value, dict) and "secretKeyRef" in value:
                    secret = value["secretKeyRef"]["name"]
                    # The operator names the owner's Secret <cluster>-app.
                    assert secret in {f"{CLUSTER}-app", login["passwordSecret"]["name"]}
    secrets = {s["metadata"]["name"]: s for s in of_kind(objects, "Secret")}
    if overlay == "prod":
        assert not secrets, "a production password never lives in the repository"
        assert spec["postgresql"]["synchronous"]["number"] >= 1
    else:
        secret = secrets[login["passwordSecret"]["name"]]
        assert secret["type"] == "kubernetes.io/basic-auth"
        assert base64.b64decode(secret["data"]["username"]).decode() == login["name"]
        assert secret["data"]["password"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_servers_read_from_the_clusters_replicas_where_it_has_some(overlay: str) -> None:
    """Three instances (prod): reads of one account go to CloudNativePG's `-ro` Service, as
    the service's login, like DATABASE_URL. One instance (dev): no replica to read."""
    objects = rendered(overlay)
    server = named(objects, "Deployment", "loyalty-ledger")
    [container] = [c for c in containers(server) if c["name"] == "server"]
    values = environment(objects, container)
    if INSTANCES[overlay] == 1:
        assert "LEDGER_READ_DATABASE_URL" not in values
        return
    names = [variable["name"] for variable in container["env"]]
    read_url = values["LEDGER_READ_DATABASE_URL"]
    assert read_url == values["DATABASE_URL"].replace("$(PGHOST)", f"{CLUSTER}-ro")
    # $(...) expands only names defined earlier in the list.
    assert names.index("LEDGER_READ_DATABASE_URL") > names.index("PGUSER")
