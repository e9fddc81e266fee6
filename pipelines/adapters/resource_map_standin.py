"""STAND-IN — replace with the resource-map module another helper is writing, then delete this file.

It implements only the interface the otlp_files adapter codes against (DESIGN.md "Mapping" and
"Pinned details → Resource map"), so the adapter and its tests run before that module lands:

- `ResourceMap(entries).apply(frame, *, source, id_column, at_column)` adds `resource_id` and
  `map_tier`; a non-empty id with no entry of `source` valid at `at_column` (half-open
  `[valid_from, valid_to)`, ids compared exactly) gets `_problem_field = "resource_id"` and
  `_problem_reason = "unmapped_resource: <source> <id> is not mapped at <instant>"`, unless the
  row already has a problem;
- `tier_of_models(frame, models, model_column)` adds `model_tier` from the `[models]` table.

Entries are dicts shaped like the `[[resource_map]]` tables of the configuration file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import polars as pl

UTC_US = pl.Datetime("us", "UTC")
_FAR = {"valid_from": datetime(1, 1, 1), "valid_to": datetime(9999, 1, 1)}


class ResourceMap:
    def __init__(self, entries: Sequence[Mapping]) -> None:
        rows = [{**_FAR, "tier": None, **{k: v for k, v in e.items() if v is not None}} for e in entries]
        self.entries = pl.DataFrame(
            rows or None,
            schema={"source": pl.String, "source_id": pl.String, "resource_id": pl.String, "tier": pl.String,
                    "valid_from": UTC_US, "valid_to": UTC_US},
        )

    def apply(self, frame: pl.DataFrame, *, source: str, id_column: str, at_column: str) -> pl.DataFrame:
        indexed = frame.with_row_index("_map_i")
        entries = self.entries.filter(pl.col("source") == source).rename({"tier": "map_tier"})
        found = (
            indexed.select("_map_i", id_column, at_column)
            .join(entries, left_on=id_column, right_on="source_id", how="inner")
            .filter((pl.col(at_column) >= pl.col("valid_from")) & (pl.col(at_column) < pl.col("valid_to")))
            .select("_map_i", "resource_id", "map_tier")
            .unique("_map_i", keep="first")
        )
        out = indexed.drop("resource_id", "map_tier", strict=False).join(found, on="_map_i", how="left")
        out = out.sort("_map_i").drop("_map_i")
        for name in ("_problem_field", "_problem_reason"):
            if name not in out.columns:
                out = out.with_columns(pl.lit(None, pl.String).alias(name))
        unmapped = (
            pl.col(id_column).str.strip_chars().str.len_chars().fill_null(0).gt(0)
            & pl.col("resource_id").is_null() & pl.col("_problem_field").is_null()
        )
        reason = pl.concat_str(
            pl.lit(f"unmapped_resource: {source} "), pl.col(id_column), pl.lit(" is not mapped at "),
            pl.col(at_column).dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"),
        )
        return out.with_columns(
            pl.when(unmapped).then(pl.lit("resource_id")).otherwise(pl.col("_problem_field")).alias("_problem_field"),
            pl.when(unmapped).then(reason).otherwise(pl.col("_problem_reason")).alias("_problem_reason"),
        )


def tier_of_models(frame: pl.DataFrame, models: Mapping[str, str], model_column: str) -> pl.DataFrame:
    tiers = pl.col(model_column).replace_strict(dict(models), default=None, return_dtype=pl.String)
    return frame.with_columns(tiers.alias("model_tier"))
