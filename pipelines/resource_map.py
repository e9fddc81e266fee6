"""STAND-IN, to be replaced by the real resource map module (written on another branch).

Only the interface the LiteLLM adapters code against, minimally and vectorised (DESIGN.md
"Mapping" and "Pinned details → Resource map"): ids match exactly, an entry may carry a
half-open validity window `[valid_from, valid_to)`, a row is mapped at one instant. Overlap
checks, configuration parsing and every other source's details belong to the real module.

    ResourceMap(entries).apply(frame, *, source, id_column, at_column)
        adds `resource_id` and `map_tier`; a non-empty id with no entry at its instant gets
        `_problem_field = "resource_id"`, `_problem_reason = "unmapped_resource: ..."`.
    tier_of_models(frame, models, model_column)
        sets `tier` of unrouted rows (`resource_id` null) from `[models]`, or
        `unmapped_model: ...` when the model is not there.
A problem already set on a row stands (the first problem is the one reported).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from pipelines.sources.frames import PROBLEM_FIELD, PROBLEM_REASON

UTC_US = pl.Datetime("us", "UTC")


@dataclass(frozen=True)
class MapEntry:
    source: str  # litellm | otel | prometheus | focus
    source_id: str
    resource_id: str
    tier: str | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None


class ResourceMap:
    def __init__(self, entries: Iterable[MapEntry | Mapping]) -> None:
        self.entries = [e if isinstance(e, MapEntry) else MapEntry(**e) for e in entries]

    def _frame(self, source: str) -> pl.DataFrame:
        rows = [e for e in self.entries if e.source == source]
        return pl.DataFrame(
            {"_map_id": [e.source_id for e in rows], "_map_resource": [e.resource_id for e in rows],
             "_map_tier": [e.tier for e in rows], "_map_from": [e.valid_from for e in rows],
             "_map_to": [e.valid_to for e in rows]},
            schema={"_map_id": pl.String, "_map_resource": pl.String, "_map_tier": pl.String,
                    "_map_from": UTC_US, "_map_to": UTC_US},
        )

    def apply(self, frame: pl.DataFrame, *, source: str, id_column: str, at_column: str) -> pl.DataFrame:
        frame = _with_problem_columns(frame).with_row_index("_map_row")
        at = pl.col(at_column)
        hits = (
            frame.select("_map_row", id_column, at_column)
            .join(self._frame(source), left_on=id_column, right_on="_map_id", how="inner")
            .filter((pl.col("_map_from").is_null() | (at >= pl.col("_map_from")))
                    & (pl.col("_map_to").is_null() | (at < pl.col("_map_to"))))
            .select("_map_row", pl.col("_map_resource").alias("resource_id"), pl.col("_map_tier").alias("map_tier"))
            .unique("_map_row", keep="first")
        )
        out = frame.drop([c for c in ("resource_id", "map_tier") if c in frame.columns]).join(
            hits, on="_map_row", how="left", maintain_order="left")
        unmapped = pl.col(id_column).is_not_null() & (pl.col(id_column) != "") & pl.col("resource_id").is_null()
        reason = (pl.lit(f"unmapped_resource: {id_column} ") + pl.col(id_column) + pl.lit(" is not mapped at ")
                  + at.dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"))
        return _set_problem(out, unmapped, "resource_id", reason).drop("_map_row")


def tier_of_models(frame: pl.DataFrame, models: Mapping[str, str], model_column: str) -> pl.DataFrame:
    frame = _with_problem_columns(frame)
    if "tier" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, pl.String).alias("tier"))
    unrouted = pl.col("resource_id").is_null()
    model_tier = pl.col(model_column).replace_strict(dict(models), default=None, return_dtype=pl.String)
    frame = frame.with_columns(pl.when(unrouted).then(model_tier).otherwise(pl.col("tier")).alias("tier"))
    unmapped = unrouted & pl.col("tier").is_null() & pl.col(model_column).is_not_null()
    reason = pl.lit("unmapped_model: model ") + pl.col(model_column) + pl.lit(" of an unrouted request is not in [models]")
    return _set_problem(frame, unmapped, "tier", reason)


def _with_problem_columns(frame: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in (PROBLEM_FIELD, PROBLEM_REASON) if c not in frame.columns]
    return frame.with_columns(pl.lit(None, pl.String).alias(c) for c in missing)


def _set_problem(frame: pl.DataFrame, broken: pl.Expr, field: str, reason: pl.Expr) -> pl.DataFrame:
    new = broken.fill_null(False) & pl.col(PROBLEM_FIELD).is_null()
    return frame.with_columns(
        pl.when(new).then(pl.lit(field)).otherwise(pl.col(PROBLEM_FIELD)).alias(PROBLEM_FIELD),
        pl.when(new).then(reason).otherwise(pl.col(PROBLEM_REASON)).alias(PROBLEM_REASON),
    )
