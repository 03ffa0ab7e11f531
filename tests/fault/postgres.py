"""A throwaway PostgreSQL that a fault test owns: it may stop, crash and restart it at will.

Binaries come from the ``pgserver`` wheel (``pgserver/pginstall/bin``); the cluster lives in
the test's tmp dir and listens on TCP 127.0.0.1 only, on a free port that stays the same
across restarts (so a service's DATABASE_URL keeps pointing at it). No Unix socket.

PostgreSQL refuses to run as root. When the tests run as root we do what pgserver does
(``pgserver.postgres_server.PostgresServer``): make sure the ``pgserver`` system user exists
(``pgserver.utils.ensure_user_exists``), let it read the bundled binaries, and run initdb and
pg_ctl as that user (``subprocess.run(..., user=...)``, as ``pgserver._commands`` does).

``fsync = off``: this cluster only has to survive its own crash (``pg_ctl -m immediate``),
never the machine's, and the WAL it writes is in the OS page cache either way; it keeps the
suite fast on a small box.
"""

import contextlib
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
from pathlib import Path
from typing import Any, Literal

import pgserver

BIN = Path(pgserver.__file__).parent / "pginstall" / "bin"
SYSTEM_USER = "pgserver"
"""The unprivileged user PostgreSQL runs as when we are root (the one pgserver uses)."""
COMMAND_TIMEOUT_SECONDS = 60
START_ATTEMPTS = 3
"""A free port can be taken between choosing it and binding it; then try another."""

StopMode = Literal["smart", "fast", "immediate"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _running_as_root() -> bool:
    return os.geteuid() == 0


def _prepare_system_user() -> pwd.struct_passwd:
    """pgserver's own preparation for root: the user exists and can run the binaries."""
    from pgserver import utils

    utils.ensure_user_exists(SYSTEM_USER)
    readable = stat.S_IRGRP | stat.S_IROTH
    executable = stat.S_IXGRP | stat.S_IXOTH
    utils.ensure_prefix_permissions(BIN)
    utils.ensure_folder_permissions(BIN, readable | executable)
    utils.ensure_folder_permissions(BIN.parent / "lib", readable)
    return pwd.getpwnam(SYSTEM_USER)


def _let_others_traverse(path: Path) -> None:
    """o+x (search only, not read) on every ancestor, so the system user can reach `path`."""
    for folder in path.parents:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            folder.chmod(mode | stat.S_IXOTH)


class PostgresInstance:
    """One cluster in `base_dir`: ``start()``, ``stop()``, ``restart()``; ``url`` to reach it."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir
        self.data_dir = base_dir / "data"
        self.log_file = base_dir / "postgres.log"
        self.port = 0
        self.starts = 0
        self.stops = 0
        self._user: pwd.struct_passwd | None = None
        self._initialised = False

    @property
    def url(self) -> str:
        assert self.port, "start() first"
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres?connect_timeout=5"

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Starts the server and waits until it accepts connections."""
        if not self._initialised:
            self._initdb()
        if self.port:
            self._pg_ctl(
                "-w", "-t", str(COMMAND_TIMEOUT_SECONDS), "-l", str(self.log_file), "start"
            )
            self.starts += 1
            return
        for attempt in range(1, START_ATTEMPTS + 1):
            self.port = free_port()
            self._configure()
            try:
                self._pg_ctl(
                    "-w", "-t", str(COMMAND_TIMEOUT_SECONDS), "-l", str(self.log_file), "start"
                )
            except subprocess.CalledProcessError:
                if attempt == START_ATTEMPTS:
                    raise
                continue
            self.starts += 1
            return

    def stop(self, mode: StopMode = "fast") -> None:
        """``fast``: roll back and disconnect everyone, shut down cleanly. ``immediate``: a
        crash (no shutdown checkpoint; the next start runs crash recovery)."""
        self._pg_ctl("-w", "-t", str(COMMAND_TIMEOUT_SECONDS), "-m", mode, "stop")
        self.stops += 1

    def restart(self, mode: StopMode = "fast") -> None:
        self.stop(mode)
        self.start()

    @property
    def running(self) -> bool:
        pid = self._postmaster_pid()
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    def destroy(self) -> None:
        """Stops the server however it can (for teardown, also after a failed test)."""
        if not self._initialised or not self.running:
            return
        try:
            self._pg_ctl("-w", "-t", "10", "-m", "immediate", "stop")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pid = self._postmaster_pid()
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    # --- internals --------------------------------------------------------------------------

    def _initdb(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if _running_as_root():
            self._user = _prepare_system_user()
            _let_others_traverse(self.base_dir)
            os.chown(self.base_dir, self._user.pw_uid, self._user.pw_gid)
        self._run(
            BIN / "initdb",
            "-D",
            str(self.data_dir),
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
            "-U",
            "postgres",
        )
        self._initialised = True

    def _configure(self) -> None:
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": "''",
            "fsync": "off",
            "max_connections": "50",
            "shared_buffers": "32MB",
            "log_min_messages": "warning",
        }
        # postgresql.auto.conf is read last, so a new port there wins over an earlier one.
        lines = "".join(f"{name} = {value}\n" for name, value in settings.items())
        (self.data_dir / "postgresql.auto.conf").write_text(lines)

    def _postmaster_pid(self) -> int | None:
        try:
            first = (self.data_dir / "postmaster.pid").read_text().splitlines()[0]
        except (OSError, IndexError):
            return None
        return int(first) if first.strip().isdigit() else None

    def _pg_ctl(self, *arguments: str) -> None:
        self._run(BIN / "pg_ctl", "-D", str(self.data_dir), *arguments)

    def _run(self, executable: Path, *arguments: str) -> None:
        command = [str(executable), *arguments]
        as_user: dict[str, Any] = {}
        if self._user is not None:
            as_user["env"] = {**os.environ, "HOME": self._user.pw_dir, "USER": SYSTEM_USER}
            command = [*_as_system_user(self._user), *command]
            if command[0] == str(executable):
                as_user.update(user=self._user.pw_uid, group=self._user.pw_gid, extra_groups=[])
        # Output goes to a file, not a pipe: pg_ctl's server child inherits the descriptors,
        # and a pipe nobody drains is how pg_ctl hangs (pgserver's _commands notes the same).
        with (self.base_dir / "commands.log").open("a") as output:
            subprocess.run(  # noqa: S603 - fixed binaries, arguments built here
                command,
                check=True,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=self.base_dir,
                timeout=COMMAND_TIMEOUT_SECONDS + 15,
                **as_user,
            )


def _as_system_user(user: pwd.struct_passwd) -> list[str]:
    """A prefix that runs a command as `user`, or [] to let subprocess switch users.

    subprocess's own switch (user=, group=) must fork() the test process, and a fork of a
    process with gRPC threads running can crash in the child before exec (seen: pg_ctl
    "died with SIGSEGV" during test_restart_postgres). With a setpriv/runuser prefix,
    subprocess can vfork and exec at once, and the switch happens in that program.
    """
    setpriv = shutil.which("setpriv")
    if setpriv:
        return [
            setpriv,
            f"--reuid={user.pw_uid}",
            f"--regid={user.pw_gid}",
            "--clear-groups",
            "--",
        ]
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", user.pw_name, "--"]
    return []


class ReplicaInstance(PostgresInstance):
    """A streaming replica of `primary`: pg_basebackup of the running primary (with -R, so it
    starts as a standby that streams from it), then started on a port of its own."""

    def __init__(self, base_dir: Path, primary: PostgresInstance) -> None:
        super().__init__(base_dir)
        self.primary = primary

    def _initdb(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if _running_as_root():
            self._user = _prepare_system_user()
            _let_others_traverse(self.base_dir)
            os.chown(self.base_dir, self._user.pw_uid, self._user.pw_gid)
        self._run(
            BIN / "pg_basebackup",
            "-D",
            str(self.data_dir),
            "-R",
            "-X",
            "stream",
            "--no-sync",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.primary.port),
            "-U",
            "postgres",
        )
        self._initialised = True

    def _configure(self) -> None:
        # -R wrote primary_conninfo into postgresql.auto.conf, which the port settings replace.
        auto = self.data_dir / "postgresql.auto.conf"
        kept = [line for line in auto.read_text().splitlines() if line.startswith("primary_")]
        super()._configure()
        with auto.open("a") as settings:
            settings.write("".join(f"{line}\n" for line in kept))
