"""Whether the log's storage has the schema this code was built for.

A server must not report itself ready on a database its migrations have not reached: every
call would fail. Started with `serve --no-migrate` (Kubernetes runs the migrations in a Job of
their own, with the owner's credentials) it can meet one behind, while the Job has not run
yet; the health check asks this and answers NOT_SERVING until it is current.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class SchemaStatus:
    expected: frozenset[str]
    """The migrations this code ships (file names)."""
    applied: frozenset[str]
    """The migrations the storage has recorded as applied (none in a new database)."""
    readable: bool = True
    """False when the role may not read the record of applied migrations: the migration
    granting it has not run either."""

    @property
    def missing(self) -> list[str]:
        """What this code needs that is not applied, in the order it would be applied."""
        return sorted(self.expected - self.applied)

    @property
    def unknown(self) -> list[str]:
        """Applied migrations this code does not ship: a newer release migrated first."""
        return sorted(self.applied - self.expected)

    @property
    def current(self) -> bool:
        """Every migration this code needs is applied. Unknown ones do not count against it:
        the migrations of a release must keep the previous release working (they add, never
        take away), so that a rolling update can migrate before replacing the servers
        without every old server turning unready at once."""
        return self.readable and not self.missing
