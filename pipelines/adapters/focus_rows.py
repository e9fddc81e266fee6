"""Rule 11 on the export's rows: which become spend, which are the rest of the bill, which are bad.

In order, over the whole export at once (vectorised; no Python per row):
1. only the newest delivery of each (BillingAccountId, BillingPeriodStart) is read (focus_files.py);
   rows of older deliveries are superseded: counted and summed for the report, never landed;
2. a row that breaks a FOCUS rule is rejected with its file and row (quarantined on landing);
3. a row with no ResourceId is `no_resource`; one the resource map does not hold at its
   ChargePeriodStart is `outside_map` (the rest of the cloud bill, not an error); a mapped
   resource's Tax, Credit, Adjustment or Purchase is `not_usage` (never a replica's spend);
4. a mapped `Usage` row (ChargeClass null or Correction) is spend: a mapped Usage row over no time,
   or longer than a day build reads back (31 days), cannot be placed and is rejected;
5. spend rows are summed per resource, charge period, charge class and currency; the rest per
   billing account, charge period, category and reason. Spend in more than one currency (or not in
   the configured one) is refused, naming the resources (rule 10).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import polars as pl

from pipelines.adapters.focus_files import ExportFile, FocusExportError
from pipelines.adapters.focus_read import FILE, ROWNUM, original_columns, scan, typed
from pipelines.adapters.focus_values import nanos_to_decimal
from pipelines.sources.frames import ORIGIN, PAYLOAD, PROBLEM_FIELD, PROBLEM_REASON, ROW
from pipelines.sources.registry import MAX_COST_ROW_DAYS
from pipelines.sources.resource_map import ResourceMap

PRICE_MODELS = {"standard": "on_demand", "dynamic": "spot", "committed": "reserved"}  # DESIGN.md "Pinned"
GROUP = (
    "charge_period_start", "charge_period_end", "billing_account_id", "billing_period_start", "charge_category",
    "charge_class", "resource_id", "currency", "skipped",
)
# Several ids may map to one resource (an instance and its volume): their rows add up, and the
# resource's attributes are what its entries give (an entry without gpu_type gives none).
ATTRIBUTES = ("tier", "gpu_type", "gpu_count", "price_model")
COLUMNS = (*GROUP[:7], *ATTRIBUTES, *GROUP[7:])
KEPT = ("billing_account_id", "billing_period_start", "charge_period_start", "charge_period_end", "charge_category",
        "charge_class", "focus_resource_id", "pricing_category", "currency", "nanos", FILE, ROWNUM,
        PROBLEM_FIELD, PROBLEM_REASON)


@dataclass
class PreparedExport:
    """The whole export, ready to be cut into day windows."""

    rows: pl.DataFrame  # canonical cost rows (spend and rest of the bill), billed_cost as nanos in `nanos`
    rejected: pl.DataFrame  # typed rows that broke a rule, with file, row, field and reason
    superseded: pl.DataFrame  # per superseded file: delivery, rows, nanos
    files: list[ExportFile] = field(default_factory=list)
    rows_read: int = 0


def prepare(files: list[ExportFile], resource_map: ResourceMap, expected_currency: str | None) -> PreparedExport:
    fleet_ids = sorted({e.source_id for e in resource_map.entries if e.source == "focus"})
    frames = [typed(scan(f, number)) for number, f in enumerate(files)]
    lazy = pl.concat(frames, how="vertical_relaxed") if len(frames) > 1 else frames[0]
    has_resource = pl.col("focus_resource_id").is_not_null()
    # Only the fleet's ids are kept as text: a 5 M-row export is mostly other resources.
    frame = _collect(lazy.select(
        *(c for c in KEPT if c != "focus_resource_id"),
        pl.when(pl.col("focus_resource_id").is_in(fleet_ids)).then(pl.col("focus_resource_id")).alias("focus_resource_id"),
        has_resource.alias("_has_resource"),
    ), frames, files)
    rows_read = frame.height
    frame, superseded = _newest_deliveries(frame, files)
    frame = _mapped(frame, resource_map)
    bad = pl.col(PROBLEM_FIELD).is_not_null()
    rejected = frame.filter(bad)
    good = frame.filter(~bad)
    spend = good.filter(pl.col("skipped").is_null())
    _refuse_mixed_currencies(spend, expected_currency)
    summed = good.group_by(GROUP).agg(*(pl.col(c).max() for c in ATTRIBUTES), pl.col("nanos").sum(),
                                      pl.len().alias("export_rows"))
    return PreparedExport(summed.sort("charge_period_start", "resource_id", nulls_last=True, maintain_order=True),
                          rejected, superseded, files, rows_read)


def _collect(lazy: pl.LazyFrame, frames: list[pl.LazyFrame], files: list[ExportFile]) -> pl.DataFrame:
    try:
        return lazy.collect()
    except pl.exceptions.PolarsError:
        for frame, file in zip(frames, files):  # which file: each alone (the rare path)
            try:
                frame.collect()
            except pl.exceptions.PolarsError as exc:
                detail = str(exc).strip().splitlines()[0]
                raise FocusExportError(f"{file.path} cannot be read as {file.format}: {detail}") from None
        raise


def _newest_deliveries(frame: pl.DataFrame, files: list[ExportFile]) -> tuple[pl.DataFrame, pl.DataFrame]:
    meta = pl.DataFrame({
        FILE: pl.Series(range(len(files)), dtype=pl.Int32),
        "delivery": [f.delivery for f in files],
        "delivered_at": [f.delivered_at for f in files],
    })
    pairs = (frame.filter(pl.col("billing_account_id").is_not_null() & pl.col("billing_period_start").is_not_null())
             .group_by(FILE, "billing_account_id", "billing_period_start").agg().join(meta, on=FILE))
    newest = (pairs.sort("delivered_at", "delivery")
              .group_by("billing_account_id", "billing_period_start", maintain_order=True)
              .agg(pl.col("delivery").last().alias("newest")))
    stale = (pairs.join(newest, on=["billing_account_id", "billing_period_start"])
             .filter(pl.col("delivery") != pl.col("newest")).select(FILE, "billing_account_id", "billing_period_start"))
    if not stale.height:
        return frame, pl.DataFrame(schema={"file": pl.String, "delivery": pl.String, "rows": pl.UInt32,
                                           "nanos": pl.Int128})
    dropped = frame.join(stale, on=[FILE, "billing_account_id", "billing_period_start"], how="semi")
    superseded = (dropped.group_by(FILE).agg(pl.len().alias("rows"), pl.col("nanos").sum())
                  .join(meta, on=FILE).with_columns(
                      pl.col(FILE).replace_strict({i: str(f.path) for i, f in enumerate(files)},
                                                  return_dtype=pl.String).alias("file"))
                  .select("file", "delivery", "rows", "nanos").sort("file"))
    return frame.join(stale, on=[FILE, "billing_account_id", "billing_period_start"], how="anti"), superseded


def _mapped(frame: pl.DataFrame, resource_map: ResourceMap) -> pl.DataFrame:
    frame = frame.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("_order"))
    fleet = frame.filter(pl.col("focus_resource_id").is_not_null() & pl.col(PROBLEM_FIELD).is_null())
    mapped = resource_map.apply(fleet.drop(PROBLEM_FIELD, PROBLEM_REASON), source="focus",
                                id_column="focus_resource_id", at_column="charge_period_start")
    # An id the map does not hold at ChargePeriodStart is another resource's bill, not an error.
    mapped = mapped.select("_order", "resource_id", "map_tier", "map_gpu_type", "map_gpu_count", "map_price_model")
    frame = frame.join(mapped, on="_order", how="left").sort("_order")
    usage = pl.col("charge_category") == "Usage"
    length = pl.col("charge_period_end") - pl.col("charge_period_start")
    spend = pl.col("resource_id").is_not_null() & usage & pl.col(PROBLEM_FIELD).is_null()
    price = pl.coalesce(pl.col("map_price_model"), pl.col("pricing_category").replace_strict(
        PRICE_MODELS, default=None, return_dtype=pl.String))
    frame = frame.with_columns(
        pl.when(~pl.col("_has_resource")).then(pl.lit("no_resource"))
        .when(pl.col("resource_id").is_null()).then(pl.lit("outside_map"))
        .when(~usage).then(pl.lit("not_usage")).alias("skipped"),
        pl.when(spend & (length <= timedelta(0))).then(pl.lit("ChargePeriodEnd"))
        .when(spend & (length > timedelta(days=MAX_COST_ROW_DAYS))).then(pl.lit("ChargePeriodEnd"))
        .otherwise(pl.col(PROBLEM_FIELD)).alias(PROBLEM_FIELD),
        pl.when(spend & (length <= timedelta(0)))
        .then(pl.lit("ChargePeriodEnd equals ChargePeriodStart: a mapped Usage row's money over no time cannot be placed"))
        .when(spend & (length > timedelta(days=MAX_COST_ROW_DAYS)))
        .then(pl.lit(f"ChargePeriodEnd is more than {MAX_COST_ROW_DAYS} days after ChargePeriodStart: longer than a "
                     "day build reads back, so the row cannot be placed"))
        .otherwise(pl.col(PROBLEM_REASON)).alias(PROBLEM_REASON),
    )
    rest = pl.col("skipped").is_not_null()
    return frame.with_columns(
        pl.when(rest).then(None).otherwise(pl.col("resource_id")).alias("resource_id"),
        pl.when(rest).then(None).otherwise(pl.col("map_tier")).alias("tier"),
        pl.when(rest).then(None).otherwise(pl.col("map_gpu_type")).alias("gpu_type"),
        pl.when(rest).then(None).otherwise(pl.col("map_gpu_count")).alias("gpu_count"),
        pl.when(rest).then(None).otherwise(price).alias("price_model"),
    ).drop("map_tier", "map_gpu_type", "map_gpu_count", "map_price_model", "_order")


def _refuse_mixed_currencies(spend: pl.DataFrame, expected: str | None) -> None:
    by_currency = (spend.group_by("currency").agg(pl.col("resource_id").unique().sort())
                   .sort("currency"))
    currencies = dict(zip(by_currency["currency"], by_currency["resource_id"].to_list()))
    allowed = {expected} if expected else set(list(currencies)[:1])
    if len(currencies) > 1 or not set(currencies) <= allowed:
        detail = "; ".join(f"{c}: {', '.join(r[:10])}{' …' if len(r) > 10 else ''}" for c, r in currencies.items())
        wanted = f", expected {expected}" if expected else ""
        raise FocusExportError(f"the fleet's Usage rows mix currencies without a configured conversion ({detail}{wanted})")


def canonical(rows: pl.DataFrame, first_row: int) -> pl.DataFrame:
    """Summed rows as canonical cost rows with bookkeeping (`_row` from `first_row`)."""
    return rows.select(
        *(c for c in COLUMNS if c != "skipped"),
        nanos_to_decimal(pl.col("nanos")).alias("billed_cost"),
        pl.col("export_rows").cast(pl.Int64), "skipped",
        pl.int_range(first_row, first_row + pl.len(), dtype=pl.Int64).alias(ROW),
    )


def rejected_rows(rejected: pl.DataFrame, files: list[ExportFile], first_row: int) -> pl.DataFrame:
    """Rejected export rows as canonical rows (nulls where a value did not parse) with their file and
    row as `_origin` and the row as written (every column, JSON) as `_payload`."""
    payloads = []
    for number, rows in rejected.group_by(FILE):
        wanted = rows[ROWNUM]
        original = original_columns(files[number[0]]).filter(pl.col(ROWNUM).is_in(wanted.implode())).collect()
        others = [c for c in original.columns if c != ROWNUM]
        payloads.append(original.select(
            pl.lit(number[0], pl.Int32).alias(FILE), ROWNUM,
            pl.struct(pl.col(others).cast(pl.String)).struct.json_encode().alias(PAYLOAD)))
    found = pl.concat(payloads) if payloads else pl.DataFrame(schema={FILE: pl.Int32, ROWNUM: pl.Int64, PAYLOAD: pl.String})
    paths = {i: str(f.path) for i, f in enumerate(files)}
    return rejected.join(found, on=[FILE, ROWNUM], how="left").sort(FILE, ROWNUM).select(
        *(pl.col(c) for c in COLUMNS if c != "skipped"), pl.lit(None, pl.String).alias("skipped"),
        nanos_to_decimal(pl.col("nanos")).alias("billed_cost"), pl.lit(1, pl.Int64).alias("export_rows"),
        pl.int_range(first_row, first_row + pl.len(), dtype=pl.Int64).alias(ROW),
        pl.format("{} row {}", pl.col(FILE).replace_strict(paths, return_dtype=pl.String), pl.col(ROWNUM)).alias(ORIGIN),
        PAYLOAD, PROBLEM_FIELD, PROBLEM_REASON,
    )
