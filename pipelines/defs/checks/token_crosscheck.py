"""The token cross-check (DESIGN.md "Token cross-check"): warns where the request logs miss more
than `max_miss_pct` % of the tokens the engines counted, naming each resource and hour, and
where counter samples came from instances the resource map does not know (`unmapped_resource`).

A WARN check: a gateway that lost usage rows makes every $/Mtok of that hour too high, but the
figures are still what the logs say, and the table shows both counts side by side.
"""


from datetime import timedelta
from decimal import Decimal

import dagster as dg

from pipelines.config import load_config
from pipelines.defs.checks.common import POOL, Scope, md_table, recorded, scope_days, scope_of, utc
from pipelines.findings import EXAMPLES, Finding, example, inline, line, plural
from pipelines.defs.resources import Warehouse
from pipelines.sql_files import statements

CHECK = "token_crosscheck"
ASSET = dg.AssetKey(["marts", "token_crosscheck"])
DEFAULT_MAX_MISS_PCT = Decimal("1.0")
SHOWN = 5  # resource-hours named in the one-line description; metadata lists them all


def token_crosscheck_result(con, scope: Scope, max_miss_pct: Decimal = DEFAULT_MAX_MISS_PCT) -> dg.AssetCheckResult:
    flagged_sql, summary_sql, unmapped_sql = statements("checks/token_crosscheck.sql")
    params = {"range_start": scope.start, "range_end": scope.end}
    query = inline(flagged_sql, params | {"max_miss_pct": max_miss_pct})  # lists the flagged hours as written
    flagged = con.execute(query).fetchall()
    hours, judged, not_counted, with_resets, logged_judged, counted_judged = con.execute(summary_sql, params).fetchall()[0]
    unmapped = con.execute(unmapped_sql, params).fetchall() if _has_quarantine(con) else []
    named = [
        f"{resource} {utc(hour)}: logged {logged:,} of {counted:,} counted ({pct:+.3f} %)"
        for resource, hour, logged, counted, _, pct, _ in flagged
    ]
    unknown = [f"{reason.removeprefix('unmapped_resource: ')} ({samples:,} samples)" for reason, samples, *_ in unmapped]
    passed = not flagged and not unknown
    if passed:
        description = ("no engine counter in scope: nothing to cross-check" if not hours else
                       f"the logs hold the engines' count within {max_miss_pct} % in all {judged} judged "
                       f"resource-hours ({not_counted} not countable)")
    else:
        parts = []
        if named:
            parts.append(f"logs miss more than {max_miss_pct} % of the engines' count in {len(named)} "
                         f"resource-hour(s): " + "; ".join(named[:SHOWN])
                         + (f"; and {len(named) - SHOWN} more" if len(named) > SHOWN else ""))
        if unknown:
            parts.append(f"{len(unknown)} unmapped counter instance(s): " + "; ".join(unknown[:SHOWN]))
        description = " | ".join(parts)
    finding = Finding(
        asset="marts.token_crosscheck", check_name=CHECK, severity="WARN", passed=passed,
        expectation=f"the request logs hold at least {100 - max_miss_pct} % of the tokens the engines counted, per "
        "resource and hour; every counter instance is mapped",
        failing_rows=len(flagged),
        examples=tuple(example({"resource_id": r, "hour": h, "logged_tokens": lg, "counted_tokens": c,
                                "difference_pct": p}, ("resource_id", "hour"),
                               ("logged_tokens", "counted_tokens", "difference_pct"))
                       for r, h, lg, c, _, p, _ in flagged[:EXAMPLES]),
        query=query,
        lines=tuple(
            [line("WARN", "marts.token_crosscheck",
                  f"logs miss more than {max_miss_pct} % of the engines' count in {plural(len(named), 'resource-hour')} "
                  f"({named[0]})", "marts.token_crosscheck")] if named else []
        ) + tuple(
            [line("WARN", "raw.engine_token_samples", f"{plural(len(unknown), 'unmapped counter instance')} "
                  f"({unknown[0]})", "quarantine.engine_token_samples")] if unknown else []
        ),
    )
    return finding.check_result({
        "description_detail": dg.MetadataValue.text(description),
        "scope": dg.MetadataValue.text(scope.label),
        "bound": dg.MetadataValue.text(f"warn where difference_pct < -{max_miss_pct} (logged below counted)"),
        "resource_hours": dg.MetadataValue.int(hours),
        "judged": dg.MetadataValue.int(judged),
        "not_countable": dg.MetadataValue.int(not_counted),
        "with_counter_resets": dg.MetadataValue.int(with_resets),
        "logged_tokens_judged": dg.MetadataValue.int(int(logged_judged)),
        "counted_tokens_judged": dg.MetadataValue.int(int(counted_judged)),
        "over_bound": dg.MetadataValue.json(named),
        "over_bound_rows": dg.MetadataValue.md(md_table(
            [(r, utc(h), f"{lg:,}", f"{c:,}", f"{d:,}", f"{p:.3f}", n) for r, h, lg, c, d, p, n in flagged],
            ["resource", "hour", "logged", "counted", "difference", "difference %", "counter resets"],
        )),
        "unmapped_samples": dg.MetadataValue.int(sum(samples for _, samples, *_ in unmapped)),
        "unmapped_instances": dg.MetadataValue.md(md_table(
            [(reason, samples, first, last) for reason, samples, first, last in unmapped],
            ["reason", "samples", "first day", "last day"],
        )),
    })


def _has_quarantine(con) -> bool:
    """Whether quarantine.engine_token_samples exists: a view over the lake in the pipeline."""
    return bool(con.execute(
        "SELECT count(*) FROM (SELECT schema_name, table_name AS name, database_name FROM duckdb_tables() "
        "UNION ALL SELECT schema_name, view_name, database_name FROM duckdb_views()) "
        "WHERE schema_name = 'quarantine' AND name = 'engine_token_samples' AND database_name = current_database()"
    ).fetchall()[0][0])


@dg.asset_check(
    asset=ASSET,
    name=CHECK,
    description="The request logs hold the engines' own token count (Prometheus, vllm:generation_tokens_total) "
    "within 1 % per resource and hour (max_miss_pct in [crosscheck]); counter "
    "samples of unmapped instances are counted and named.",
    blocking=False,
    pool=POOL,
)
def token_crosscheck(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
    crosscheck = load_config().crosscheck
    max_miss_pct = getattr(crosscheck, "max_miss_pct", DEFAULT_MAX_MISS_PCT)
    scope = scope_of(context)
    with warehouse.connect() as con:
        warehouse.attach_lake(con, *scope_days(scope))  # the quarantined counter samples
        if scope.whole_table:
            first, last = con.execute("SELECT min(hour), max(hour) FROM marts.token_crosscheck").fetchall()[0]
            if first is not None:
                scope = Scope(first, last + timedelta(hours=1), f"every stored hour, {utc(first)} to {utc(last)}", True)
        return recorded(context, warehouse, token_crosscheck_result(con, scope, max_miss_pct))
