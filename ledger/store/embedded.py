"""Embedded PostgreSQL for development and tests, started from the ``pgserver`` wheel.

Why this exists: ``make run`` and ``make test`` must work on a machine that has nothing but
Python. When ``DATABASE_URL`` is unset we run a project-local PostgreSQL whose binaries come
from the ``pgserver`` package on PyPI, with its data under ``<repo>/.data/pg``. Production and
anything else that sets ``DATABASE_URL`` never touch this module's server.

How it behaves:

* pgserver listens on a Unix socket only (no TCP port), placed in the data directory or, when
  that path is too long for a socket, in a short per-user runtime directory. The URI returned
  here names that socket directory explicitly, so ``psycopg.connect(uri)`` works as is.
* ``cleanup_mode="stop"``: pgserver records every process that uses the server in
  ``<data>/.handle_pids.json``; a later call, in the same process or another one, reuses the
  running server, and the last of those processes to exit normally stops it (a ``serve``
  process stopped with SIGTERM or Ctrl-C shuts down gracefully, so it does). Entries of
  processes that died without cleaning up (SIGKILL) are pruned before each start, so one
  crashed process cannot keep the server alive forever.
* pgserver computes a platformdirs runtime path when it is imported; without
  ``XDG_RUNTIME_DIR`` platformdirs emits a ``RuntimeDirWarning`` and falls back to a default.
  The fallback is fine for us, so that one warning is suppressed here (tests run with
  ``-W error``).
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import threading
import warnings
from urllib.parse import quote

__all__ = [
    "SERVICE_LOGIN",
    "database_url_from_env_or_embedded",
    "default_data_dir",
    "service_login_url",
    "start_embedded_postgres",
]

_PG_USER = "postgres"
_PG_DATABASE = "postgres"
SERVICE_LOGIN = "loyalty_ledger_service"
"""The embedded server's login for the service: a member of loyalty_ledger_app and nothing
else (README "Database roles"), as an operator provisions it on a real server."""

# pgserver's get_server() caches servers per process without a lock of its own.
_start_lock = threading.Lock()


def default_data_dir() -> pathlib.Path:
    """Return ``<repo>/.data/pg`` for a source checkout, else ``<cwd>/.data/pg``."""
    repo = pathlib.Path(__file__).resolve().parents[2]
    base = repo if (repo / "pyproject.toml").is_file() and (repo / "ledger").is_dir() else None
    return (base or pathlib.Path.cwd()) / ".data" / "pg"


def start_embedded_postgres(data_dir: pathlib.Path) -> str:
    """Start (or reuse) the embedded PostgreSQL in ``data_dir`` and return a libpq URI.

    The first call initialises the cluster (``initdb``, trust authentication); later calls,
    from this process or others, reuse the running server. The URI connects as ``postgres`` to
    the ``postgres`` database over the server's Unix socket.
    """
    data_dir = data_dir.expanduser().resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    with _start_lock, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR", category=UserWarning)
        try:
            from pgserver.postgres_server import PostgresServer, get_server
        except ImportError:
            # pgserver is a development dependency (the `dev` extra): a deployment sets
            # DATABASE_URL and never needs it.
            msg = (
                "DATABASE_URL is not set and the embedded PostgreSQL (pgserver, installed with"
                " the dev extra) is not available: set DATABASE_URL to a PostgreSQL server"
            )
            raise RuntimeError(msg) from None

        _prune_dead_handles(PostgresServer, data_dir)
        get_server(data_dir, cleanup_mode="stop")
    return _uri_from_postmaster_pid(data_dir)


def database_url_from_env_or_embedded() -> str:
    """Return ``$DATABASE_URL`` when set (and not empty), else start the embedded server."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        return url
    return start_embedded_postgres(default_data_dir())


def service_login_url(owner_url: str) -> str:
    """The URI of the service's own login on the server `owner_url` (a superuser's: the
    embedded server's), created with its group role if missing. The embedded server trusts
    its Unix socket, so the login needs no password."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    with psycopg.connect(owner_url, autocommit=True) as connection:
        # The same statements an operator runs (README "Database roles"); roles are
        # cluster-wide, so each is created only if missing. The migrations grant the group.
        for role, options in (
            ("loyalty_ledger_app", sql.SQL("NOLOGIN")),
            (SERVICE_LOGIN, sql.SQL("LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE")),
        ):
            exists = connection.execute(
                "SELECT FROM pg_roles WHERE rolname = %s", [role]
            ).fetchone()
            if exists is None:
                # Another process may create it between the look and the creation.
                with contextlib.suppress(psycopg.errors.DuplicateObject):
                    connection.execute(
                        sql.SQL("CREATE ROLE {} {}").format(sql.Identifier(role), options)
                    )
        connection.execute(
            sql.SQL("GRANT loyalty_ledger_app TO {}").format(sql.Identifier(SERVICE_LOGIN))
        )
    return make_conninfo(owner_url, user=SERVICE_LOGIN)


def _uri_from_postmaster_pid(data_dir: pathlib.Path) -> str:
    """Build the URI from PostgreSQL's own ``postmaster.pid`` (line 4: port, 5: socket dir)."""
    lines = (data_dir / "postmaster.pid").read_text().splitlines()
    port = lines[3].strip()
    socket_dir = lines[4].strip()
    if not socket_dir:
        msg = f"embedded PostgreSQL in {data_dir} has no Unix socket directory"
        raise RuntimeError(msg)
    host = quote(socket_dir, safe="/")
    return f"postgresql://{_PG_USER}@/{_PG_DATABASE}?host={host}&port={port}"


def _prune_dead_handles(server_class: type[object], data_dir: pathlib.Path) -> None:
    """Drop pids of processes that no longer exist from pgserver's handle list.

    pgserver stops the server only when the exiting process is the last one listed; a process
    killed without running its exit hooks would stay listed forever. Uses pgserver's
    inter-process lock so it never races with pgserver's own updates of the list.
    """
    handles = data_dir / ".handle_pids.json"
    lock = getattr(server_class, "_lock", None)
    if lock is None or not handles.is_file():
        return
    with lock:
        try:
            pids = json.loads(handles.read_text())
        except (OSError, ValueError):
            return
        if not isinstance(pids, list):
            return
        alive = [pid for pid in pids if isinstance(pid, int) and _pid_alive(pid)]
        if alive != pids:
            handles.write_text(json.dumps(alive))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
