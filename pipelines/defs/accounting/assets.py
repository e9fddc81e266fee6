"""The marts: one atomic build of every accounting rule over the partition range."""


import dagster as dg

from pipelines.accounting import DayRange, build_marts, drop_intermediate, widen_to_unfinished_day_before
from pipelines.defs.metadata import table_metadata
from pipelines.defs.partitions import daily, single_run
from pipelines.defs.resources import Warehouse
from pipelines.config import load_config
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


def band_result(con) -> dg.AssetCheckResult:
    rows = con.execute(
        "SELECT verdict, day, tier, usd_per_mtok, idle_fraction FROM marts.band_check "
        "WHERE verdict IN ('above_band', 'below_band') ORDER BY verdict, day, tier"
    ).fetchall()
    listed = {
        verdict: [f"{day} {tier}: ${usd:.3f}/Mtok at idle {idle:.1%}" for v, day, tier, usd, idle in rows if v == verdict]
        for verdict in ("below_band", "above_band")
    }
    return dg.AssetCheckResult(
        check_name="band",
        asset_key=dg.AssetKey(["marts", "band_check"]),
        passed=not rows,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "below_band (suspect missing billing)": dg.MetadataValue.json(listed["below_band"]),
            "above_band": dg.MetadataValue.json(listed["above_band"]),
        },
    )


def conservation_result(con, days: DayRange) -> dg.AssetCheckResult:
    (sql,) = statements("checks/conservation.sql")
    broken = con.execute(sql, {"range_start": days.start_at, "range_end": days.end_at}).fetchall()
    return dg.AssetCheckResult(
        check_name="conservation",
        asset_key=dg.AssetKey(["marts", "resource_hourly"]),
        passed=not broken,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "broken_identities": len(broken),
            "first_broken": dg.MetadataValue.md(
                "\n".join(f"- {name}: expected {exp}, got {act}" for name, exp, act in broken[:20]) or "none"
            ),
        },
    )


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
        yield conservation_result(con, days)
        drop_intermediate(con)  # only this step reads them; the publish then copies nothing it drops
        yield band_result(con)
