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
from pipelines.adapters.focus_read import BROKEN, FILE, ROWNUM, WORDING, original_columns, scan, typed, worded
from pipelines.sources.frames import ORIGIN, PAYLOAD, PROBLEM_FIELD, PROBLEM_REASON, ROW
from pipelines.sources.registry import MAX_COST_ROW_DAYS, SOURCES
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
TYPED = ("billing_account_id", "billing_period_start", "charge_period_start", "charge_period_end", "charge_category",
         "charge_class", "pricing_category", "currency", "billed", FILE, ROWNUM)


@dataclass
class PreparedExport:
    """The whole export, ready to be cut into day windows."""

    rows: pl.DataFrame  # summed cost rows (spend and the rest of the bill), BilledCost summed in `billed`
    rejected: pl.DataFrame  # typed rows that broke a rule, with file, row, field and reason
    superseded: pl.DataFrame  # per superseded file: delivery, rows, billed
    files: list[ExportFile] = field(default_factory=list)
    rows_read: int = 0


REST = (FILE, "billing_account_id", "billing_period_start", "charge_period_start", "charge_period_end",
        "charge_category", "charge_class", "currency", "_has_resource")


def prepare(files: list[ExportFile], resource_map: ResourceMap, expected_currency: str | None) -> PreparedExport:
    fleet_ids = sorted({e.source_id for e in resource_map.entries if e.source == "focus"})
    fleets, rests, bads = [], [], []
    for number, file in enumerate(files):
        scanned = scan(file, number)
        frame = typed(scanned).with_columns(
            # only the fleet's ids are kept: a 5 M-row export is mostly other resources
            pl.when(pl.col("focus_resource_id").is_in(fleet_ids)).then(pl.col("focus_resource_id"))
            .alias("focus_resource_id"),
            pl.col("focus_resource_id").is_not_null().alias("_has_resource"),
        )
        # One streaming pass over the file: the rest of the bill is summed as it is read, while the
        # fleet's rows and rejected rows stay one by one (their row number is part of the key).
        single = pl.col(BROKEN) | pl.col("focus_resource_id").is_not_null()
        rows = _collect(frame.with_columns(pl.when(single).then(pl.col(ROWNUM)).alias(ROWNUM))
                        .group_by(*REST, "focus_resource_id", "pricing_category", BROKEN, ROWNUM)
                        .agg(pl.col("billed").sum(), pl.len().alias("export_rows")), file)
        broken = rows.filter(pl.col(BROKEN))
        if broken.height:  # the text a reason quotes: read again, for the rejected rows only
            wording = _collect(typed(scanned.join(broken.select(ROWNUM).lazy(), on=ROWNUM, how="semi"))
                               .select(*TYPED, *WORDING), file)
            bads.append(worded(wording, scanned.collect_schema()).select(*TYPED, PROBLEM_FIELD, PROBLEM_REASON))
        good = rows.filter(~pl.col(BROKEN)).drop(BROKEN)
        fleets.append(good.filter(pl.col("focus_resource_id").is_not_null()).drop("export_rows"))
        rests.append(good.filter(pl.col("focus_resource_id").is_null()).drop(ROWNUM, "pricing_category"))
    bad = pl.concat(bads) if bads else _no_rows((*TYPED, PROBLEM_FIELD, PROBLEM_REASON), like=rows)
    fleet, rest = pl.concat(fleets), pl.concat(rests)
    rows_read = fleet.height + bad.height + int(rest["export_rows"].sum() or 0)
    fleet, rest, bad, superseded = _newest_deliveries(fleet, rest, bad, files)
    fleet, unplaceable = _mapped(fleet, resource_map)
    _refuse_mixed_currencies(fleet.filter(pl.col("skipped").is_null()), expected_currency)
    rest = rest.with_columns(
        pl.when(pl.col("_has_resource")).then(pl.lit("outside_map")).otherwise(pl.lit("no_resource")).alias("skipped"),
        *(pl.lit(None, SOURCES["cost_rows"].polars_schema()[c]).alias(c) for c in ("resource_id", *ATTRIBUTES)),
    )
    summed = (pl.concat([fleet.with_columns(pl.lit(1, pl.UInt32).alias("export_rows")),
                         rest.with_columns(pl.col("export_rows").cast(pl.UInt32))], how="diagonal_relaxed")
              .group_by(GROUP).agg(*(pl.col(c).max() for c in ATTRIBUTES), pl.col("billed").sum(),
                                   pl.col("export_rows").sum()))
    rejected = pl.concat([bad, unplaceable.select(bad.columns)], how="vertical_relaxed")
    return PreparedExport(summed.sort("charge_period_start", "resource_id", nulls_last=True, maintain_order=True),
                          rejected, superseded, files, rows_read)


def _no_rows(columns: tuple[str, ...], like: pl.DataFrame) -> pl.DataFrame:
    schema = {c: like.schema.get(c, pl.String) for c in columns}
    return pl.DataFrame(schema=schema)


def _collect(frame: pl.LazyFrame, file: ExportFile) -> pl.DataFrame:
    try:
        return frame.collect(engine="streaming")
    except pl.exceptions.PolarsError as exc:
        detail = str(exc).strip().splitlines()[0]
        raise FocusExportError(f"{file.path} cannot be read as {file.format}: {detail}") from None


def _newest_deliveries(fleet: pl.DataFrame, rest: pl.DataFrame, bad: pl.DataFrame, files: list[ExportFile]
                       ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Rows of the newest delivery of each (billing account, billing period) only; the others are
    superseded (a rejected row of a superseded file is not read either)."""
    meta = pl.DataFrame({
        FILE: pl.Series(range(len(files)), dtype=pl.Int32),
        "delivery": [f.delivery for f in files],
        "delivered_at": [f.delivered_at for f in files],
    })
    keys = [FILE, "billing_account_id", "billing_period_start"]
    counted = pl.concat([
        fleet.select(*keys, "billed", pl.lit(1, pl.UInt64).alias("rows")),
        rest.select(*keys, "billed", pl.col("export_rows").cast(pl.UInt64).alias("rows")),
        bad.select(*keys, "billed", pl.lit(1, pl.UInt64).alias("rows")),
    ])
    pairs = counted.select(keys).drop_nulls().unique().join(meta, on=FILE)
    newest = (pairs.sort("delivered_at", "delivery")
              .group_by("billing_account_id", "billing_period_start", maintain_order=True)
              .agg(pl.col("delivery").last().alias("newest")))
    stale = (pairs.join(newest, on=["billing_account_id", "billing_period_start"])
             .filter(pl.col("delivery") != pl.col("newest")).select(keys))
    paths = {i: str(f.path) for i, f in enumerate(files)}
    superseded = (counted.join(stale, on=keys, how="semi")
                  .group_by(FILE).agg(pl.col("rows").sum(), pl.col("billed").sum())
                  .join(meta, on=FILE)
                  .with_columns(pl.col(FILE).replace_strict(paths, return_dtype=pl.String).alias("file"))
                  .select("file", "delivery", "rows", "billed").sort("file"))
    if not stale.height:
        return fleet, rest, bad, superseded
    return (*(frame.join(stale, on=keys, how="anti") for frame in (fleet, rest, bad)), superseded)


def _mapped(frame: pl.DataFrame, resource_map: ResourceMap) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows with `skipped` and the mapped resource's attributes, mapped Usage rows that cannot be
    placed, worded as rejected)."""
    fleet = frame.filter(pl.col("focus_resource_id").is_not_null())
    others = frame.filter(pl.col("focus_resource_id").is_null())
    mapped = resource_map.apply(fleet, source="focus", id_column="focus_resource_id", at_column="charge_period_start")
    # An id the map does not hold at ChargePeriodStart is another resource's bill, not an error.
    mapped = mapped.drop(PROBLEM_FIELD, PROBLEM_REASON).rename({f"map_{c}": c for c in ("tier", "gpu_type", "gpu_count")})
    price = pl.coalesce(pl.col("map_price_model"), pl.col("pricing_category").replace_strict(
        PRICE_MODELS, default=None, return_dtype=pl.String))
    mapped = mapped.with_columns(price.alias("price_model")).drop("map_price_model")
    frame = pl.concat([mapped, others], how="diagonal_relaxed")
    usage = pl.col("charge_category") == "Usage"
    frame = frame.with_columns(
        pl.when(~pl.col("_has_resource")).then(pl.lit("no_resource"))
        .when(pl.col("resource_id").is_null()).then(pl.lit("outside_map"))
        .when(~usage).then(pl.lit("not_usage")).alias("skipped"),
    )
    rest = pl.col("skipped").is_not_null()
    frame = frame.with_columns(
        *(pl.when(rest).then(None).otherwise(pl.col(c)).alias(c) for c in ("resource_id", *ATTRIBUTES)))
    length = pl.col("charge_period_end") - pl.col("charge_period_start")
    no_time, too_long = ~rest & (length <= timedelta(0)), ~rest & (length > timedelta(days=MAX_COST_ROW_DAYS))
    unplaceable = frame.filter(no_time | too_long).with_columns(
        pl.lit("ChargePeriodEnd").alias(PROBLEM_FIELD),
        pl.when(no_time)
        .then(pl.lit("ChargePeriodEnd equals ChargePeriodStart: a mapped Usage row's money over no time cannot be placed"))
        .otherwise(pl.lit(f"ChargePeriodEnd is more than {MAX_COST_ROW_DAYS} days after ChargePeriodStart: longer "
                          "than a day build reads back, so the row cannot be placed")).alias(PROBLEM_REASON),
    )
    return frame.filter(~(no_time | too_long)), unplaceable


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
        pl.col("billed").alias("billed_cost"),
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
    missing = [c for c in COLUMNS if c not in rejected.columns]  # a row rejected before mapping has no resource
    schema = SOURCES["cost_rows"].polars_schema()
    rejected = rejected.with_columns(pl.lit(None, schema[c]).alias(c) for c in missing)
    return rejected.join(found, on=[FILE, ROWNUM], how="left").sort(FILE, ROWNUM).select(
        *(pl.col(c) for c in COLUMNS if c != "skipped"), pl.lit(None, pl.String).alias("skipped"),
        pl.col("billed").alias("billed_cost"), pl.lit(1, pl.Int64).alias("export_rows"),
        pl.int_range(first_row, first_row + pl.len(), dtype=pl.Int64).alias(ROW),
        pl.format("{} row {}", pl.col(FILE).replace_strict(paths, return_dtype=pl.String), pl.col(ROWNUM)).alias(ORIGIN),
        PAYLOAD, PROBLEM_FIELD, PROBLEM_REASON,
    )
