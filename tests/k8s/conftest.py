"""The manifests tests render the overlays with kubectl (its built-in kustomize): no cluster,
no network. Without kubectl they are skipped, saying so."""

import pytest

from tests.k8s.manifests import kubectl


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.parent.name != "k8s":
            continue
        item.add_marker(pytest.mark.k8s)
        if kubectl() is None:
            item.add_marker(
                pytest.mark.skip(reason="kubectl is not installed: deploy/k8s cannot be rendered")
            )
