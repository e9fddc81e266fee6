"""The table `invoice-true demo` prints: what a million output tokens cost, per tier and model."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

TIER_DAYS = """
SELECT d.day, d.tier, d.usd_per_mtok AS "$/Mtok", round(d.idle_fraction, 3) AS idle_fraction,
       d.completion_tokens AS tokens, d.spend AS spend_usd,
       coalesce(b.verdict, '-') AS band,
       CASE WHEN d.billing_complete THEN '' ELSE 'INCOMPLETE billing' END AS note
FROM marts.cost_per_mtok_daily AS d
LEFT JOIN marts.band_check AS b USING (day, tier)
WHERE d.model = '*'
ORDER BY d.tier, d.day
"""

MODELS = """
SELECT tier, model, sum(spend) AS spend_usd, sum(completion_tokens) AS tokens,
       CASE WHEN sum(completion_tokens) > 0
            THEN round(sum(spend) * 1000000 / sum(completion_tokens), 3) END AS "$/Mtok",
       CASE WHEN bool_and(billing_complete) THEN '' ELSE 'INCOMPLETE billing' END AS note
FROM marts.cost_per_mtok_daily
WHERE model <> '*'
GROUP BY ALL
ORDER BY tier, model
"""


def print_demo_table(published: Path) -> None:
    with duckdb.connect(str(published), read_only=True) as con:
        tier_days = con.sql(TIER_DAYS).pl()
        models = con.sql(MODELS).pl()
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
