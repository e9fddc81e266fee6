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
from pipelines.adapters.focus_values import instant_of_column, money_of_text, money_problem, number_text, per_distinct

REQUIRED = (
    "BillingAccountId", "BillingPeriodStart", "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory",
    "BilledCost", "BillingCurrency",
)
OPTIONAL = ("ChargeClass", "ResourceId", "PricingCategory")
NULL_TEXTS = ["NULL", "null", ""]
FILE, ROWNUM = "_file", "_rownum"
BROKEN = "_broken"  # true on a row that breaks a rule (`_problems` says which first)
# A CSV line with more fields than the header would shift values into the wrong columns, and
# polars drops the extra fields silently when only some columns are read: one column past the
# header catches them, and such a row is rejected.
EXTRA = "_extra_field"
# What `worded` reads besides the typed columns: the text as written, to quote in a reason.
WORDING = ("BillingPeriodStart", "ChargePeriodStart", "ChargePeriodEnd", EXTRA, "_category_text", "_class_text",
           "_cost_text", "_cost_unusable")
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
    """`scan`'s columns typed, with `_broken`: whether the row breaks a rule."""
    schema = frame.collect_schema()

    def text(name: str, then=None, distinct: bool = True) -> pl.Expr:
        """The column as text: stripped, `NULL`/`null`/empty as null, then `then`; worked out per
        distinct value, unless the column has about as many as rows (ResourceId, BilledCost)."""
        def build(base: pl.Expr) -> pl.Expr:
            value = (base if schema[name] == pl.String else base.cast(pl.String)).str.strip_chars()
            value = pl.when(value.is_in(NULL_TEXTS)).then(None).otherwise(value)
            return value if then is None else then(value)

        return per_distinct(pl.col(name), build(pl.col("value")), pl.String) if distinct else build(pl.col(name))

    categories = {c.lower(): c for c in CHARGE_CATEGORIES}
    frame = frame.with_columns(
        text("BillingAccountId").alias("billing_account_id"),
        instant_of_column(pl.col("BillingPeriodStart"), schema["BillingPeriodStart"]).alias("billing_period_start"),
        instant_of_column(pl.col("ChargePeriodStart"), schema["ChargePeriodStart"]).alias("charge_period_start"),
        instant_of_column(pl.col("ChargePeriodEnd"), schema["ChargePeriodEnd"]).alias("charge_period_end"),
        text("ChargeCategory").alias("_category_text"),
        text("ChargeCategory", lambda v: v.str.to_lowercase().replace_strict(
            categories, default=None, return_dtype=pl.String)).alias("charge_category"),
        text("ChargeClass").alias("_class_text"),
        text("ChargeClass", lambda v: pl.when(v.str.to_lowercase() == "correction").then(pl.lit("Correction"))
             ).alias("charge_class"),
        text("ResourceId", distinct=False).alias("focus_resource_id"),
        text("PricingCategory", lambda v: v.str.to_lowercase()).alias("pricing_category"),
        text("BillingCurrency", lambda v: v.str.to_uppercase()).alias("currency"),
        (text("BilledCost", distinct=False) if schema["BilledCost"] == pl.String
         else number_text(pl.col("BilledCost"), schema["BilledCost"])).alias("_cost_text"),
    )
    billed, cost_unusable = money_of_text(pl.col("_cost_text"))
    frame = frame.with_columns(billed.alias("billed"), cost_unusable.alias("_cost_unusable"))
    # Whether a row breaks a rule: cheap tests on millions of rows. Which rule first, in words
    # (timestamps written out), is worked out by `worded` for the few rows that break one.
    start, end = pl.col("charge_period_start"), pl.col("charge_period_end")
    broken = pl.any_horizontal(
        pl.col(EXTRA).is_not_null(), pl.col("billing_account_id").is_null(),
        pl.col("billing_period_start").is_null(), start.is_null(), end.is_null(), end < start,
        pl.col("charge_category").is_null(), pl.col("_class_text").is_not_null() & pl.col("charge_class").is_null(),
        pl.col("_cost_text").is_null(), pl.col("_cost_unusable"), pl.col("currency").is_null(),
        per_distinct(pl.col("currency"), ~pl.col("value").str.contains("^[A-Z]{3}$"), pl.Boolean),
    )
    return frame.with_columns(broken.fill_null(False).alias(BROKEN))


def worded(frame: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
    """Rows `typed` found broken, with `_problem_field` and `_problem_reason`: the first rule each
    breaks, in FOCUS column order. `schema` is the file's (`scan`'s): how its columns are written."""
    field = reason = None
    for name, broken, words in _problems(schema):
        broken = broken.fill_null(False)
        field = (pl.when(broken) if field is None else field.when(broken)).then(pl.lit(name))
        reason = (pl.when(broken) if reason is None else reason.when(broken)).then(words)
    return frame.with_columns(field.otherwise(None).alias("_problem_field"),
                              reason.otherwise(None).alias("_problem_reason"))


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
        ("BilledCost", pl.col("_cost_unusable"), pl.lit("BilledCost ") + money_problem(pl.col("_cost_text"))),
        ("BillingCurrency", pl.col("currency").is_null(), pl.lit("BillingCurrency is missing")),
        ("BillingCurrency", ~pl.col("currency").str.contains("^[A-Z]{3}$"),
         pl.lit("BillingCurrency is not an ISO 4217 code: ") + pl.col("currency")),
    ]
