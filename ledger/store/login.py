"""What a database login may do beyond what the service needs: checked when `serve` starts.

The service's login must be a member of loyalty_ledger_app and nothing more (README "Database
roles"). A superuser can turn the append-only triggers off (session_replication_role) and
undo any SET ROLE with RESET ROLE; a member of the tables' owner can disable the triggers
(ALTER TABLE) or rewrite the state rows. Both are reported, never silently accepted.
"""

import psycopg

DatabaseError = psycopg.Error
"""What the database's refusals are, for callers outside the store (the CLI)."""

_CHECK = """
SELECT r.rolsuper,
    pg_has_role(current_user, c.relowner, 'MEMBER') AS owns_log
FROM pg_roles AS r
LEFT JOIN pg_class AS c ON c.oid = to_regclass('ledger.events')
WHERE r.rolname = session_user
"""


def privileges_beyond_the_service(url: str) -> list[str]:
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as connection:
        row = connection.execute(_CHECK).fetchone()
    if row is None:
        return []
    superuser, owns_log = row
    found = []
    if superuser:
        found.append("is a superuser (it can turn the append-only triggers off)")
    if owns_log and not superuser:
        found.append("owns the ledger's tables (it can disable their append-only triggers)")
    return found
