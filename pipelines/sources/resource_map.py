"""The resource map applied to rows: a source's id of a replica → billing's `resource_id`, at an instant.

DESIGN.md "Pinned details → Resource map": ids match exactly (`…/v1` ≠ `…/v1/`); several ids may
map to one resource; a row is mapped at one instant (`received_at` of a request, the sample time
of a counter, `ChargePeriodStart` of a cost row); an entry holds on [valid_from, valid_to). The
entries come from `[[resource_map]]` (pipelines/config/map_entries.py), which already refused
overlapping windows, so at most one entry holds for an id at an instant.

- id null, empty or blank: unrouted. `resource_id` is null and no problem is set; the caller
  decides (a LiteLLM request then takes its tier from `[models]`, see `tier_of_models`; a span is
  always routed, so its adapter calls that unmapped).
- id set but no entry holds at the row's instant: `resource_id` null, and the row's problem is
  `unmapped_resource: <source> id <id> is not mapped at <instant>` (a problem already set stands).
- instant null: nothing is mapped and no problem is set here; the contract rejects the row for
  its missing instant.

Vectorised, no Python per row: each id becomes a small integer code (a hash lookup); an id with
one entry takes it directly, and only the rows of ids with several windows (a relaunched replica
reusing its address) go through a `join_asof` (by code, backward on the instant to the latest
`valid_from`), on a narrow frame of (position, code, instant) sorted on the instant, as polars
requires; the entry found is scattered back to each row's position. Then `valid_to` is checked.
The caller's frame is never sorted or joined: its rows keep their order.

Measured with `python -m bench.resource_map --rows 10000000` (10 M requests over one day, 64 ids
with 86 entries: a third of the ids relaunched at noon, with two validity windows each, so a
third of the rows take the asof path; 1 % unmapped, 1 % blank) on this 2-core machine while
other jobs ran on it: best of three 2.6 s at load average 3.4, 4.8 s at load average 5.5. No
quiet-machine figure yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone

import polars as pl

from pipelines.config.map_entries import ResourceMapEntry
from pipelines.sources.frames import PROBLEM_FIELD, PROBLEM_REASON

UTC_US = pl.Datetime("us", "UTC")
MAPPED = ("tier", "gpu_type", "gpu_count", "price_model")  # added as map_<name>
_EARLIEST = datetime(1, 1, 1, tzinfo=timezone.utc)  # an entry without valid_from holds since always


class ResourceMap:
    def __init__(self, entries: Iterable[ResourceMapEntry | Mapping]) -> None:
        """`[[resource_map]]` entries, as the configuration parsed them (or plain mappings of the
        same keys, validated here)."""
        self.entries = tuple(e if isinstance(e, ResourceMapEntry) else ResourceMapEntry(**e) for e in entries)

    def table(self, source: str) -> pl.DataFrame:
        """The entries of one source, one row each in order (`_map_entry` is the position), with the
        id as a small integer `_map_code`."""
        rows = [e for e in self.entries if e.source == source]
        codes = {source_id: code for code, source_id in enumerate(dict.fromkeys(e.source_id for e in rows))}
        return pl.DataFrame(
            {
                "_map_entry": list(range(len(rows))),
                "_map_code": [codes[e.source_id] for e in rows],
                "_map_id": [e.source_id for e in rows],
                "_map_from": [e.valid_from or _EARLIEST for e in rows],
                "_map_to": [e.valid_to for e in rows],
                "resource_id": [e.resource_id for e in rows],
                **{f"map_{name}": [getattr(e, name) for e in rows] for name in MAPPED},
            },
            schema={
                "_map_entry": pl.Int64, "_map_code": pl.Int32, "_map_id": pl.String, "_map_from": UTC_US,
                "_map_to": UTC_US, "resource_id": pl.String, "map_tier": pl.String, "map_gpu_type": pl.String,
                "map_gpu_count": pl.Int64, "map_price_model": pl.String,
            },
        )

    def apply(
        self,
        frame: pl.DataFrame,
        *,
        source: str,
        id_column: str,
        at_column: str,
        problem_field: str = "resource_id",
        resource_column: str = "resource_id",
    ) -> pl.DataFrame:
        """`frame` with `resource_column` and map_tier, map_gpu_type, map_gpu_count, map_price_model
        from the entry of `source` that holds for the row's `id_column` at its `at_column`; rows
        with an id that no entry holds for get `problem_field` and an `unmapped_resource` reason.
        The frame keeps its rows and their order."""
        table = self.table(source)
        at = pl.col(at_column)
        if getattr(frame.schema[at_column], "time_zone", None) is None:
            at = at.dt.replace_time_zone("UTC")  # a wire without zone writes UTC (LiteLLM, spans)
        ids = pl.col(id_column).cast(pl.String)
        codes = dict(zip(table["_map_id"], table["_map_code"]))
        per_code = table.group_by("_map_code").agg(pl.len().alias("entries"), pl.col("_map_entry").first()).sort(
            "_map_code"
        )
        keys = frame.select(
            ids.alias("_map_id"),
            at.dt.convert_time_zone("UTC").cast(UTC_US).alias("_map_at"),
            pl.int_range(pl.len(), dtype=pl.Int64).alias("_map_order"),
            ids.replace_strict(codes, default=None, return_dtype=pl.Int32).alias("_map_code"),
        )
        code = keys["_map_code"]
        # An id with one entry needs no search; only the rows of ids with several windows (a
        # relaunched replica reusing its address) go through the asof join, sorted on the instant.
        entry = per_code["_map_entry"].gather(code)
        several = keys.filter((per_code["entries"].gather(code) > 1) & pl.col("_map_at").is_not_null())
        if several.height:
            windows = table.select("_map_code", "_map_from", "_map_entry").sort("_map_from")
            found = several.sort("_map_at").join_asof(
                windows, left_on="_map_at", right_on="_map_from",
                by="_map_code", strategy="backward",
                check_sortedness=False,  # both sides are sorted on the instant; polars cannot tell with `by`
            )
            entry = entry.scatter(found["_map_order"], found["_map_entry"])
        start, end = table["_map_from"].gather(entry), table["_map_to"].gather(entry)
        at_ = keys["_map_at"]
        holds = (start <= at_) & (end.is_null() | (at_ < end))
        entry = pl.select(pl.when(holds).then(entry)).to_series()
        out = frame.with_columns(
            table["resource_id"].gather(entry).alias(resource_column),
            # A property no entry gives (often gpu_type, price_model) costs no gather of 10 M values.
            *(table[c].gather(entry) if table[c].null_count() < table.height
              else pl.lit(None, table.schema[c]).alias(c)
              for c in (f"map_{name}" for name in MAPPED)),
        )
        # Routed (an id that is not blank) but mapped by no entry at the instant.
        unmapped = (
            keys.with_columns(entry.alias("_map_entry"))
            .filter(pl.col("_map_entry").is_null() & pl.col("_map_at").is_not_null())
            .filter(pl.col("_map_id").str.strip_chars() != "")
        )
        return _with_problems(out, unmapped, problem_field, _unmapped_reason(source))


def _nulls(length: int, dtype: pl.DataType) -> pl.Series:
    return pl.repeat(None, length, dtype=dtype, eager=True)


def _unmapped_reason(source: str) -> pl.Expr:
    instant = pl.col("_map_at")
    text = (
        pl.when(instant.dt.microsecond() == 0)
        .then(instant.dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
        .otherwise(instant.dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"))
    )
    return pl.format(f"unmapped_resource: {source} id {{}} is not mapped at {{}}", pl.col("_map_id"), text)


def _with_problems(frame: pl.DataFrame, rows: pl.DataFrame, field: str, reason: pl.Expr) -> pl.DataFrame:
    """`frame` with the problem `field`/`reason` on the rows at `rows["_map_order"]`, where no problem
    was set before. The reason is worded for those rows only (usually few), not the whole frame."""
    if PROBLEM_FIELD not in frame.columns:
        frame = frame.with_columns(pl.lit(None, pl.String).alias(PROBLEM_FIELD),
                                   pl.lit(None, pl.String).alias(PROBLEM_REASON))
    if not rows.height:
        return frame
    order = rows["_map_order"]
    fields = _nulls(frame.height, pl.String).scatter(order, field)
    reasons = _nulls(frame.height, pl.String).scatter(order, rows.select(reason).to_series())
    already = pl.col(PROBLEM_FIELD).is_not_null()
    return frame.with_columns(
        pl.when(already).then(pl.col(PROBLEM_FIELD)).otherwise(fields).alias(PROBLEM_FIELD),
        pl.when(already).then(pl.col(PROBLEM_REASON)).otherwise(reasons).alias(PROBLEM_REASON),
    )


def tier_of_models(
    frame: pl.DataFrame,
    models: Mapping[str, str],
    model_column: str,
    *,
    resource_column: str = "resource_id",
    tier_column: str = "tier",
    problem_field: str = "model",
) -> pl.DataFrame:
    """Tiers of unrouted requests (DESIGN.md "Mapping"): a request that no replica served counts
    under the tier its model maps to in `[models]`; a model not there is quarantined
    `unmapped_model`. Unrouted means no resource and no problem yet (an `unmapped_resource` row has
    no resource either, but it was routed). Routed rows and rows without a model are left as they
    are (the contract names a missing model)."""
    if PROBLEM_FIELD not in frame.columns:
        frame = frame.with_columns(pl.lit(None, pl.String).alias(PROBLEM_FIELD),
                                   pl.lit(None, pl.String).alias(PROBLEM_REASON))
    model = pl.col(model_column)
    unrouted = pl.col(resource_column).is_null() & pl.col(PROBLEM_FIELD).is_null() & model.is_not_null()
    known = model.is_in(list(models))
    current = pl.col(tier_column) if tier_column in frame.columns else pl.lit(None, pl.String)
    unknown = unrouted & ~known
    reason = pl.format("unmapped_model: model {} of an unrouted request is not in [models]", model)
    return frame.with_columns(
        pl.when(unrouted & known)
        .then(model.replace_strict(dict(models), default=None, return_dtype=pl.String))
        .otherwise(current)
        .alias(tier_column),
        pl.when(unknown).then(pl.lit(problem_field)).otherwise(pl.col(PROBLEM_FIELD)).alias(PROBLEM_FIELD),
        pl.when(unknown).then(reason).otherwise(pl.col(PROBLEM_REASON)).alias(PROBLEM_REASON),
    )
