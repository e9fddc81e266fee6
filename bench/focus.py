"""Times the `focus_cost_rows` adapter (issue 12) on synthetic FOCUS exports, and a month's marts.

    .venv/bin/python -m bench.focus            # part of `make bench`

Two exports, written once (cached under .cache/bench/focus/), AWS-shaped (FOCUS_1_0_AWS columns,
Parquet with millisecond timestamps and double costs, and the same rows as CSV):
- `month`: a month of hourly Usage rows for 200 replicas (144,000 rows) and a little of the rest
  of the bill (storage, tax, a credit);
- `5M`: the same fleet inside a 5,000,000-row export of a larger cloud account (other resources'
  Usage, Purchase, Tax, Credit rows).
For each, in a fresh process: the adapter reads the export and lands every day of the month into a
lake (`land`, one window per day, as the raw asset does); then, for `month`, the marts of the whole
month are built from the lake. Wall seconds and peak RSS are printed, best of two, with the load.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

HERE = Path(__file__).resolve().parent
CACHE = HERE.parent / ".cache" / "bench" / "focus"
MONTH = date(2026, 10, 1)
DAYS = 30
REPLICAS = 200
ACCOUNT = "123456789012"
ARN = f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-"


def fleet_rows() -> pl.DataFrame:
    hours = pl.datetime_range(datetime(2026, 10, 1), datetime(2026, 10, 31) - timedelta(hours=1), "1h",
                              eager=True, time_unit="ms")
    ids = pl.Series("ResourceId", [f"{ARN}{i:017x}" for i in range(REPLICAS)])
    frame = pl.DataFrame({"ChargePeriodStart": hours}).join(pl.DataFrame(ids), how="cross")
    rng = np.random.default_rng(12)
    cost = np.round(rng.uniform(0.5, 12.0, frame.height), 9)
    return frame.with_columns(pl.Series("BilledCost", cost), pl.lit("Usage").alias("ChargeCategory"),
                              pl.lit("Dynamic").alias("PricingCategory"))


def other_rows(n: int) -> pl.DataFrame:
    rng = np.random.default_rng(13)
    starts = datetime(2026, 10, 1) + pl.Series(rng.integers(0, DAYS * 24, n) * 3600_000, dtype=pl.Int64).cast(
        pl.Duration("ms"))
    categories = rng.choice(["Usage", "Usage", "Usage", "Usage", "Purchase", "Tax", "Credit"], n)
    return pl.DataFrame({
        "ChargePeriodStart": starts,
        "ResourceId": pl.Series([f"arn:aws:s3:::bucket-{i}" for i in rng.integers(0, 50_000, n)]),
        "BilledCost": np.round(rng.exponential(0.05, n), 10),
        "ChargeCategory": categories,
        "PricingCategory": "Standard",
    }).with_columns(pl.when(pl.col("ChargeCategory").is_in(["Tax", "Credit"])).then(None)
                    .otherwise(pl.col("ResourceId")).alias("ResourceId"))


def finish(frame: pl.DataFrame) -> pl.DataFrame:
    start = pl.col("ChargePeriodStart")
    return frame.select(
        pl.lit(ACCOUNT).alias("BillingAccountId"), pl.lit("USD").alias("BillingCurrency"),
        pl.lit(datetime(2026, 10, 1)).dt.cast_time_unit("ms").alias("BillingPeriodStart"),
        pl.lit(datetime(2026, 11, 1)).dt.cast_time_unit("ms").alias("BillingPeriodEnd"),
        start, (start + timedelta(hours=1)).alias("ChargePeriodEnd"), "ChargeCategory",
        pl.lit(None, pl.String).alias("ChargeClass"), "ResourceId", "PricingCategory", "BilledCost",
        pl.col("BilledCost").alias("EffectiveCost"), pl.lit("Amazon Elastic Compute Cloud").alias("ServiceName"),
        pl.lit("AWS").alias("ProviderName"), pl.lit("BoxUsage").alias("x_UsageType"),
    )


def write_exports() -> dict[str, Path]:
    out = {}
    fleet = fleet_rows()
    for name, frame in (("month", pl.concat([fleet, other_rows(2_000)], how="diagonal_relaxed")),
                        ("5M", pl.concat([fleet, other_rows(5_000_000 - fleet.height)], how="diagonal_relaxed"))):
        folder = CACHE / name
        parquet, csv = folder / "parquet" / "export-00001.snappy.parquet", folder / "csv" / "export-00001.csv"
        if not parquet.exists() or not csv.exists():
            parquet.parent.mkdir(parents=True, exist_ok=True)
            csv.parent.mkdir(parents=True, exist_ok=True)
            rows = finish(frame).sample(fraction=1.0, shuffle=True, seed=1)
            rows.write_parquet(parquet)
            rows.with_columns(pl.col(c).dt.strftime("%Y-%m-%d %H:%M:%S") for c in
                              ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd")
                              ).write_csv(csv, null_value="NULL")
        out[f"{name} parquet"], out[f"{name} csv"] = parquet.parent, csv.parent
    return out


def config(export: Path, folder: Path) -> Path:
    lines = ["[billing]", 'adapter = "focus_cost_rows"', f'path = "{export}"', ""]
    for i in range(REPLICAS):
        lines += ["[[resource_map]]", 'source = "focus"', f'source_id = "{ARN}{i:017x}"',
                  f'resource_id = "gpu-{i:03d}"', 'tier = "h100-class"', ""]
    path = folder / "invoice-true.toml"
    path.write_text("\n".join(lines))
    return path


def measure(export: Path, build: bool) -> dict:
    """In this process: read and land the month; optionally build its marts."""
    from pipelines.accounting import DayRange, build_marts
    from pipelines.adapters import build_adapter
    from pipelines.adapters.base import Window
    from pipelines.config import load_config
    from pipelines.lake import Lake
    from pipelines.lake_views import attach_views, sync_edges
    from pipelines.landing import land
    from pipelines.sources.registry import SOURCES
    from pipelines.warehouse import connect

    app = load_config()
    adapter = build_adapter("billing", app.billing, app)
    with tempfile.TemporaryDirectory() as scratch:
        lake = Lake(Path(scratch) / "lake")
        clock = time.perf_counter()
        adapter.prepared()
        read_s = time.perf_counter() - clock
        kept = 0
        for i in range(DAYS):
            window = Window.for_day(MONTH + timedelta(days=i), timedelta(minutes=15))
            kept += land(lake, SOURCES["cost_rows"], adapter.read(window), window=window, adapter=adapter.name).kept
        land_s = time.perf_counter() - clock
        result = {"read_s": read_s, "read_and_land_s": land_s, "rows_read": adapter.prepared().rows_read,
                  "rows_landed": kept, "rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}
        if build:
            days = DayRange(MONTH, MONTH + timedelta(days=DAYS))
            with connect(Path(scratch) / "w.duckdb") as con:
                clock = time.perf_counter()
                sync_edges(con, lake)
                attach_views(con, lake, (days.start, days.last))
                build_marts(con, days, app.accounting)
                result["marts_s"] = time.perf_counter() - clock
                result["resource_hours"] = con.execute("SELECT count(*) FROM marts.resource_hourly").fetchall()[0][0]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=2, metavar=("EXPORT", "BUILD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(Path(args.child[0]), args.child[1] == "1")))
        return
    exports = write_exports()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print("| export | rows | read s | read + land 30 days s | month's marts s | peak RSS GiB |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, path in exports.items():
        best = None
        for _ in range(2):
            with tempfile.TemporaryDirectory() as folder:
                env = {"GATEWAY_API_URL": "http://127.0.0.1:9", "GATEWAY_API_TOKEN": "unused",  # not read here
                       **os.environ, "INVOICE_TRUE_CONFIG": str(config(path, Path(folder)))}
                build = "1" if name == "month parquet" else "0"
                out = subprocess.run([sys.executable, "-m", "bench.focus", "--child", str(path), build], env=env,
                                     cwd=HERE.parent, capture_output=True, text=True, check=True)
                result = json.loads(out.stdout.strip().splitlines()[-1])
                best = result if best is None or result["read_and_land_s"] < best["read_and_land_s"] else best
        marts = f"{best['marts_s']:.1f}" if "marts_s" in best else "-"
        print(f"| {name} | {best['rows_read']:,} | {best['read_s']:.1f} | {best['read_and_land_s']:.1f} | {marts} "
              f"| {best['rss_gib']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
