"""STAND-IN — delete when the real resource map lands (another helper writes it).

A minimal `ResourceMap(entries).apply(frame, *, source, id_column, at_column)` with the interface
the prometheus adapter codes against, so it can be tested now. It keeps only what DESIGN.md
"Mapping" and "Pinned details → Resource map" say the adapter relies on: exact ids, optional
half-open validity windows, a row mapped at one instant, and an unmapped id quarantined with a
reason starting `unmapped_resource`. A problem a row already has stands.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from pipelines.sources.frames import PROBLEM_FIELD, PROBLEM_REASON


@dataclass(frozen=True)
class MapEntry:
    source: str
    source_id: str
    resource_id: str
    valid_from: datetime | None = None
    valid_to: datetime | None = None


class ResourceMap:
    def __init__(self, entries: Iterable[MapEntry]) -> None:
        self.entries = list(entries)

    def apply(self, frame: pl.DataFrame, *, source: str, id_column: str, at_column: str) -> pl.DataFrame:
        """`frame` with `resource_id` added (null where unmapped) and the problem columns set on
        rows whose id has no entry valid at the row's instant."""
        utc = pl.Datetime("us", "UTC")
        entries = pl.DataFrame(
            [(e.source_id, e.resource_id, e.valid_from, e.valid_to) for e in self.entries if e.source == source],
            schema={"_id": pl.String, "_resource": pl.String, "_from": utc, "_to": utc}, orient="row",
        )
        indexed = frame.with_row_index("_i")
        found = (
            indexed.select("_i", pl.col(id_column).alias("_id"), pl.col(at_column).cast(utc).alias("_at"))
            .join(entries, on="_id")
            .filter((pl.col("_from").is_null() | (pl.col("_at") >= pl.col("_from")))
                    & (pl.col("_to").is_null() | (pl.col("_at") < pl.col("_to"))))
            .select("_i", pl.col("_resource").alias("resource_id"))
        )
        out = indexed.drop("resource_id", strict=False).join(found, on="_i", how="left", maintain_order="left")
        for name in (PROBLEM_FIELD, PROBLEM_REASON):
            if name not in out.columns:
                out = out.with_columns(pl.lit(None, pl.String).alias(name))
        unmapped = pl.col("resource_id").is_null() & pl.col(PROBLEM_FIELD).is_null()
        at_text = pl.col(at_column).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        return out.with_columns(
            pl.when(unmapped).then(pl.lit(id_column)).otherwise(pl.col(PROBLEM_FIELD)).alias(PROBLEM_FIELD),
            pl.when(unmapped).then(
                pl.concat_str(pl.lit(f"unmapped_resource: {id_column} "), pl.col(id_column).fill_null("(none)"),
                              pl.lit(" is not mapped at "), at_text)
            ).otherwise(pl.col(PROBLEM_REASON)).alias(PROBLEM_REASON),
        ).drop("_i")
