"""The SQL models run in the order their own references imply, as dbt orders its `ref()`s.

Each model file under `sql/intermediate/` and `sql/marts/` creates (or fills) tables and reads
others. sqlglot parses the files (DuckDB dialect) for the tables each one writes and reads, and
the models run in a topological order of that graph: a model file added to a folder finds its
place by what it reads, with no list to keep in step. A cycle, or two files writing one table,
is an error naming the files.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from functools import cache
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

from pipelines.sql_files import SQL_DIR, statements

_NAME = re.compile(r"\{\{(\w+)\}\}")


def ordered(folder: str, exclude: tuple[str, ...] = (), con=None) -> tuple[str, ...]:
    """The model files of `sql/<folder>/` (relative paths), each after the models it reads.

    Parsing every model takes sqlglot a third of a second (and its import more); the order is kept
    with a fingerprint of the files' text, in this process, in the user's cache folder and (given
    `con`) in the warehouse's `meta.model_order`, so it is derived again only when a model changed."""
    files = tuple(sorted(str(p.relative_to(SQL_DIR)) for p in (SQL_DIR / folder).glob("*.sql")
                         if p.name not in exclude))
    fingerprint = _fingerprint(files)
    if con is None:
        return _cached(files, fingerprint)
    con.execute("CREATE SCHEMA IF NOT EXISTS meta")
    con.execute("CREATE TABLE IF NOT EXISTS meta.model_order (fingerprint VARCHAR PRIMARY KEY, models VARCHAR[])")
    found = con.execute("SELECT models FROM meta.model_order WHERE fingerprint = ?", [fingerprint]).fetchall()
    if found:
        return tuple(found[0][0])
    order = _cached(files, fingerprint)
    con.execute("INSERT OR REPLACE INTO meta.model_order VALUES (?, ?)", [fingerprint, list(order)])
    return order


def _cached(files: tuple[str, ...], fingerprint: str) -> tuple[str, ...]:
    """The order from the cache folder when an earlier process derived it, else derived and kept
    there (a cache that cannot be read or written is only a cost, never an error)."""
    path = _cache_folder() / f"model-order-{fingerprint}.json"
    try:
        found = tuple(json.loads(path.read_text()))
        if sorted(found) == sorted(files):
            return found
    except (OSError, ValueError, TypeError):
        pass
    order = _ordered(files, fingerprint)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        staging.write_text(json.dumps(list(order)))
        os.replace(staging, path)
    except OSError:
        pass
    return order


def _cache_folder() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "invoice-true"


def _fingerprint(files: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for relative in files:
        digest.update(relative.encode() + b"\0" + (SQL_DIR / relative).read_bytes())
    return digest.hexdigest()


@cache
def _ordered(files: tuple[str, ...], fingerprint: str) -> tuple[str, ...]:
    writes: dict[str, str] = {}
    reads: dict[str, set[str]] = {}
    for relative in files:
        written, read = references(relative)
        for table in written:
            if table in writes and writes[table] != relative:
                raise ValueError(f"{writes[table]} and {relative} both write {table}")
            writes[table] = relative
        reads[relative] = read
    graph = {f: {writes[t] for t in reads[f] if t in writes and writes[t] != f} for f in files}
    try:
        return tuple(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise ValueError(f"the SQL models read each other in a cycle: {' -> '.join(exc.args[1])}") from None


def references(relative: str) -> tuple[set[str], set[str]]:
    """(tables the file writes, tables it reads), qualified as written (`marts.x`, `raw.y`, or a
    temp table's bare name); common table expressions are neither."""
    import sqlglot
    from sqlglot import exp

    written: set[str] = set()
    read: set[str] = set()
    for statement in statements(relative):
        tree = sqlglot.parse_one(_NAME.sub(r"\1", statement), read="duckdb")
        ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
        if isinstance(tree, (exp.Create, exp.Insert, exp.Delete)):  # a DROP is cleanup, not a write
            target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
            if isinstance(target, exp.Table):
                written.add(_qualified(target))
        for table in tree.find_all(exp.Table):
            name = _qualified(table)
            if name not in ctes:
                read.add(name)
    return written, read - written


def _qualified(table) -> str:
    return ".".join(part for part in (table.db, table.name) if part)


def model_path(relative: str) -> Path:
    return SQL_DIR / relative
