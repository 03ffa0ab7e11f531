"""The projection tests' own database, and the tests-only event_counts projection's tables.

They append hundreds of thousands of events and kill runners mid-page: in a database of their
own, so no other test has to follow or replay that log."""

from collections.abc import Iterator

import pytest

from tests.integration.log_v1 import fresh_database
from tests.projections.helpers import create_event_counts


@pytest.fixture(scope="package")
def database_url(server_url: str) -> Iterator[str]:
    with fresh_database(server_url, "loyalty_projections") as url:
        yield url


@pytest.fixture(scope="package")
def event_counts(database_url: str) -> str:
    create_event_counts(database_url)
    return database_url
