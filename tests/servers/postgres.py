"""A real, throwaway PostgreSQL for tests and benchmarks: Debian's `postgresql` package, scratch cluster.

`initdb` into a scratch folder owned by `postgres` (PostgreSQL refuses to run as root, and the
tests run as root), `pg_ctl start` on a free loopback port with its socket in the same folder,
password (SCRAM) authentication over TCP, and the roles an operator creates (README "Connect
your fleet → LiteLLM (PostgreSQL)"): `litellm`, owner of database `litellm` (LiteLLM's own
role), and `invoice_true_reader`, which may only `SELECT` from `LiteLLM_SpendLogs`.

The server runs with `TimeZone = 'America/New_York'` on purpose: LiteLLM's columns are
timestamps without zone holding UTC, and a reader that compares them against a zoned value is
shifted by the session zone. A non-UTC server makes that mistake show in tests.

`pytest` fixture: `postgres` (session scope), below; a test module imports it. Outside pytest
(bench): `with PostgresServer() as pg: ...`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import adbc_driver_postgresql.dbapi as pg_dbapi
import pytest

BIN = Path(os.environ.get("POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))
DATABASE = "litellm"
OWNER, READER = "litellm", "invoice_true_reader"


@dataclass(frozen=True)
class Role:
    name: str
    password: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self, *, timezone: str = "America/New_York") -> None:
        if not (BIN / "initdb").exists():
            raise RuntimeError(f"PostgreSQL binaries not found in {BIN} (apt-get install postgresql)")
        self.timezone = timezone
        self.folder = Path(tempfile.mkdtemp(prefix="invoice-true-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.host = "127.0.0.1"
        self.superuser = Role("postgres", secrets.token_hex(12))
        self.owner = Role(OWNER, secrets.token_hex(12))
        self.reader = Role(READER, secrets.token_hex(12))
        self._started = False

    # -- life cycle ------------------------------------------------------------------------
    def __enter__(self) -> PostgresServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        shutil.chown(self.folder, "postgres", "postgres")
        pwfile = self.folder / "superuser.pw"
        pwfile.write_text(self.superuser.password + "\n")
        shutil.chown(pwfile, "postgres", "postgres")
        self._as_postgres(BIN / "initdb", "-D", self.data, "-U", "postgres", "-E", "UTF8", "--locale=C",
                          "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}")
        pwfile.unlink()
        # Durability off (a scratch cluster): with wal_level=minimal a table created and loaded in
        # one transaction skips the WAL, which makes loading the demo fleet several times faster.
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses={self.host} "
                   f"-c timezone={self.timezone} -c fsync=off -c synchronous_commit=off "
                   "-c full_page_writes=off -c max_wal_size=4GB -c wal_level=minimal -c max_wal_senders=0")
        self._as_postgres(BIN / "pg_ctl", "-D", self.data, "-o", options, "-l", self.folder / "server.log",
                          "-w", "-t", "60", "start")
        self._started = True
        self.admin(f"CREATE ROLE {OWNER} LOGIN PASSWORD '{self.owner.password}'",
                   f"CREATE DATABASE {DATABASE} OWNER {OWNER}",
                   f"CREATE ROLE {READER} LOGIN PASSWORD '{self.reader.password}'",
                   f"ALTER ROLE {READER} SET default_transaction_read_only = on")

    def stop(self) -> None:
        if self._started:
            self._as_postgres(BIN / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop", check=False)
            self._started = False
        shutil.rmtree(self.folder, ignore_errors=True)

    def _as_postgres(self, *argv: object, check: bool = True) -> None:
        cmd = ["runuser", "-u", "postgres", "--", *map(str, argv)] if os.geteuid() == 0 else list(map(str, argv))
        done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if check and done.returncode != 0:
            log = self.folder / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{Path(str(argv[0])).name} failed ({done.returncode}): {done.stdout[-2000:]}{tail}")

    # -- connections -----------------------------------------------------------------------
    def dsn(self, role: Role | None = None, database: str = DATABASE, *, password: str | None = None,
            port: int | None = None) -> str:
        role = role or self.reader
        return (f"postgresql://{role.name}:{password if password is not None else role.password}"
                f"@{self.host}:{port or self.port}/{database}")

    def connect(self, role: Role | None = None, database: str = DATABASE):
        return pg_dbapi.connect(self.dsn(role or self.owner, database))

    def admin(self, *statements: str, database: str = "postgres") -> None:
        """Run statements as the superuser, each in autocommit (CREATE DATABASE needs it)."""
        with pg_dbapi.connect(self.dsn(self.superuser, database), autocommit=True) as con:
            with con.cursor() as cur:
                for sql in statements:
                    cur.execute(sql)

    def grant_reader(self, table: str = '"LiteLLM_SpendLogs"', schema: str = "public") -> None:
        """The grants README tells an operator to give the reader role (run after LiteLLM made the table)."""
        self.admin(f"GRANT CONNECT ON DATABASE {DATABASE} TO {READER}", f"GRANT USAGE ON SCHEMA {schema} TO {READER}",
                   f"GRANT SELECT ON {schema}.{table} TO {READER}", database=DATABASE)


@pytest.fixture(scope="session")
def postgres():
    """A running scratch PostgreSQL with the `litellm` owner and the SELECT-only reader roles."""
    with PostgresServer() as server:
        yield server
