"""The alerting rules (deploy/k8s/components/prometheus-operator) say something true: every
expression parses as Prometheus parses it, names only metrics the ledger serves (the README's
"Metrics" table, which tests/e2e/test_telemetry.py scrapes), and every alert tells its
severity and what to look at; the PodMonitor scrapes the pods that serve metrics."""

import re
from datetime import timedelta
from typing import Any

import promql_parser
import pytest
import yaml

from tests.k8s.manifests import (
    K8S,
    ROOT,
    label_selector_selects,
    named,
    pod_labels,
    pod_spec,
    rendered,
    workloads,
)

SEVERITIES = {"critical", "warning"}
HISTOGRAM_SERIES = ("_bucket", "_count", "_sum")


def _documented_metrics() -> set[str]:
    """The first column of the README's metrics table."""
    readme = (ROOT / "README.md").read_text("utf-8")
    return set(re.findall(r"^\| `([a-z_]+)` \| (?:counter|gauge|histogram) \|", readme, re.M))


def _named_metrics(expression: str) -> set[str]:
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(expression), visit)
    return names


def _served(name: str, documented: set[str]) -> bool:
    if name in documented:
        return True
    return any(
        name.endswith(suffix) and name[: -len(suffix)] in documented for suffix in HISTOGRAM_SERIES
    )


def _alerts() -> list[dict[str, Any]]:
    """Read from the component itself (rendering only adds the namespace): the tests are
    made from it at collection, where kubectl may be missing."""
    rules = yaml.safe_load((K8S / "components" / "prometheus-operator" / "rules.yaml").read_text())
    return [rule for group in rules["spec"]["groups"] for rule in group["rules"]]


def test_the_readme_table_is_read() -> None:
    documented = _documented_metrics()
    assert {"ledger_store_errors_total", "rpc_server_call_duration_seconds"} <= documented
    assert not _served("ledger_no_such_metric", documented)
    assert _served("rpc_server_call_duration_seconds_bucket", documented)


@pytest.mark.parametrize("alert", _alerts(), ids=lambda rule: str(rule["alert"]))
def test_every_alert_parses_names_served_metrics_and_says_what_to_do(alert: dict[str, Any]) -> None:
    names = _named_metrics(alert["expr"])
    assert names, "an alert on no metric"
    documented = _documented_metrics()
    assert {name for name in names if not _served(name, documented)} == set()
    assert alert["labels"]["severity"] in SEVERITIES
    assert promql_parser.parse_duration(alert["for"]) >= timedelta(minutes=5), "not one blip"
    assert alert["annotations"]["summary"]
    assert alert["annotations"]["description"]
    assert re.fullmatch(r"LoyaltyLedger[A-Z][A-Za-z]+", alert["alert"])


def test_an_expression_that_does_not_parse_is_caught() -> None:
    with pytest.raises(ValueError, match="parenthesis"):
        _named_metrics("sum(rate(ledger_store_errors_total[5m])")


def test_the_pod_monitor_scrapes_every_pod_that_serves_metrics_and_no_other() -> None:
    objects = rendered("prod")
    monitor = named(objects, "PodMonitor", "loyalty-ledger")
    [endpoint] = monitor["spec"]["podMetricsEndpoints"]
    scraped = set()
    for workload in workloads(objects):
        declared = {
            port["name"]
            for container in pod_spec(workload)["containers"]
            for port in container.get("ports", [])
        }
        if label_selector_selects(monitor["spec"]["selector"], pod_labels(workload)):
            assert endpoint["port"] in declared, workload["metadata"]["name"]
            scraped.add(workload["metadata"]["name"])
        else:
            assert endpoint["port"] not in declared, workload["metadata"]["name"]
    assert scraped == {"loyalty-ledger", "loyalty-ledger-projections"}
