"""The quarantined share of each raw source over the days in scope (DESIGN.md "Sources", rule 9)."""


from decimal import Decimal

import dagster as dg

from pipelines.config import load_config
from pipelines.contracts import CheckSettings
from pipelines.defs.checks.common import POOL, Scope, md_table, recorded, scope_days, scope_of
from pipelines.defs.resources import Warehouse
from pipelines.sources.registry import SOURCES
from pipelines.findings import EXAMPLES, Finding, example, line, literal, rows_of
from pipelines.sql_files import statements

CHECK = "quarantine_share"


def quarantine_share_result(con, source: str, scope: Scope, settings: CheckSettings) -> dg.AssetCheckResult:
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}")
    selected_on = SOURCES[source].day_column
    if scope.whole_table:
        scope = _stored_days(con, source, selected_on)
    weight = SOURCES[source].wire_rows_column
    wire_rows = f'coalesce(sum("{weight}"), 0)' if weight else "count(*)"
    per_day_sql, reasons_sql, examples_sql = (
        s.replace("{{table}}", source).replace("{{selected_on}}", f'"{selected_on}"').replace("{{wire_rows}}", wire_rows)
        for s in statements("checks/quarantine_share.sql")
    )
    params = {"range_start": scope.start, "range_end": scope.end}
    days = con.execute(per_day_sql, params | {"margin_s": settings.day_edge_margin_s}).fetchall()
    reasons = con.execute(reasons_sql, params).fetchall()
    examples = con.execute(examples_sql, params | {"examples": settings.examples}).fetchall()
    raw_rows = sum(r for _, r, _ in days)
    quarantined = sum(q for _, _, q in days)
    total = raw_rows + quarantined
    share = Decimal(quarantined) / Decimal(total) if total else Decimal(0)
    bound = Decimal(settings.max_quarantine_share)
    finding = quarantine_finding(con, source, scope, quarantined, total, share, bound, reasons)
    return finding.check_result({
        "scope": dg.MetadataValue.text(scope.label),
        "rows": dg.MetadataValue.int(total),
        "raw_rows": dg.MetadataValue.int(raw_rows),
        "quarantined_rows": dg.MetadataValue.int(quarantined),
        "quarantined_share": dg.MetadataValue.float(float(share)),
        "bound": dg.MetadataValue.float(float(bound)),
        "by_reason": dg.MetadataValue.md(md_table(reasons, ["field", "reason", "rows"])),
        "by_day": dg.MetadataValue.md(md_table(
            [(day, r, q, f"{q / (r + q):.2%}" if r + q else "-") for day, r, q in days],
            ["day", "raw rows", "quarantined", "share"],
        )),
        "quarantined_examples": dg.MetadataValue.md(
            md_table(examples, ["source", "day", "row_number", "field", "reason"])),
    })


def quarantine_finding(con, source: str, scope: Scope, quarantined: int, total: int, share: Decimal, bound: Decimal,
                       reasons: list[tuple]) -> Finding:
    """The quarantined rows of the days in scope: the rows behind the share, listed by the query
    whether or not the share is over the bound."""
    # the days of quarantine_share.sql: [CAST(range_start AS DATE), CAST(range_end AS DATE))
    query = (f"SELECT *\nFROM quarantine.{source}\n"
             f"WHERE day >= {literal(scope.start.date())} AND day < {literal(scope.end.date())}\n"
             "ORDER BY day, row_number")
    passed = share <= bound
    what = f"{quarantined:,} of {total:,} rows quarantined ({float(share):.2%}; bound {float(bound):.2%})"
    if reasons:
        field, reason, rows = reasons[0]
        what += f", most for {field}: {reason} ({rows:,})"
    return Finding(
        asset=f"raw.{source}", check_name=CHECK, severity="ERROR", passed=passed,
        expectation=f"at most {float(bound):.2%} of the {source} rows fetched for the days in scope quarantined",
        failing_rows=quarantined,
        examples=tuple(example(row, ("day", "row_number"), ("field", "reason", "origin"))
                       for row in rows_of(con, query, EXAMPLES)),
        query=query,
        lines=() if passed else (line("ERROR", f"raw.{source}", what, f"quarantine.{source}"),),
    )


def _stored_days(con, source: str, selected_on: str) -> Scope:
    """Outside a partitioned run: every day stored in raw or quarantine."""
    from datetime import datetime, time, timedelta, timezone

    first, last = con.execute(
        f'SELECT least(min(CAST("{selected_on}" AS DATE)), (SELECT min(day) FROM quarantine.{source})), '
        f'greatest(max(CAST("{selected_on}" AS DATE)), (SELECT max(day) FROM quarantine.{source})) '
        f"FROM raw.{source}"
    ).fetchall()[0]
    if first is None:
        now = datetime.now(timezone.utc)
        return Scope(now, now + timedelta(days=1), "whole table (empty)", whole_table=True)
    start = datetime.combine(first, time(), timezone.utc)
    end = datetime.combine(last, time(), timezone.utc) + timedelta(days=1)
    return Scope(start, end, f"every stored day, {first} to {last} (no partition window in this run)", True)


def _quarantine_check(source: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey(["raw", source]),
        name=CHECK,
        description=f"Quarantined share of raw/{source} over the days in scope within the bound "
        "(INVOICE_TRUE_MAX_QUARANTINE_SHARE, default 1 %); counts by reason and example rows.",
        blocking=False,
        pool=POOL,
    )
    def check(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        scope = scope_of(context)
        with warehouse.connect() as con:
            warehouse.attach_lake(con, *scope_days(scope))
            return recorded(context, warehouse, quarantine_share_result(con, source, scope, load_config().checks))

    return check


quarantine_billing_snapshots = _quarantine_check("billing_snapshots")
quarantine_requests = _quarantine_check("requests")
quarantine_fleet_events = _quarantine_check("fleet_events")
quarantine_cost_rows = _quarantine_check("cost_rows")
