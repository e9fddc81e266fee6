"""The marts: one atomic build of every accounting rule over the partition range."""


import dagster as dg

from pipelines.accounting import DayRange, build_marts, drop_intermediate, widen_to_unfinished_day_before
from pipelines.defs.metadata import table_metadata
from pipelines.defs.partitions import daily, single_run
from pipelines.defs.resources import Warehouse
from pipelines.config import load_config
from pipelines.defs.checks.common import recorded
from pipelines.findings import EXAMPLES, Finding, example, inline, line, plural, rows_of
from pipelines.settings import AccountingSettings
from pipelines.sources.registry import SOURCES
from pipelines.sql_files import statements

MARTS: dict[str, str] = {
    "resource_hourly": "Per resource and UTC hour: invoice-true spend and where the time and money went "
    "(serving, idle, waking, parked), tokens, idle fraction, billing completeness.",
    "cost_per_mtok_daily": "Per UTC day, tier and model: spend allocated by token share, completion tokens, "
    "$/Mtok and idle fraction; model '*' is the tier total.",
    "cost_by_idle_fraction": "The utilisation curve: resource-hours bucketed by idle fraction, per tier.",
    "band_check": "Each H100-class tier-day against the $0.30-$0.70/Mtok band.",
    "observability_gaps": "Billing that went dark: gaps between samples and open stretches.",
    "billing_resets": "Every reset of a cumulative bill (new billing period, or a cumulative that fell).",
    "crossover": "Build or buy per tier over the trailing 30 days: utilisation u beside break-even u*, monthly "
    "cost self-hosted and on a per-token gateway (p and L are configured examples).",
    "token_crosscheck": "Per resource and UTC hour: completion tokens the request logs hold beside the tokens "
    "the engines counted (Prometheus); empty where no cross-check is configured.",
    "demand_profile": "Per UTC day and tier: hourly completion tokens at the median, p95 and peak, "
    "peak_to_median, busy_fraction.",
}
RAW_KEYS = [dg.AssetKey(["raw", name]) for name in SOURCES]
CONSERVATION = dg.AssetCheckSpec(
    "conservation",
    asset=["marts", "resource_hourly"],
    blocking=True,
    description="Every nanodollar of snapshot spend, and of mapped FOCUS Usage rows (rule 11), lands in exactly "
    "one resource_hourly row and one cost_per_mtok_daily model row; tier rows equal their models; "
    "busy + idle + waking = running.",
)


BAND = dg.AssetCheckSpec(
    "band",
    asset=["marts", "band_check"],
    description="Judged tier-days inside $0.30-$0.70/Mtok; below band (usually missing billing) "
    "listed apart from above band.",
)


def day_range(window: dg.TimeWindow) -> DayRange:
    return DayRange(window.start.date(), window.end.date())


BAND_QUERY = """
SELECT day, tier, usd_per_mtok, idle_fraction, completion_tokens, billing_complete, verdict
FROM marts.band_check
WHERE verdict IN ('above_band', 'below_band') AND day >= $first_day AND day < $end_day
ORDER BY verdict DESC, day, tier
"""


def band_result(con, days: DayRange, settings: AccountingSettings | None = None) -> dg.AssetCheckResult:
    """The run's tier-days against the band: a day judged out of band last month does not fail tonight."""
    settings = settings or load_config().accounting
    query = inline(BAND_QUERY, {"first_day": days.start, "end_day": days.end})
    rows = rows_of(con, query)
    listed = {
        verdict: [f"{r['day']} {r['tier']}: ${r['usd_per_mtok']:.3f}/Mtok at idle {r['idle_fraction']:.1%}"
                  for r in rows if r["verdict"] == verdict]
        for verdict in ("below_band", "above_band")
    }
    band = f"${settings.band_low_usd_per_mtok}-${settings.band_high_usd_per_mtok}/Mtok"
    what = f"{plural(len(rows), 'tier-day')} outside {band}: " + " and ".join(
        f"{len(listed[v])} {t}" for v, t in (("below_band", "below (usually missing billing)"), ("above_band", "above"))
        if listed[v])
    if rows:
        first = rows[0]
        what += (f" ({first['tier']} on {first['day']} at ${first['usd_per_mtok']:.3f}/Mtok, "
                 f"idle {first['idle_fraction']:.1%})")
    finding = Finding(
        asset="marts.band_check", check_name="band", severity="WARN", passed=not rows,
        expectation=f"tier-days of {', '.join(settings.band_tiers)} inside {band}, judged where billing is complete, "
        f"idle fraction at most {settings.band_max_idle_fraction:.0%} and at least "
        f"{settings.band_min_completion_tokens:,} completion tokens",
        failing_rows=len(rows),
        examples=tuple(example(r, ("tier", "day"), ("verdict", "usd_per_mtok", "idle_fraction", "completion_tokens"))
                       for r in rows[:EXAMPLES]),
        query=query,
        lines=(line("WARN", "marts.band_check", what, "marts.band_check"),) if rows else (),
    )
    return finding.check_result({
        "days": dg.MetadataValue.text(f"{days.start} to {days.end} (end exclusive, UTC)"),
        "below_band (suspect missing billing)": dg.MetadataValue.json(listed["below_band"]),
        "above_band": dg.MetadataValue.json(listed["above_band"]),
    })


def conservation_result(con, days: DayRange) -> dg.AssetCheckResult:
    build_only_sql, marts_sql = statements("checks/conservation.sql")
    params = {"range_start": days.start_at, "range_end": days.end_at}
    query = inline(marts_sql, params)  # the identities a reader can judge from the published file
    broken = con.execute(build_only_sql, params).fetchall() + con.execute(query).fetchall()
    asset = "marts.resource_hourly"
    finding = Finding(
        asset=asset, check_name="conservation", severity="ERROR", passed=not broken,
        expectation="every nanodollar of snapshot spend in the range lands in exactly one resource_hourly row and one "
        "cost_per_mtok_daily model row; tier rows equal their models; busy + idle + waking = running; "
        "spend parts = spend",
        failing_rows=len(broken),
        examples=tuple({"key": {"identity": name}, "values": {"expected": exp, "actual": act}}
                       for name, exp, act in broken[:EXAMPLES]),
        query=query,
        lines=(line("ERROR", asset, f"conservation broken in {plural(len(broken), 'identity')} "
                    f"({broken[0][0]}: expected {broken[0][1]}, got {broken[0][2]})", asset),) if broken else (),
    )
    return finding.check_result({
        "broken_identities": len(broken),
        "first_broken": dg.MetadataValue.md(
            "\n".join(f"- {name}: expected {exp}, got {act}" for name, exp, act in broken[:20]) or "none"
        ),
    })


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ["marts", name],
            description=text,
            deps=RAW_KEYS,
            group_name="marts",
            kinds={"duckdb", "sql"},
            owners=["team:fleet-finance"],
        )
        for name, text in MARTS.items()
    ],
    check_specs=[CONSERVATION, BAND],
    partitions_def=daily,
    backfill_policy=single_run,
    pool="duckdb_warehouse",
)
def accounting_marts(context: dg.AssetExecutionContext, warehouse: Warehouse):
    days = day_range(context.partition_time_window)
    with warehouse.connect() as con:
        days = widen_to_unfinished_day_before(con, days)
        warehouse.attach_lake(con, days.start, days.last)
        if days.start != context.partition_time_window.start.date():
            context.log.info(f"also rebuilding {days.start}: it was published with incomplete billing")
        build_marts(con, days, load_config().accounting)
        for table in MARTS:
            yield dg.MaterializeResult(asset_key=["marts", table], metadata={
                **table_metadata(con, "marts", table),
                "days": dg.MetadataValue.text(f"{days.start} to {days.end} (end exclusive, UTC)"),
            })
        yield recorded(context, warehouse, conservation_result(con, days))
        drop_intermediate(con)  # only this step reads them; the publish then copies nothing it drops
        yield recorded(context, warehouse, band_result(con, days))
