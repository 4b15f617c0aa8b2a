"""A throwaway PostgreSQL server for one test run: made with Debian's ``initdb``, started with ``pg_ctl``, removed
at the end.

The tests that run on PostgreSQL (the storage contract suite, the commands with a URL) need a real server, not a
fake: locking, types and transactions are what differs from SQLite. The cluster lives in a temporary directory
(data, log and unix socket), listens on 127.0.0.1 on a free port and trusts local connections (no password: no
one else can reach it, and it holds only test data). Durability is switched off (``fsync``,
``synchronous_commit``, ``full_page_writes``): a crash of the machine loses nothing we keep, and the run is
faster. Each test gets a database of its own (`PostgresCluster.new_database`) so tests never see each other's rows.

``initdb`` refuses to run as root, so as root every server command runs as the ``postgres`` system user
(``runuser -u postgres --``), in a directory that user owns. Where PostgreSQL is not installed the reason says how
to install it; the fixture (tests/conftest.py) skips with it locally and fails under ``CI=true``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

INSTALL_HINT = "apt-get update && apt-get install -y postgresql    (CI does: .ci/run)"
SERVER_USER = "postgres"  # the Debian package's system user, who runs the server when we are root
SUPERUSER = "postgres"  # the cluster's database superuser (initdb -U)

# For tests only: nothing here must survive a crash of the machine.
TEST_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",  # several storages per test, each with a pool, and multi-process tests
    "shared_buffers": "64MB",
    "log_min_messages": "warning",
    "timezone": "'UTC'",
}
# For benchmarks that compare with SQLite's synchronous=FULL: every COMMIT waits for its fsync, as in production.
DURABLE_SETTINGS = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}


class PostgresUnavailable(Exception):
    """PostgreSQL could not be started here; the message says why and how to fix it."""


def find_bindir(environ: dict[str, str] | None = None) -> Path:
    """Where ``initdb`` and ``pg_ctl`` are: ``$PG_BINDIR``, else the newest /usr/lib/postgresql/N/bin (Debian puts
    them there, off PATH), else PATH."""
    env = os.environ if environ is None else environ
    if env.get("PG_BINDIR"):
        return Path(env["PG_BINDIR"])
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                      key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if versions:
        return versions[-1].parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise PostgresUnavailable(f"PostgreSQL is not installed (no initdb); install it with: {INSTALL_HINT}")


def free_port() -> int:
    """A TCP port nobody listens on right now (the server may still lose it to a race: `start` retries)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class PostgresCluster:
    """One running server; `url` for a database, `new_database` for a fresh one, `stop` to remove it all."""

    bindir: Path
    root: Path  # the temporary directory: data/, server.log and the unix socket
    port: int = 0
    durable: bool = False  # DURABLE_SETTINGS (benchmarks); tests run without fsync
    _names: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str = "postgres", driver: str = "postgresql+psycopg") -> str:
        return f"{driver}://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def conninfo(self, database: str = "postgres") -> str:
        """For psycopg itself (libpq's form), e.g. for administration in tests."""
        return f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname={database}"

    def new_database(self, prefix: str = "test") -> str:
        """Create an empty database with a name not used before in this run; return its name."""
        name = f"{prefix}_{next(self._names)}"
        self.admin(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        """Drop it even if a test left connections open (``WITH (FORCE)`` ends them)."""
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def admin(self, statement: str) -> None:
        """One statement outside a transaction (CREATE/DROP DATABASE cannot run inside one)."""
        import psycopg

        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(statement.encode())

    def _server_command(self, args: Sequence[str | Path], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(a) for a in args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, cwd=self.root)
        if check and result.returncode != 0:
            raise PostgresUnavailable(f"{' '.join(command)} failed ({result.returncode}): "
                                      f"{(result.stderr or result.stdout).strip()[-2000:]}")
        return result

    def init(self) -> None:
        # --no-sync: nothing of this cluster needs to survive a crash; trust: only this machine can connect
        self._server_command([self.bindir / "initdb", "-D", self.data, "-U", SUPERUSER, "--auth=trust",
                              "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"])

    def start(self, attempts: int = 5) -> None:
        """Start on a free port; another process may take the port first, so try a few."""
        error: PostgresUnavailable | None = None
        for _ in range(attempts):
            self.port = free_port()
            settings = {**TEST_SETTINGS, **(DURABLE_SETTINGS if self.durable else {}), "port": str(self.port),
                        "unix_socket_directories": f"'{self.root}'"}
            conf = self.data / "postgresql.auto.conf"  # written as the owner: ALTER SYSTEM's file, read last
            lines = "".join(f"{key} = {value}\n" for key, value in settings.items())
            _write_as_owner(conf, lines, like=self.data)
            try:
                self._server_command([self.bindir / "pg_ctl", "start", "-w", "-t", "30", "-D", self.data,
                                      "-l", self.log])
                return
            except PostgresUnavailable as exc:
                error = PostgresUnavailable(f"{exc}\n{_tail(self.log)}")
        assert error is not None
        raise error

    def stop(self) -> None:
        """Stop at once (nothing to keep) and remove the directory."""
        try:
            if (self.data / "postmaster.pid").exists():
                self._server_command([self.bindir / "pg_ctl", "stop", "-m", "immediate", "-w", "-D", self.data],
                                     check=False)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _write_as_owner(path: Path, text: str, *, like: Path) -> None:
    """Write `path` and give it the owner of `like` (the data directory, which the server insists on owning)."""
    path.write_text(text, encoding="utf-8")
    info = like.stat()
    if os.geteuid() == 0:
        os.chown(path, info.st_uid, info.st_gid)
    path.chmod(0o600)


def _tail(path: Path, limit: int = 2000) -> str:
    with contextlib.suppress(OSError):
        return path.read_text(encoding="utf-8", errors="replace")[-limit:]
    return ""


def start_cluster(*, durable: bool = False, directory: str | None = None) -> PostgresCluster:
    """Make and start a cluster in a new temporary directory (under `directory` if given: a benchmark measures
    that disk); raise `PostgresUnavailable` saying why not. `durable`: fsync on (DURABLE_SETTINGS)."""
    bindir = find_bindir()
    if not (bindir / "initdb").is_file():
        raise PostgresUnavailable(f"no initdb in {bindir}; install PostgreSQL with: {INSTALL_HINT}")
    try:
        import psycopg  # noqa: F401  (the tests' driver: without it nothing could connect)
    except ImportError:
        raise PostgresUnavailable("psycopg is not installed: uv sync --locked (it is in the dev group)") from None
    root = Path(tempfile.mkdtemp(prefix="stressbot-pg-", dir=directory))
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam(SERVER_USER)
        except KeyError:
            shutil.rmtree(root, ignore_errors=True)
            raise PostgresUnavailable(f"running as root and there is no {SERVER_USER!r} user to run the server "
                                      f"(initdb refuses root); install Debian's package: {INSTALL_HINT}") from None
        os.chown(root, owner.pw_uid, owner.pw_gid)
    cluster = PostgresCluster(bindir=bindir, root=root, durable=durable)
    try:
        cluster.init()
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    return cluster
