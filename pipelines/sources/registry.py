"""The canonical sources: one declaration each, from which storage, COMMENTs, keys and contracts follow.

A canonical source is a row kind of DESIGN.md ("Sources"): billing samples, requests, fleet
events, and the rows of the newer sources that join them. Adapters (pipelines/adapters/) turn a
real wire into frames of these rows; landing, dedupe, quarantine and the rules only ever see
the canonical rows. Each entry says:

- `model`: the pydantic contract; the columns, their types, nullability, COMMENTs and value
  rules are read from it (pipelines/sources/columns.py);
- `key`: the columns that identify a row (rule 9); copies with equal values collapse, copies
  that disagree are quarantined. Empty: rows are never deduplicated (cost rows add up);
- `day_column`: the instant whose UTC day a row belongs to ("Storage"), and that a fetch
  window selects on ("Day edges");
- `label`: SQL naming one key's value in a reason;
- `checks`: rules a row must keep across fields, as polars expressions true on a bad row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl
from pydantic import BaseModel

from models.sources import BillingSnapshot, CostRow, EngineTokenSample, FleetEvent, RequestLog
from pipelines.sources.columns import Column, columns_of

ISO_INSTANT = "%Y-%m-%dT%H:%M:%S.%fZ"


@dataclass(frozen=True)
class RowRule:
    """A rule across fields: `broken` is true on a row that breaks it; `field` and `reason` word it."""

    field: str
    broken: Callable[[], pl.Expr]
    reason: Callable[[], pl.Expr]


@dataclass(frozen=True)
class CanonicalSource:
    name: str
    role: str  # the configuration section whose adapter reads it: requests, billing, events, crosscheck
    model: type[BaseModel]
    key: tuple[str, ...]
    day_column: str
    description: str
    label: str
    checks: tuple[RowRule, ...] = field(default=())
    # The stored days a build of days [first, last] reads: first - before .. last + after.
    read_days_before: int = 0
    read_days_after: int = 0
    # Whether each resource's first and last row of a day is kept apart, so a build finds
    # "the row before the day, however far back" without reading old days (rule 1).
    carries_edges: bool = False
    # Whole days before its own that a day's fetch reads again, for sources whose rows arrive
    # late: the later fetch supersedes the earlier one's overlap in the lake (pipelines/lake_views.py).
    refetch_days_before: int = 0
    # A column holding how many wire rows a stored row sums (cost rows are summed on landing), so a
    # quarantined share compares wire rows with wire rows; None: each stored row is one.
    wire_rows_column: str | None = None

    def window(self, day, margin):
        """The fetch window of `day`: the day widened by the day-edge margin, and back by
        `refetch_days_before` whole days."""
        from datetime import timedelta

        from pipelines.adapters.base import Window

        plain = Window.for_day(day, margin)
        return Window(day, plain.start - timedelta(days=self.refetch_days_before), plain.end)

    @property
    def columns(self) -> tuple[Column, ...]:
        return columns_of(self.model)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def polars_schema(self) -> dict[str, pl.DataType]:
        return {c.name: c.polars_type for c in self.columns}

    def ddl(self, schema: str = "raw") -> str:
        body = ",\n    ".join(
            f"{_quote(c.name)} {c.sql_type}{'' if c.nullable else ' NOT NULL'}" for c in self.columns
        )
        return f"CREATE TABLE IF NOT EXISTS {schema}.{self.name} (\n    {body}\n)"

    def comments(self, schema: str = "raw") -> list[str]:
        statements = [f"COMMENT ON TABLE {schema}.{self.name} IS {_literal(self.description)}"]
        statements += [
            f"COMMENT ON COLUMN {schema}.{self.name}.{_quote(c.name)} IS {_literal(c.comment)}" for c in self.columns
        ]
        return statements


def _timestamp_text(column: str) -> pl.Expr:
    return pl.col(column).dt.strftime("%Y-%m-%dT%H:%M:%SZ")


REQUESTS = CanonicalSource(
    name="requests",
    role="requests",
    model=RequestLog,
    key=("request_id",),
    day_column="finished_at",
    description="Gateway usage log, one row per request, typed and deduplicated on request_id; it belongs to "
    "the UTC day of finished_at. Read from the configured request adapter (the gateway API by default).",
    label="request_id",
    # busy time reads requests that finish up to two days after a day they overlap
    read_days_after=2,
    checks=(
        RowRule(
            "finished_at",
            lambda: pl.col("finished_at") < pl.col("received_at"),
            lambda: pl.lit("finished_at ") + _timestamp_text("finished_at") + pl.lit(" is before received_at ")
            + _timestamp_text("received_at"),
        ),
    ),
)

BILLING_SNAPSHOTS = CanonicalSource(
    name="billing_snapshots",
    role="billing",
    model=BillingSnapshot,
    key=("resource_id", "sampled_at"),
    day_column="sampled_at",
    description="Billing samples as fetched (GET /v1/billing/snapshots), typed and deduplicated on "
    "(resource_id, sampled_at). Spend is always a difference of cumulative_cost.",
    label="resource_id || ' at ' || strftime(sampled_at, '%Y-%m-%dT%H:%M:%S.%fZ')",
    # a day's last interval closes at the next day's first sample; wakes look back one day
    read_days_before=1,
    read_days_after=1,
    carries_edges=True,
)

FLEET_EVENTS = CanonicalSource(
    name="fleet_events",
    role="events",
    model=FleetEvent,
    key=("resource_id", "at", "event"),
    day_column="at",
    description="Fleet lifecycle events as fetched (GET /v1/fleet/events), deduplicated on (resource_id, at, event).",
    label="resource_id || ' ' || event || ' at ' || strftime(\"at\", '%Y-%m-%dT%H:%M:%S.%fZ')",
    read_days_before=1,
    read_days_after=1,
    carries_edges=True,
)

ENGINE_TOKEN_SAMPLES = CanonicalSource(
    name="engine_token_samples",
    role="crosscheck",
    model=EngineTokenSample,
    key=("instance", "series", "at"),
    day_column="at",
    description="The engines' own token counters (vllm:generation_tokens_total), as a Prometheus evaluates them "
    "at each step of a range query (raw counter values, no increase()); one row per series and step, keyed on "
    "(instance, series, at); it belongs to the UTC day of at. Read by the prometheus cross-check adapter.",
    label="instance || ' {' || series || '} at ' || strftime(\"at\", '%Y-%m-%dT%H:%M:%SZ')",
)

COST_ROWS = CanonicalSource(
    name="cost_rows",
    role="billing",
    model=CostRow,
    key=(),  # never deduplicated: rows of one resource and period add up (rule 11)
    day_column="charge_period_start",
    description="A cloud's FOCUS cost-and-usage export (rule 11): mapped Usage rows summed per resource, "
    "charge period and charge class (spend), and the rest of the bill summed per billing account, category "
    "and charge period (resource_id null, never spend). Belongs to the UTC day of charge_period_start.",
    label="coalesce(resource_id, billing_account_id) || ' ' || strftime(charge_period_start, '%Y-%m-%dT%H:%M:%SZ')",
    # A day's spend comes from rows that start up to 31 days before it (a daily row, a row across
    # midnight, a month-long row); the adapter refuses mapped Usage rows longer than that.
    read_days_before=31,
    # Coverage (the export's latest ChargePeriodEnd per billing account) looks past the day.
    read_days_after=1,
    # A resource's rows before the days read say it is watched; edges keep its last one.
    carries_edges=True,
    # An export reaches a day's last hours a day or so late (AWS and Azure refresh about daily):
    # the next night's fetch reads the day before again, and the marts rebuild it while it is dark.
    refetch_days_before=1,
    wire_rows_column="export_rows",
    checks=(
        RowRule(
            "charge_period_end",
            lambda: pl.col("charge_period_end") < pl.col("charge_period_start"),
            lambda: pl.lit("charge_period_end ") + _timestamp_text("charge_period_end")
            + pl.lit(" is before charge_period_start ") + _timestamp_text("charge_period_start"),
        ),
        RowRule(
            "charge_period_end",
            lambda: (pl.col("charge_period_end") == pl.col("charge_period_start")) & pl.col("skipped").is_null(),
            lambda: pl.lit("charge_period_end equals charge_period_start: spend over no time cannot be placed"),
        ),
        RowRule(
            "tier",
            lambda: pl.col("resource_id").is_not_null() & pl.col("tier").is_null(),
            lambda: pl.lit("tier is missing: a resource's cost rows take their tier from the resource map"),
        ),
    ),
)

SOURCES: dict[str, CanonicalSource] = {
    s.name: s for s in (BILLING_SNAPSHOTS, REQUESTS, FLEET_EVENTS, COST_ROWS, ENGINE_TOKEN_SAMPLES)
}
MAX_COST_ROW_DAYS = COST_ROWS.read_days_before


def create_raw_tables(con) -> None:
    """Plain `raw.<source>` tables with the canonical columns: for tests and tools that load
    canonical rows into a DuckDB of their own. The pipeline itself reads the lake as views."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    for entry in SOURCES.values():
        con.execute(entry.ddl("raw"))
        for statement in entry.comments("raw"):
            con.execute(statement)


def source(name: str) -> CanonicalSource:
    try:
        return SOURCES[name]
    except KeyError:
        raise KeyError(f"unknown canonical source {name!r}; known: {', '.join(SOURCES)}") from None


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
