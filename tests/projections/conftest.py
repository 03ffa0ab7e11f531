"""The tests-only event_counts projection's tables, once per test database."""

import pytest

from tests.projections.helpers import create_event_counts


@pytest.fixture(scope="session")
def event_counts(database_url: str) -> str:
    create_event_counts(database_url)
    return database_url
