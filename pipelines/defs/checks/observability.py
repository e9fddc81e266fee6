"""Dark billing beyond a bound (DESIGN.md rule 3 and "Checks"): fails loudly, names the
resources and windows, and never hides data: the billing_complete flags tell the truth."""


from decimal import Decimal

import dagster as dg

from pipelines.config import load_config
from pipelines.contracts import CheckSettings
from pipelines.defs.checks.common import POOL, Scope, md_table, scope_of, utc
from pipelines.defs.resources import Warehouse
from pipelines.sql_files import statements

CHECK = "dark_billing"


def dark_billing_result(con, scope: Scope, settings: CheckSettings) -> dg.AssetCheckResult:
    make_days, long_gaps_sql, tier_days_sql, longest_sql = statements("checks/dark_billing.sql")
    params = {"range_start": scope.start, "range_end": scope.end}
    con.execute(make_days, params)
    try:
        long_gaps = con.execute(long_gaps_sql, {"max_gap_s": settings.max_dark_gap_s}).fetchall()
        tier_days = con.execute(tier_days_sql, params | {"max_dark_share": Decimal(settings.max_dark_share)}).fetchall()
        longest = con.execute(longest_sql, {"examples": settings.examples}).fetchall()
        gaps_in_scope = con.execute("SELECT count(DISTINCT (resource_id, gap_start)) FROM dark_gap_days").fetchall()[0][0]
    finally:
        con.execute("DROP TABLE IF EXISTS dark_gap_days")
    named = [
        f"{resource} ({tier}) dark from {utc(start)} to {utc(end)}: {float(length) / 60:.1f} min"
        if end is not None else
        f"{resource} ({tier}) dark since {utc(start)}, still open: {float(length) / 60:.1f} min to the scope's end"
        for resource, tier, start, end, length in long_gaps
    ] + [
        f"{tier} on {day}: {float(dark) / 60:.1f} dark min = {float(share):.2%} of {float(running) / 3600:.1f} "
        f"running h ({', '.join(resources)})"
        for day, tier, dark, running, share, resources in tier_days
    ]
    passed = not named
    return dg.AssetCheckResult(
        check_name=CHECK,
        asset_key=dg.AssetKey(["marts", "observability_gaps"]),
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=("no dark billing beyond the bound" if passed else "; ".join(named[:5])
                     + (f"; and {len(named) - 5} more" if len(named) > 5 else "")),
        metadata={
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
                [(r, t, utc(s), utc(e), f"{float(n) / 60:.1f}") for r, t, s, e, n in long_gaps],
                ["resource", "tier", "dark from", "dark until", "minutes"],
            )),
            "tier_days": dg.MetadataValue.md(md_table(
                [(d, t, f"{float(k) / 60:.1f}", f"{float(r) / 3600:.2f}", f"{float(s):.2%}", ", ".join(rs))
                 for d, t, k, r, s, rs in tier_days],
                ["day", "tier", "dark min", "running h", "dark share", "resources"],
            )),
            "longest_gaps_in_scope": dg.MetadataValue.md(md_table(
                [(r, t, utc(s), utc(e), f"{float(n) / 60:.1f}") for r, t, s, e, n in longest],
                ["resource", "tier", "dark from", "dark until", "minutes"],
            )),
        },
    )


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
        return dark_billing_result(con, scope, load_config().checks)
