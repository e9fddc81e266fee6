"""Dark billing beyond a bound (DESIGN.md rule 3 and "Checks"): fails loudly, names the
resources and windows, and never hides data: the billing_complete flags tell the truth."""


from decimal import Decimal

import dagster as dg

from pipelines.config import load_config
from pipelines.contracts import CheckSettings
from pipelines.defs.checks.common import POOL, Scope, md_table, recorded, scope_of, utc
from pipelines.findings import EXAMPLES, Finding, example, inline, line, plural, rows_of
from pipelines.defs.resources import Warehouse
from pipelines.sql_files import statements

CHECK = "dark_billing"


def dark_billing_result(con, scope: Scope, settings: CheckSettings) -> dg.AssetCheckResult:
    failing_sql, longest_sql = statements("checks/dark_billing.sql")
    params = {"range_start": scope.start, "range_end": scope.end}
    # the check counts with the very query it publishes
    query = inline(failing_sql, params | {"max_gap_s": settings.max_dark_gap_s,
                                          "max_dark_share": Decimal(settings.max_dark_share)})
    failing = rows_of(con, query)
    longest = con.execute(longest_sql, params | {"examples": settings.examples}).fetchall()
    gaps_in_scope = longest[0][-1] if longest else 0
    long_gaps = [r for r in failing if r["kind"] == "gap"]
    tier_days = [r for r in failing if r["kind"] == "tier_day"]
    named = [_gap_text(r) for r in long_gaps] + [
        f"{r['tier']} on {r['day']}: {float(r['dark_s']) / 60:.1f} dark min = {float(r['dark_share']):.2%} of "
        f"{float(r['running_s']) / 3600:.1f} running h ({', '.join(r['resources'])})"
        for r in tier_days
    ]
    passed = not named
    asset = "marts.observability_gaps"
    share = f"{float(settings.max_dark_share):.2%}"
    parts = [text for count, text in (
        (long_gaps, f"{plural(len(long_gaps), 'gap')} longer than {settings.max_dark_gap_s / 60:g} min"),
        (tier_days, f"{plural(len(tier_days), 'tier-day')} dark over {share} of running time"),
    ) if count]
    what = f"billing dark beyond the bound: {' and '.join(parts)}"
    finding = Finding(
        asset=asset, check_name=CHECK, severity="ERROR", passed=passed,
        expectation=f"no billing gap or open dark stretch over {settings.max_dark_gap_s} s, and dark time at most "
        f"{float(settings.max_dark_share):.2%} of any tier-day's running time",
        failing_rows=len(failing),
        examples=tuple(
            example(r, ("resource_id", "gap_start"), ("tier", "gap_end", "length_s"), kind="gap") if r["kind"] == "gap"
            else example(r, ("tier", "day"), ("dark_s", "running_s", "dark_share", "resources"), kind="tier_day")
            for r in failing[:EXAMPLES]
        ),
        query=query,
        lines=() if passed else (line("ERROR", asset, f"{what} ({named[0]})", asset),),
    )
    return finding.check_result({
        "scope": dg.MetadataValue.text(scope.label),
        "bounds": dg.MetadataValue.text(
            f"no gap over {settings.max_dark_gap_s} s; dark time at most "
            f"{float(settings.max_dark_share):.2%} of a tier-day's running time"
        ),
        "gaps_in_scope": dg.MetadataValue.int(gaps_in_scope),
        "gaps_over_bound": dg.MetadataValue.int(len(long_gaps)),
        "tier_days_over_bound": dg.MetadataValue.int(len(tier_days)),
        "dark_beyond_bound": dg.MetadataValue.json(named),
        "long_gaps": dg.MetadataValue.md(md_table(
            [(r["resource_id"], r["tier"], utc(r["gap_start"]), utc(r["gap_end"]), f"{float(r['length_s']) / 60:.1f}")
             for r in long_gaps],
            ["resource", "tier", "dark from", "dark until", "minutes"],
        )),
        "tier_days": dg.MetadataValue.md(md_table(
            [(r["day"], r["tier"], f"{float(r['dark_s']) / 60:.1f}", f"{float(r['running_s']) / 3600:.2f}",
              f"{float(r['dark_share']):.2%}", ", ".join(r["resources"])) for r in tier_days],
            ["day", "tier", "dark min", "running h", "dark share", "resources"],
        )),
        "longest_gaps_in_scope": dg.MetadataValue.md(md_table(
            [(r, t, utc(s), utc(e), f"{float(n) / 60:.1f}") for r, t, s, e, n, _ in longest],
            ["resource", "tier", "dark from", "dark until", "minutes"],
        )),
    })


def _gap_text(r: dict) -> str:
    minutes = float(r["length_s"]) / 60
    if r["gap_end"] is None:
        return (f"{r['resource_id']} ({r['tier']}) dark since {utc(r['gap_start'])}, still open: "
                f"{minutes:.1f} min to the scope's end")
    return f"{r['resource_id']} ({r['tier']}) dark from {utc(r['gap_start'])} to {utc(r['gap_end'])}: {minutes:.1f} min"


@dg.asset_check(
    asset=dg.AssetKey(["marts", "observability_gaps"]),
    name=CHECK,
    description="Dark billing within the bound: no gap or open dark stretch over 15 minutes "
    "(INVOICE_TRUE_MAX_DARK_GAP_S) and dark time at most 1 % of any tier-day's running time "
    "(INVOICE_TRUE_MAX_DARK_SHARE). Names the resources and windows when it fails.",
    blocking=False,
    pool=POOL,
)
def dark_billing(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
    scope = scope_of(context)
    with warehouse.connect() as con:
        if scope.whole_table:
            first, last = con.execute(
                "SELECT min(hour), max(hour) FROM marts.resource_hourly"
            ).fetchall()[0]
            if first is not None:
                from datetime import timedelta

                scope = Scope(first, last + timedelta(hours=1), f"every stored hour, {first} to {last}", True)
        return recorded(context, warehouse, dark_billing_result(con, scope, load_config().checks))
