"""What the checks share: the scope a check judges, and readable metadata."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import dagster as dg

from pipelines.contracts.core import WHOLE_TABLE

# Every check shares the warehouse pool with the assets: one DuckDB writer at a time.
POOL = "duckdb_warehouse"


@dataclass(frozen=True)
class Scope:
    start: datetime
    end: datetime
    label: str
    whole_table: bool = False


def scope_of(context: dg.AssetCheckExecutionContext) -> Scope:
    """The run's partition range; the whole table when the check runs outside a partitioned run
    (e.g. launched alone from the UI), where no partition window exists."""
    try:
        if context.has_partition_key or context.has_partition_key_range:
            window = context.partition_time_window
            return Scope(window.start, window.end, f"{window.start.date()} to {window.end.date()} (end exclusive, UTC)")
    except Exception:  # noqa: BLE001 - Dagster raises several kinds when there is no window
        pass
    return Scope(*WHOLE_TABLE, "whole table (no partition window in this run)", whole_table=True)


def scope_days(scope: Scope) -> tuple[date | None, date | None]:
    """The UTC days a scope covers, for the lake's views; (None, None) for every stored day."""
    if scope.whole_table:
        return None, None
    last = scope.end - timedelta(microseconds=1)
    return scope.start.date(), last.date()


def md_table(rows: Sequence[dict[str, Any]] | Iterable[Sequence[Any]], columns: Sequence[str] | None = None) -> str:
    """A markdown table of dicts (or of tuples with ``columns``)."""
    rows = list(rows)
    if not rows:
        return "(none)"
    if columns is None:
        columns = list(rows[0].keys())
        values = [[r.get(c) for c in columns] for r in rows]
    else:
        values = [list(r) for r in rows]
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    return head + "\n".join("| " + " | ".join(_cell(v) for v in row) + " |" for row in values)


def _cell(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def recorded(context, warehouse, result: dg.AssetCheckResult) -> dg.AssetCheckResult:
    """Write a check's finding to the run ledger as soon as it is known (pipelines/ledger.py): the
    published file's marts.check_results then holds it whether this step ran before or after the
    publish step."""
    from pipelines.findings import Finding
    from pipelines.ledger import ledger_for

    ledger_for(warehouse.lake).record_finding(context.run.run_id, Finding.from_evaluation(result))
    return result


def utc(at: datetime | None) -> str:
    return "open" if at is None else at.isoformat().replace("+00:00", "Z")
