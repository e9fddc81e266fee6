"""One FOCUS export file as typed rows: the columns rule 11 reads, each row's first problem named.

Column names are FOCUS 1.0 to 1.2's (none of these was renamed between them; notes/focus.md §1.3),
matched case-insensitively, in any order. A file lacking a column the rule cannot do without is
not a FOCUS export and is refused, naming the columns. `ChargeClass` (added in 1.0), `ResourceId`
and `PricingCategory` (Conditional) may be absent: then they are null on every row.

What real exports write and the spec forbids is forgiven, as in the invoice import
(pipelines/invoice_staging.py): `NULL`/`null` and empty strings as nulls, categories in any case,
timestamps without `T`, seconds or zone (focus_values.py). The first broken rule of a row is
named in FOCUS column order, with the FOCUS column name as the field.
"""

from __future__ import annotations

import polars as pl

from models.focus import CHARGE_CATEGORIES
from pipelines.adapters.focus_files import ExportFile, FocusExportError
from pipelines.adapters.focus_values import instant_of_column, number_text, with_nanos

REQUIRED = (
    "BillingAccountId", "BillingPeriodStart", "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory",
    "BilledCost", "BillingCurrency",
)
OPTIONAL = ("ChargeClass", "ResourceId", "PricingCategory")
NULL_TEXTS = ["NULL", "null", ""]
FILE, ROWNUM = "_file", "_rownum"
# A CSV line with more fields than the header would shift values into the wrong columns, and
# polars drops the extra fields silently when only some columns are read: one column past the
# header catches them, and such a row is rejected.
EXTRA = "_extra_field"
TEXT = "%Y-%m-%dT%H:%M:%SZ"


def scan(file: ExportFile, number: int) -> pl.LazyFrame:
    """The file's FOCUS columns (renamed to their FOCUS spelling, typed as the file has them),
    `_file` (= number) and `_rownum` (the data row, from 1)."""
    try:
        frame = _open(file, NULL_TEXTS)
        names = [n for n in frame.collect_schema().names() if n != EXTRA]
    except (pl.exceptions.PolarsError, OSError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise FocusExportError(f"{file.path} cannot be read as {file.format}: {detail}") from None
    by_lower: dict[str, str] = {}
    for name in names:
        by_lower.setdefault(name.strip().lower(), name)
    missing = [c for c in REQUIRED if c.lower() not in by_lower]
    if missing:
        raise FocusExportError(f"{file.path} is not a FOCUS export: no column {', '.join(missing)}")
    columns = [pl.col(by_lower[c.lower()]).alias(c) for c in REQUIRED]
    columns += [(pl.col(by_lower[c.lower()]) if c.lower() in by_lower else pl.lit(None, pl.String)).alias(c)
                for c in OPTIONAL]
    extra = pl.col(EXTRA) if file.format != "parquet" else pl.lit(None, pl.String)
    return frame.with_row_index(ROWNUM, offset=1).select(
        *columns, extra.alias(EXTRA), pl.lit(number, pl.Int32).alias(FILE), pl.col(ROWNUM).cast(pl.Int64),
    )


def original_columns(file: ExportFile) -> pl.LazyFrame:
    """Every column of the file as written (for the wire text of rejected rows), with `_rownum`."""
    return _open(file, None).with_row_index(ROWNUM, offset=1).with_columns(pl.col(ROWNUM).cast(pl.Int64))


def _open(file: ExportFile, null_values: list[str] | None) -> pl.LazyFrame:
    if file.format == "parquet":
        return pl.scan_parquet(file.path)
    header = pl.read_csv(file.path, infer_schema=False, n_rows=0).columns
    header = [header[0].lstrip("\ufeff"), *header[1:]] if header else header  # a UTF-8 BOM (Azure)
    options = dict(has_header=False, skip_rows=1, schema={**{n: pl.String for n in header}, EXTRA: pl.String},
                   missing_columns="insert", truncate_ragged_lines=True, null_values=null_values)
    if file.format == "csv":
        return pl.scan_csv(file.path, **options)
    # gzip: polars scans plain text only, so the file is read (and inflated) whole
    return pl.read_csv(file.path, **options).lazy()


def typed(frame: pl.LazyFrame) -> pl.LazyFrame:
    """`scan`'s columns typed, with `_problem_field`/`_problem_reason` on rows that break a rule."""
    schema = frame.collect_schema()

    def text(name: str) -> pl.Expr:
        value = pl.col(name) if schema[name] == pl.String else pl.col(name).cast(pl.String)
        value = value.str.strip_chars()
        return pl.when(value.is_in(NULL_TEXTS)).then(None).otherwise(value)

    category_text, class_text = text("ChargeCategory"), text("ChargeClass")
    frame = frame.with_columns(
        text("BillingAccountId").alias("billing_account_id"),
        instant_of_column(pl.col("BillingPeriodStart"), schema["BillingPeriodStart"]).alias("billing_period_start"),
        instant_of_column(pl.col("ChargePeriodStart"), schema["ChargePeriodStart"]).alias("charge_period_start"),
        instant_of_column(pl.col("ChargePeriodEnd"), schema["ChargePeriodEnd"]).alias("charge_period_end"),
        category_text.alias("_category_text"),
        category_text.str.to_lowercase().replace_strict(
            {c.lower(): c for c in CHARGE_CATEGORIES}, default=None, return_dtype=pl.String).alias("charge_category"),
        class_text.alias("_class_text"),
        pl.when(class_text.str.to_lowercase() == "correction").then(pl.lit("Correction")).alias("charge_class"),
        text("ResourceId").alias("focus_resource_id"),
        text("PricingCategory").str.to_lowercase().alias("pricing_category"),
        text("BillingCurrency").str.to_uppercase().alias("currency"),
        text("BilledCost").alias("_cost_text") if schema["BilledCost"] == pl.String
        else number_text(pl.col("BilledCost"), schema["BilledCost"]).alias("_cost_text"),
    )
    frame = with_nanos(frame, "_cost_text", "nanos", "_cost_problem")
    problems = _problems(schema)
    field_chain = reason_chain = None
    for name, broken, reason in problems:
        broken = broken.fill_null(False)
        field_chain = (pl.when(broken) if field_chain is None else field_chain.when(broken)).then(pl.lit(name))
        reason_chain = (pl.when(broken) if reason_chain is None else reason_chain.when(broken)).then(reason)
    return frame.with_columns(
        field_chain.otherwise(None).alias("_problem_field"), reason_chain.otherwise(None).alias("_problem_reason"),
    )


def _problems(schema: pl.Schema) -> list[tuple[str, pl.Expr, pl.Expr]]:
    def shown(name: str) -> pl.Expr:
        return pl.col(name).cast(pl.String)

    def instant(focus: str, typed_name: str) -> list[tuple[str, pl.Expr, pl.Expr]]:
        present = pl.col(focus).is_not_null() & ~shown(focus).str.strip_chars().is_in(NULL_TEXTS)
        return [
            (focus, ~present, pl.lit(f"{focus} is missing")),
            (focus, pl.col(typed_name).is_null(), pl.lit(f"{focus} is not a timestamp: ") + shown(focus)),
        ]

    start, end = pl.col("charge_period_start"), pl.col("charge_period_end")
    return [
        ("row", pl.col(EXTRA).is_not_null(), pl.lit("has more fields than the header (a value holds an unquoted comma?)")),
        ("BillingAccountId", pl.col("billing_account_id").is_null(), pl.lit("BillingAccountId is missing")),
        *instant("BillingPeriodStart", "billing_period_start"),
        *instant("ChargePeriodStart", "charge_period_start"),
        *instant("ChargePeriodEnd", "charge_period_end"),
        ("ChargePeriodEnd", end < start,
         pl.lit("ChargePeriodEnd ") + end.dt.strftime(TEXT) + pl.lit(" is before ChargePeriodStart ")
         + start.dt.strftime(TEXT)),
        ("ChargeCategory", pl.col("_category_text").is_null(), pl.lit("ChargeCategory is missing")),
        ("ChargeCategory", pl.col("charge_category").is_null(),
         pl.lit(f"ChargeCategory is not one of {', '.join(CHARGE_CATEGORIES)}: ") + pl.col("_category_text")),
        ("ChargeClass", pl.col("_class_text").is_not_null() & pl.col("charge_class").is_null(),
         pl.lit("ChargeClass is not Correction: ") + pl.col("_class_text")),
        ("BilledCost", pl.col("_cost_text").is_null(), pl.lit("BilledCost is missing")),
        ("BilledCost", pl.col("_cost_problem").is_not_null(), pl.lit("BilledCost ") + pl.col("_cost_problem")),
        ("BillingCurrency", pl.col("currency").is_null(), pl.lit("BillingCurrency is missing")),
        ("BillingCurrency", ~pl.col("currency").str.contains("^[A-Z]{3}$"),
         pl.lit("BillingCurrency is not an ISO 4217 code: ") + pl.col("currency")),
    ]
