"""Tiny helpers to hand-build raw rows, load them into a real DuckDB file and read marts back.

Rows are plain dicts with the raw tables' column names; `load` inserts them with bound
parameters (values never reach SQL as text). Times are built with `t("10:05")` on the
default day 2026-10-10, or `t("00:01", day=11)`; money is passed as strings or Decimals
so every value is exact.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

import duckdb

from pipelines.sources.registry import create_raw_tables
from pipelines.accounting import DayRange, build_marts, ensure_schema
from pipelines.settings import AccountingSettings

UTC = timezone.utc
YEAR, MONTH, DAY = 2026, 10, 10
PERIOD_START = datetime(2026, 10, 1, tzinfo=UTC)
TIER = "h100-class"

SNAPSHOT_COLUMNS = (
    "sampled_at", "resource_id", "tier", "gpu_type", "gpu_count", "price_model", "state",
    "rate_per_hour", "cumulative_cost", "billing_period_start", "currency",
)
REQUEST_COLUMNS = (
    "request_id", "received_at", "first_token_at", "finished_at", "model", "tier", "resource_id",
    "status", "error", "prompt_tokens", "completion_tokens", "cached_tokens", "api_key_id",
)
EVENT_COLUMNS = ("at", "resource_id", "tier", "event")
COST_ROW_COLUMNS = (
    "charge_period_start", "charge_period_end", "billing_account_id", "billing_period_start", "charge_category",
    "charge_class", "resource_id", "tier", "gpu_type", "gpu_count", "price_model", "billed_cost", "currency",
    "export_rows", "skipped",
)
ACCOUNT = "acct-1"


def t(hms: str, day: int = DAY) -> datetime:
    """`"10:05"` or `"10:05:30"` (or `"10:05:30.25"`) on 2026-10-<day>, UTC."""
    parts = hms.split(":")
    hour, minute = int(parts[0]), int(parts[1])
    seconds = Decimal(parts[2]) if len(parts) > 2 else Decimal(0)
    whole = int(seconds)
    micros = int((seconds - whole) * 1_000_000)
    return datetime(YEAR, MONTH, day, hour, minute, whole, micros, tzinfo=UTC)


def d(day: int = DAY) -> date:
    return date(YEAR, MONTH, day)


def money(value: str | int | Decimal) -> Decimal:
    return Decimal(str(value)) if not isinstance(value, Decimal) else value


def snapshot(
    resource_id: str,
    at: datetime,
    cumulative: str | Decimal,
    state: str = "running",
    *,
    period_start: datetime = PERIOD_START,
    tier: str = TIER,
    price_model: str = "spot",
    currency: str = "USD",
    rate: str | Decimal = "1.000000000",
    gpu_type: str | None = "H100-SXM-80GB",
    gpu_count: int = 1,
) -> dict[str, Any]:
    return {
        "sampled_at": at,
        "resource_id": resource_id,
        "tier": tier,
        "gpu_type": gpu_type,
        "gpu_count": gpu_count,
        "price_model": price_model,
        "state": state,
        "rate_per_hour": money(rate),
        "cumulative_cost": money(cumulative),
        "billing_period_start": period_start,
        "currency": currency,
    }


def series(
    resource_id: str,
    points: Iterable[tuple[datetime, str | Decimal] | tuple[datetime, str | Decimal, str]],
    **common: Any,
) -> list[dict[str, Any]]:
    """Several samples of one resource: (at, cumulative[, state]) each."""
    out = []
    for point in points:
        at, cumulative, *rest = point
        out.append(snapshot(resource_id, at, cumulative, *(rest[:1] or ["running"]), **common))
    return out


def request(
    request_id: str,
    received_at: datetime,
    finished_at: datetime,
    *,
    resource_id: str | None = "r1",
    model: str = "m1",
    tier: str = TIER,
    completion_tokens: int = 0,
    prompt_tokens: int = 0,
    cached_tokens: int = 0,
    status: int = 200,
    error: str | None = None,
    first_token_at: datetime | None = None,
    api_key_id: str | None = None,
) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "received_at": received_at,
        "first_token_at": first_token_at,
        "finished_at": finished_at,
        "model": model,
        "tier": tier,
        "resource_id": resource_id,
        "status": status,
        "error": error,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "cached_tokens": cached_tokens,
        "api_key_id": api_key_id,
    }


def event(resource_id: str, at: datetime, name: str, *, tier: str = TIER) -> dict[str, Any]:
    return {"at": at, "resource_id": resource_id, "tier": tier, "event": name}


def cost_row(
    resource_id: str | None,
    start: datetime,
    end: datetime,
    billed: str | Decimal,
    *,
    category: str = "Usage",
    charge_class: str | None = None,
    skipped: str | None = None,
    account: str = ACCOUNT,
    period_start: datetime = PERIOD_START,
    tier: str | None = TIER,
    gpu_type: str | None = "H100-SXM-80GB",
    gpu_count: int | None = 1,
    price_model: str | None = "on_demand",
    currency: str = "USD",
    export_rows: int = 1,
) -> dict[str, Any]:
    """A landed cost row (rule 11): a mapped resource's Usage by default. A row of the rest of the
    bill has resource_id None and `skipped` set (its tier and GPU fields are then dropped)."""
    rest = resource_id is None
    return {
        "charge_period_start": start,
        "charge_period_end": end,
        "billing_account_id": account,
        "billing_period_start": period_start,
        "charge_category": category,
        "charge_class": charge_class,
        "resource_id": resource_id,
        "tier": None if rest else tier,
        "gpu_type": None if rest else gpu_type,
        "gpu_count": None if rest else gpu_count,
        "price_model": None if rest else price_model,
        "billed_cost": money(billed),
        "currency": currency,
        "export_rows": export_rows,
        "skipped": skipped if rest else None,
    }


def warehouse(directory: Path | None, name: str = "warehouse.duckdb") -> duckdb.DuckDBPyConnection:
    """A fresh DuckDB file in `directory` (in memory when None) with the mart schemas, and raw and
    quarantine as plain tables (the pipeline reads them as views over its lake)."""
    con = duckdb.connect(str(Path(directory) / name) if directory is not None else ":memory:")
    ensure_schema(con)
    create_raw_tables(con)
    create_quarantine_tables(con)
    return con


def create_quarantine_tables(con: duckdb.DuckDBPyConnection) -> None:
    from pipelines.landing import QUARANTINE_SCHEMA
    from pipelines.sources.registry import SOURCES

    con.execute("CREATE SCHEMA IF NOT EXISTS quarantine")
    columns = ", ".join(f"{f.name} {'DATE' if f.name == 'day' else 'BIGINT' if f.name == 'row_number' else 'VARCHAR'}"
                        for f in QUARANTINE_SCHEMA)
    for name in SOURCES:
        con.execute(f"CREATE TABLE IF NOT EXISTS quarantine.{name} ({columns})")


class PagesClient:
    """Serves given contract-API pages as `SourceClient.iter_pages` would."""

    def __init__(self, pages):
        self.pages = pages

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def iter_pages(self, path, params):
        return iter(self.pages)


def land_pages(con: duckdb.DuckDBPyConnection, source: str, pages, window) -> None:
    """Contract-API pages typed by the real adapter, their good rows appended to raw.<source> (identical
    copies collapsed, rule 9) and the rejected ones to quarantine.<source>."""
    import polars as pl

    from pipelines.adapters.contract_api import ContractApiAdapter
    from pipelines.sources.frames import PAYLOAD, PROBLEM_FIELD, PROBLEM_REASON, ROW
    from pipelines.sources.registry import SOURCES

    adapter = ContractApiAdapter(SOURCES[source], lambda: PagesClient(pages), label="test pages")
    try:
        frames = list(adapter.read(window))
    finally:
        adapter.close()
    frame = pl.concat(frames) if frames else None
    if frame is None:
        return
    good = frame.filter(pl.col(PROBLEM_FIELD).is_null()).select(SOURCES[source].column_names).unique()
    bad = frame.filter(pl.col(PROBLEM_FIELD).is_not_null()).select(
        pl.lit(source).alias("source"), pl.lit(window.day).alias("day"), pl.col(ROW).alias("row_number"),
        pl.col(PROBLEM_FIELD).alias("field"), pl.col(PROBLEM_REASON).alias("reason"),
        pl.col(PAYLOAD).alias("raw_payload"))
    for table, held in ((f"raw.{source}", good), (f"quarantine.{source}", bad)):
        con.register("landing", held.to_arrow())
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM landing")
        con.unregister("landing")


def _insert(con: duckdb.DuckDBPyConnection, table: str, columns: tuple[str, ...], items: Iterable[dict]) -> None:
    items = list(items)
    if not items:
        return
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    con.executemany(
        f"INSERT INTO {table} ({names}) VALUES ({marks})",
        [[item[c] for c in columns] for item in items],
    )


def load(
    con: duckdb.DuckDBPyConnection,
    snapshots: Iterable[dict] = (),
    requests: Iterable[dict] = (),
    events: Iterable[dict] = (),
    cost_rows: Iterable[dict] = (),
) -> None:
    """Append rows to raw.* in one transaction (the raw layer is already deduplicated upstream)."""
    con.execute("BEGIN TRANSACTION")
    try:
        _insert(con, "raw.billing_snapshots", SNAPSHOT_COLUMNS, snapshots)
        _insert(con, "raw.requests", REQUEST_COLUMNS, requests)
        _insert(con, "raw.fleet_events", EVENT_COLUMNS, events)
        _insert(con, "raw.cost_rows", COST_ROW_COLUMNS, cost_rows)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def build(
    con: duckdb.DuckDBPyConnection,
    start: date | int = DAY,
    end: date | int | None = None,
    **settings: Any,
) -> None:
    """build_marts over [start, end) (days of October 2026 may be given as ints)."""
    start_date = d(start) if isinstance(start, int) else start
    if end is None:
        end_date = date.fromordinal(start_date.toordinal() + 1)
    else:
        end_date = d(end) if isinstance(end, int) else end
    build_marts(con, DayRange(start_date, end_date), AccountingSettings(**settings))


def rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    where: str | None = None,
    params: list | dict | None = None,
    order_by: str | None = None,
) -> list[dict[str, Any]]:
    """SELECT * FROM table [WHERE ...] as dicts; timestamps come back as UTC datetimes."""
    sql = f"SELECT * FROM {table}"
    if where:
        sql += f" WHERE {where}"
    if order_by:
        sql += f" ORDER BY {order_by}"
    cursor = con.execute(sql, params) if params is not None else con.execute(sql)
    names = [c[0] for c in cursor.description]
    out = []
    for values in cursor.fetchall():
        row = {}
        for name, value in zip(names, values):
            if isinstance(value, datetime) and value.tzinfo is not None:
                value = value.astimezone(UTC)
            row[name] = value
        out.append(row)
    return out


def one(con: duckdb.DuckDBPyConnection, table: str, where: str | None = None, params=None) -> dict[str, Any]:
    found = rows(con, table, where, params)
    assert len(found) == 1, f"expected one row of {table} where {where}, got {found}"
    return found[0]


def hourly(con: duckdb.DuckDBPyConnection, resource_id: str) -> dict[datetime, dict[str, Any]]:
    """marts.resource_hourly of one resource, keyed by hour."""
    return {r["hour"]: r for r in rows(con, "marts.resource_hourly", "resource_id = ?", [resource_id], "hour")}


def daily(con: duckdb.DuckDBPyConnection, day: int = DAY) -> dict[tuple[str, str], dict[str, Any]]:
    """marts.cost_per_mtok_daily of one day, keyed by (tier, model)."""
    return {
        (r["tier"], r["model"]): r
        for r in rows(con, "marts.cost_per_mtok_daily", "day = ?", [d(day)], "tier, model")
    }


def table_dump(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    """Every row of a table in a stable order, for before/after comparisons."""
    return con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()


MARTS = (
    "marts.resource_hourly",
    "marts.cost_per_mtok_daily",
    "marts.cost_by_idle_fraction",
    "marts.band_check",
    "marts.observability_gaps",
    "marts.billing_resets",
)
