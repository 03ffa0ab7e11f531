"""Fault tests own their PostgreSQL: each gets a fresh one in its tmp dir, stopped at the end."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.bootstrap import migrate
from tests.fault.postgres import PostgresInstance


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[PostgresInstance]:
    """A migrated PostgreSQL on 127.0.0.1 that only this test uses (and may stop or crash)."""
    instance = PostgresInstance(tmp_path / "pg")
    try:
        instance.start()
        migrate(instance.url)
        yield instance
    finally:
        instance.destroy()
