"""A PostgreSQL cluster owned by the stack: created on first start under a state directory, reused afterwards.

PostgreSQL refuses to run as root, so when we are root the cluster belongs to the `postgres` system user (the Debian
package creates it) and every server process runs as that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from agentic.errors import StackError


def find_pg_bindir() -> Path | None:
    """Directory holding `initdb`/`postgres`/`pg_ctl`, newest major version first; None when not installed."""
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True):
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _run_as() -> str | None:
    """System user the server must run as: `postgres` when we are root, else ourselves (None)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise StackError("running as root needs a 'postgres' system user (apt-get install postgresql)") from exc
    return "postgres"


@dataclass
class PostgresCluster:
    """One data directory, one port. `ensure()` then `command()` gives a foreground server process to supervise."""

    data_dir: Path
    port: int
    user: str = "prefect"
    password: str = "prefect"
    database: str = "prefect"
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        """SQLAlchemy URL Prefect uses (`PREFECT_API_DATABASE_CONNECTION_URL`)."""
        return f"postgresql+asyncpg://{self.user}:{self.password}@{self.host}:{self.port}/{self.database}"

    @property
    def socket_dir(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}.sock"

    def _bindir(self) -> Path:
        bindir = find_pg_bindir()
        if bindir is None:
            raise StackError("PostgreSQL binaries not found (apt-get install postgresql), or use --sqlite")
        return bindir

    def _chown(self, path: Path) -> None:
        owner = _run_as()
        if owner:
            info = pwd.getpwnam(owner)
            os.chown(path, info.pw_uid, info.pw_gid)

    def ensure(self) -> None:
        """Create the cluster, its role and database the first time; no-op afterwards."""
        bindir = self._bindir()
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        self._chown(self.socket_dir)
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._chown(self.data_dir)
        pwfile = self.data_dir.parent / f".{self.data_dir.name}.pw"
        pwfile.write_text(self.password)
        self._chown(pwfile)
        try:
            subprocess.run(
                [str(bindir / "initdb"), "-D", str(self.data_dir), "-U", self.user, f"--pwfile={pwfile}",
                 "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"],
                check=True, capture_output=True, text=True, user=_run_as(),
            )
        except subprocess.CalledProcessError as exc:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            raise StackError(f"initdb failed in {self.data_dir}: {exc.stderr.strip()}") from exc
        finally:
            pwfile.unlink(missing_ok=True)
        # The database is created on first start (see `create_database`), once the server accepts connections.
        (self.data_dir / ".needs-database").touch()

    def command(self) -> list[str]:
        """Foreground server command (supervised by the caller)."""
        return [
            str(self._bindir() / "postgres"), "-D", str(self.data_dir), "-p", str(self.port),
            "-c", f"listen_addresses={self.host}", "-c", f"unix_socket_directories={self.socket_dir}",
            "-c", "fsync=on", "-c", "max_connections=200",
        ]

    def popen_kwargs(self) -> dict:
        return {"user": _run_as()}

    def create_database(self) -> None:
        """Create the application database if missing (idempotent). Call once the server is up."""
        marker = self.data_dir / ".needs-database"
        if not marker.exists():
            return
        psql = [str(self._bindir() / "psql"), "-h", str(self.socket_dir), "-p", str(self.port), "-U", self.user,
                "-d", "postgres", "-tAc"]
        exists = subprocess.run([*psql, f"SELECT 1 FROM pg_database WHERE datname='{self.database}'"],
                                capture_output=True, text=True, user=_run_as())
        if exists.stdout.strip() != "1":
            subprocess.run([*psql, f'CREATE DATABASE "{self.database}" OWNER "{self.user}"'],
                           check=True, capture_output=True, text=True, user=_run_as())
        marker.unlink(missing_ok=True)

    def is_ready(self) -> bool:
        probe = subprocess.run([str(self._bindir() / "pg_isready"), "-h", self.host, "-p", str(self.port), "-q"])
        return probe.returncode == 0
