"""A PostgreSQL instance of its own: `initdb` into a temporary directory, a free port, trust authentication.

The soak and `make bench`'s ingest figures run on one by default, with production settings (autovacuum on, as any
production cluster runs it; this machine's shared cluster has it off), so that dead row versions left by the rollup
updates are cleaned up as they would be in production and no other user of the shared cluster weighs on the
figures. The PostgreSQL-restart fault test uses one too, so it can stop and start it at will.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench._util import free_port

#: What a production cluster of this size would set (everything else at PostgreSQL's defaults).
PRODUCTION_SETTINGS = {
    "autovacuum": "on",
    "max_connections": "200",  # three servers of 2 workers × a pool of 20 in make bench, and the tools
    "shared_buffers": "512MB",
    "max_wal_size": "2GB",
}


class PrivatePostgres:
    """A PostgreSQL instance run as the `postgres` OS user (when started by root) under `root`."""

    def __init__(self, root: Path, settings: dict[str, str] | None = None) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            raise RuntimeError("/usr/lib/postgresql/*/bin/initdb is missing: install PostgreSQL (Debian postgresql)")
        self.bin = Path(found[-1]).parent
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.settings = {"max_connections": "60", **(settings or {})}

    def _run(self, *args: str) -> None:
        command_line = ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else list(args)
        done = subprocess.run(command_line, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)}: {done.stderr or done.stdout}")

    def init(self) -> None:
        """initdb with trust authentication."""
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"
        )

    def pg_ctl(self, *args: str) -> None:
        """`pg_ctl start|stop|restart ...` on this instance (waiting for it)."""
        settings = " ".join(f"-c {name}={value}" for name, value in self.settings.items())
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 {settings}"
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", *args
        )

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL of `database` on this instance."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create `name` and return its URL."""
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        return self.url(name)


@contextmanager
def private_postgres(settings: dict[str, str] | None = None) -> Iterator[PrivatePostgres]:
    """A started instance, stopped and removed afterwards whatever happens."""
    root = Path(tempfile.mkdtemp(prefix="hailong-pg-"))  # under /tmp: the postgres user can reach it
    pg = PrivatePostgres(root, settings)
    try:
        pg.init()
        pg.pg_ctl("start")
        yield pg
    finally:
        stop = [str(pg.bin / "pg_ctl"), "-D", str(pg.data), "stop", "-m", "immediate"]
        subprocess.run(["runuser", "-u", "postgres", "--", *stop] if os.geteuid() == 0 else stop, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
