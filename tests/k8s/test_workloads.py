"""What the rendered workloads promise: restricted pods, honest probes, a shutdown that lets
calls finish, the migration apart from the servers, one sweep at a time."""

import pytest

from service.server import LIVENESS_CHECK
from tests.k8s.manifests import (
    OVERLAYS,
    Object,
    config_map,
    containers,
    environment,
    named,
    of_kind,
    pod_labels,
    pod_spec,
    rendered,
    selects,
    workloads,
)

SERVER = "loyalty-ledger"
PROJECTIONS = "loyalty-ledger-projections"
MIGRATE = "loyalty-ledger-migrate"
SWEEP = "loyalty-ledger-sweep"
OWNER_SECRET = "loyalty-ledger-db-app"
SERVICE_LOGIN_SECRET = "loyalty-ledger-db-service"
SHUTDOWN_MARGIN_SECONDS = 3
"""Beyond the preStop pause and the calls' grace: background tasks stop, the pool closes."""


def server(objects: tuple[Object, ...]) -> Object:
    return named(objects, "Deployment", SERVER)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_runs_restricted_without_a_service_account_token(overlay: str) -> None:
    objects = rendered(overlay)
    accounts = {o["metadata"]["name"]: o for o in of_kind(objects, "ServiceAccount")}
    assert len(workloads(objects)) == 4
    for workload in workloads(objects):
        spec = pod_spec(workload)
        where = f"{workload['kind']}/{workload['metadata']['name']}"
        assert spec["automountServiceAccountToken"] is False, where
        assert accounts[spec["serviceAccountName"]]["automountServiceAccountToken"] is False
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        for container in containers(workload):
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["capabilities"] == {"drop": ["ALL"]}, where
            assert security["seccompProfile"] == {"type": "RuntimeDefault"}, where
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][bound]), where
    for namespace in of_kind(objects, "Namespace"):
        assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == (
            "restricted"
        )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_servers_are_ready_on_health_and_alive_on_liveness_over_native_grpc_probes(
    overlay: str,
) -> None:
    [container] = pod_spec(server(rendered(overlay)))["containers"]
    readiness = container["readinessProbe"]["grpc"]
    assert readiness.get("service", "") == "", "readiness asks the database-aware health"
    for probe in ("livenessProbe", "startupProbe"):
        assert container[probe]["grpc"]["service"] == LIVENESS_CHECK
        assert container[probe]["grpc"]["port"] == readiness["port"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_a_stopping_server_gets_its_pause_and_its_calls_grace_before_it_is_killed(
    overlay: str,
) -> None:
    objects = rendered(overlay)
    spec = pod_spec(server(objects))
    [container] = spec["containers"]
    pause = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    grace = int(environment(objects, container)["LEDGER_SHUTDOWN_GRACE_SECONDS"])
    assert pause > 0
    assert spec["terminationGracePeriodSeconds"] >= pause + grace + SHUTDOWN_MARGIN_SECONDS


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_migration_job_holds_the_owners_login(overlay: str) -> None:
    objects = rendered(overlay)
    migrate = named(objects, "Job", MIGRATE)
    [job_container] = pod_spec(migrate)["containers"]
    assert job_container["args"] == ["migrate"]
    assert "envFrom" not in job_container
    assert environment(objects, job_container) == {
        "DATABASE_URL": {"secretKeyRef": {"name": OWNER_SECRET, "key": "uri"}}
    }
    for workload in workloads(objects):
        if workload is migrate:
            continue
        for container in containers(workload):
            values = environment(objects, container)
            owner_keys = {
                value["secretKeyRef"]["key"]
                for value in values.values()
                if isinstance(value, dict) and value["secretKeyRef"]["name"] == OWNER_SECRET
            }
            assert owner_keys <= {"host", "port", "dbname"}, workload["metadata"]["name"]
            assert values["PGUSER"]["secretKeyRef"]["name"] == SERVICE_LOGIN_SECRET
            assert values["PGPASSWORD"]["secretKeyRef"]["name"] == SERVICE_LOGIN_SECRET
            assert values["LEDGER_DB_ROLE"] == "loyalty_ledger_app"
    [server_container] = pod_spec(server(objects))["containers"]
    assert server_container["args"] == ["serve", "--no-migrate"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_sweep_never_runs_twice_at_once_and_the_runner_is_out_of_the_servers(
    overlay: str,
) -> None:
    objects = rendered(overlay)
    sweep = named(objects, "CronJob", SWEEP)
    assert sweep["spec"]["concurrencyPolicy"] == "Forbid"
    assert [c["args"] for c in containers(sweep)] == [["sweep"]]
    runner = named(objects, "Deployment", PROJECTIONS)
    assert [c["args"] for c in containers(runner)] == [["projections", "run"]]
    assert config_map(objects)["data"]["LEDGER_RUN_PROJECTIONS"] == "0"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_budgets_and_the_autoscaler_point_at_the_servers(overlay: str) -> None:
    objects = rendered(overlay)
    deployment = server(objects)
    labels = pod_labels(deployment)
    [container] = pod_spec(deployment)["containers"]
    port_names = {port["name"] for port in container["ports"]}
    services = {o["metadata"]["name"]: o for o in of_kind(objects, "Service")}
    assert services["loyalty-ledger-headless"]["spec"]["clusterIP"] == "None"
    assert services["loyalty-ledger"]["spec"]["type"] == "ClusterIP"
    for service in services.values():
        assert selects(service["spec"]["selector"], labels)
        assert {port["targetPort"] for port in service["spec"]["ports"]} <= port_names
    budget = named(objects, "PodDisruptionBudget", SERVER)
    assert selects(budget["spec"]["selector"]["matchLabels"], labels)
    autoscaler = named(objects, "HorizontalPodAutoscaler", SERVER)
    assert autoscaler["spec"]["scaleTargetRef"]["name"] == SERVER
    assert "replicas" not in deployment["spec"], "the autoscaler owns the count"
    if overlay == "prod":
        # A drain (one pod at a time) never leaves the service without a ready server.
        assert autoscaler["spec"]["minReplicas"] > budget["spec"]["maxUnavailable"]
