"""The table `invoice-true demo` prints: what a million output tokens cost, per tier and model."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from pipelines.sql_files import ready_query

INCOMPLETE = "INCOMPLETE billing"


def print_demo_table(published: Path) -> None:
    with duckdb.connect(str(published), read_only=True) as con:
        tier_days = con.sql(ready_query("usd_per_mtok_by_day")).pl().select(
            "day", "tier", pl.col("usd_per_mtok").alias("$/Mtok"),
            pl.col("idle_fraction").round(3).cast(pl.Decimal(38, 3)),
            pl.col("completion_tokens").alias("tokens"), pl.col("spend").alias("spend_usd"),
            pl.col("verdict").fill_null("-").alias("band"),
            pl.when(pl.col("billing_complete")).then(pl.lit("")).otherwise(pl.lit(INCOMPLETE)).alias("note"))
        models = con.sql(ready_query("usd_per_mtok_by_model")).pl().sort("tier", "model").select(
            "tier", "model", pl.col("spend").alias("spend_usd"), pl.col("completion_tokens").alias("tokens"),
            pl.col("usd_per_mtok").round(3).cast(pl.Decimal(38, 3)).alias("$/Mtok"),
            pl.when(pl.col("incomplete_days") == 0).then(pl.lit("")).otherwise(pl.lit(INCOMPLETE)).alias("note"))
    with pl.Config(
        tbl_rows=-1, tbl_cols=-1, tbl_hide_column_data_types=True, tbl_hide_dataframe_shape=True,
        fmt_str_lengths=40, tbl_width_chars=160, tbl_formatting="ASCII_MARKDOWN",
    ):
        print("\nInvoice-true cost per million output tokens, per tier and UTC day "
              "(band $0.30-$0.70 on h100-class):")
        print(tier_days)
        print("\nPer model over the whole fleet week:")
        print(models)
    print(f"\nPublished DuckDB file: {published}")
    print(f"Open it with: duckdb -readonly {published}")
