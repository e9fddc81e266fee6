"""The DuckDB files: the pipeline's own working file, and the published copy SQL tools open.

Only the pipeline opens the working file. After a successful run the published file at
WAREHOUSE_PATH is replaced atomically (written beside it, then renamed over it), so a SQL
tool holding the old file open never blocks a run and never sees a half-written state.
"""

from __future__ import annotations

import fcntl
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from pipelines.accounting import ensure_schema

DEFAULT_PATH = "var/invoice_true.duckdb"
PUBLISHED_SCHEMAS = ("raw", "quarantine", "marts")  # raw and quarantine: invoice tables, and views over the lake
# Older DuckDB builds, which many SQL tools bundle, cannot read duckdb 2.0's default format.
PUBLISHED_STORAGE_VERSION = "v1.1.0"
LOCK_WAIT_S = 120.0


def published_path_from_env() -> Path:
    return Path(os.environ.get("WAREHOUSE_PATH") or DEFAULT_PATH).expanduser().resolve()


def work_path_for(published: Path) -> Path:
    return published.with_name(published.stem + ".work.duckdb")


_held: dict[Path, duckdb.DuckDBPyConnection] = {}
_views_made: dict[Path, dict[str, str]] = {}


@contextmanager
def held_open(path: Path) -> Iterator[None]:
    """Keep the working file open while a run's steps execute in this process (`invoice-true run`):
    each step's `connect` is then a cursor on it. Opening a DuckDB database costs ~15 ms and a run
    opened it two dozen times. Only for steps in this process: a step in another process could not
    open a file this one holds, so the UI's multiprocess runs never hold it."""
    with connect(path) as con:
        _held[path], _views_made[path] = con, {}
        try:
            yield
        finally:
            del _held[path], _views_made[path]


def views_made(path: Path) -> dict[str, str] | None:
    """While `path` is held: the lake views made on it so far, by name (their SQL), so a step whose
    views would be the same skips making them again (binding a view over Parquet reads its files)."""
    return _views_made.get(path)


@contextmanager
def connect(path: Path, *, lock_wait_s: float = LOCK_WAIT_S) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the working file, waiting politely (with jitter) while another run holds it."""
    if path in _held:
        with _held[path].cursor() as cursor:  # a connection of its own (transaction, settings) to the held file
            cursor.execute("SET TimeZone = 'UTC'")
            yield cursor
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + lock_wait_s
    delay = 0.2
    while True:
        try:
            # A bounded buffer pool keeps a 10 M-request day under 3 GiB resident; DuckDB spills past it.
            con = duckdb.connect(str(path), config={"memory_limit": os.environ.get("INVOICE_TRUE_DUCKDB_MEMORY", "2GB")})
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the warehouse {path} is held by another process; waited {lock_wait_s:.0f} s"
                ) from None
            time.sleep(delay * (0.5 + uuid.uuid4().int % 1000 / 1000))
            delay = min(delay * 2, 5.0)
    try:
        ensure_schema(con)
        yield con
    finally:
        con.close()


@contextmanager
def run_lock(work: Path, *, wait_s: float = 3600.0, on_wait=None) -> Iterator[None]:
    """Hold the warehouse for a whole run, so two runs at once take turns instead of interleaving.

    An advisory lock on a file beside the working database; the OS releases it if the
    process dies, so a killed run never leaves the warehouse locked.
    """
    work.parent.mkdir(parents=True, exist_ok=True)
    with open(work.with_suffix(".lock"), "a+") as handle:
        deadline = time.monotonic() + wait_s
        told = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"another run has held the warehouse {work} for over {wait_s:.0f} s; not starting"
                    ) from None
                if on_wait and not told:
                    on_wait(f"another run is using the warehouse {work}; waiting for it to finish")
                    told = True
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def publish(con: duckdb.DuckDBPyConnection, published: Path, lake) -> Path:
    """Copy the published schemas of the working database to `published`, atomically, with views
    over every stored day of the lake in place of the build's scoped ones."""
    from pipelines.lake_views import attach_views
    from pipelines.ledger import ledger_for

    published.parent.mkdir(parents=True, exist_ok=True)
    # A run killed while publishing leaves its staging copy behind. Any left now is stale:
    # publishing holds the working file open, and DuckDB lets one process do that at a time.
    for stale in published.parent.glob(f".{published.name}.*.tmp*"):
        stale.unlink(missing_ok=True)
    staging = published.with_name(f".{published.name}.{uuid.uuid4().hex}.tmp")
    source = con.execute("SELECT current_database()").fetchall()[0][0]
    con.execute(
        f"ATTACH {_sql_string(str(staging))} AS publish_target "
        f"(STORAGE_VERSION '{PUBLISHED_STORAGE_VERSION}')"
    )
    try:
        try:
            con.execute(f'COPY FROM DATABASE "{source}" TO publish_target')
            schemas = [r[0] for r in con.execute(
                "SELECT schema_name FROM duckdb_schemas() WHERE database_name = 'publish_target' AND NOT internal"
            ).fetchall()]
            for schema in schemas:
                if schema not in PUBLISHED_SCHEMAS and schema != "main":
                    con.execute(f'DROP SCHEMA publish_target."{schema}" CASCADE')
            con.execute("USE publish_target")
            try:
                attach_views(con, lake, comments=True)  # every stored day, for SQL tools
                ledger_for(lake).create_views(con)  # check results and runs, whenever they land
            finally:
                con.execute(f'USE "{source}"')
        finally:
            con.execute("DETACH publish_target")
        os.replace(staging, published)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    return published
