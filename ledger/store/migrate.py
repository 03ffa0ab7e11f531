"""Applies the plain SQL files in migrations/ in name order, each once, each atomically."""

from functools import cache
from importlib import resources

import psycopg

# Two pods starting at once must not both migrate: one waits for the other's lock.
_MIGRATION_LOCK_KEY = 0x4C45444745520001

_BOOKKEEPING = """
CREATE SCHEMA IF NOT EXISTS ledger;
CREATE TABLE IF NOT EXISTS ledger.schema_migrations (
    name        text        PRIMARY KEY,
    applied_at  timestamptz NOT NULL DEFAULT now()
);
"""


def migration_files() -> list[tuple[str, str]]:
    folder = resources.files("ledger.store").joinpath("migrations")
    names = sorted(item.name for item in folder.iterdir() if item.name.endswith(".sql"))
    return [(name, folder.joinpath(name).read_text("utf-8")) for name in names]


@cache
def migration_names() -> frozenset[str]:
    """The migrations this code ships: what a database must have applied for it to run."""
    return frozenset(name for name, _ in migration_files())


def migrate(conninfo: str, until: str | None = None) -> list[str]:
    """Applies what is missing (up to the migration named `until`, if given, as a test of an
    upgrade does); returns the names applied now."""
    applied_now: list[str] = []
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute("SELECT pg_advisory_lock(%s)", [_MIGRATION_LOCK_KEY])
        try:
            connection.execute(_BOOKKEEPING)
            done = {
                row[0] for row in connection.execute("SELECT name FROM ledger.schema_migrations")
            }
            for name, text in migration_files():
                if name in done or (until is not None and name > until):
                    continue
                with connection.transaction():
                    # Migration files ship with the package; they are not built from input.
                    connection.execute(text)
                    connection.execute(
                        "INSERT INTO ledger.schema_migrations (name) VALUES (%s)", [name]
                    )
                applied_now.append(name)
        finally:
            connection.execute("SELECT pg_advisory_unlock(%s)", [_MIGRATION_LOCK_KEY])
    return applied_now
