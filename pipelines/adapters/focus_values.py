"""FOCUS values as real exports write them, typed exactly (polars expressions, no Python per row).

- Decimals (FOCUS `attributes/numeric_format.md`, identical in 1.0-1.2): an integer, a decimal or
  E notation (`35.2E-7`). Read as text, never through a float, into DECIMAL(38,9): a value with
  more than 9 decimals is rounded half-even, once (DESIGN.md rule 11, "Pinned"). A sign on a
  positive value (`+333`, `E+7`) is forbidden by the spec but unambiguous, so it is read; commas,
  fractions, `NaN` and `inf` are not numbers. Parquet `double` columns (AWS writes costs as
  double) are first written as polars' round-trip text of the double.
- Instants (`attributes/datetime_format.md`): the spec wants `YYYY-MM-DDTHH:mm:ssZ`; real files
  write `2024-09-18 23:00:00` (no `T`, no zone; the FOCUS 1.0 sample), Azure's 1.0 exports
  `2024-01-01T00:00Z` (no seconds; MicrosoftDocs `cost-usage-details-focus.md`). A missing zone is
  UTC, as FOCUS requires. Native Parquet timestamps (AWS: `timestamp_milliseconds`) without a zone
  are UTC too.
"""

from __future__ import annotations

import polars as pl

MONEY = pl.Decimal(38, 9)  # the raw layer's money (DECIMAL(38,9))
# |value| < 10^18 dollars: sums of many rows still fit DECIMAL(38,9). A larger value is refused.
MAX_MAGNITUDE = 10**18
_INSTANT = (
    r"^(\d{4}-\d{2}-\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r" ?([Zz]|[+-]\d{2}(?::?\d{2})?)?$"
)
UTC_US = pl.Datetime("us", "UTC")


def money_of_text(text: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(DECIMAL(38,9) rounded half-even; true where text is present but not a usable number).

    polars' cast of text to Decimal reads plain and E notation exactly and rounds the digits past
    the scale half-even (pinned against Python's Decimal by tests/test_focus_values.py); it is a
    vectorised kernel, some 20 times faster than taking the text apart with expressions."""
    value = text.cast(MONEY, strict=False)
    usable = value.abs() < MAX_MAGNITUDE
    return pl.when(usable).then(value), text.is_not_null() & ~usable.fill_null(False)


def money_problem(text: pl.Expr) -> pl.Expr:
    """Why a present text is not a usable amount, in words (for the few rejected rows)."""
    value = text.cast(MONEY, strict=False)
    return pl.when(value.is_null()).then(pl.lit("is not a number: ") + text).otherwise(
        pl.lit("is out of range: ") + text)


def number_text(value: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A numeric column as the text `money_of_text` reads: text stays; decimals and integers are
    written exactly; a double is written as its round-trip text (`NaN`, `inf` are not numbers)."""
    return value if dtype == pl.String else value.cast(pl.String)


def instant_of_text(text: pl.Expr) -> pl.Expr:
    """A UTC instant (µs) from FOCUS text as real exports write it; null where it does not parse."""
    parts = text.str.strip_chars().str.extract_groups(_INSTANT)
    field = parts.struct.field
    zone = field("6").str.to_uppercase()
    offset = (
        pl.when(zone.is_null() | (zone == "Z")).then(pl.lit("+00:00"))
        .when(zone.str.len_chars() == 3).then(zone + ":00")
        .when(zone.str.contains(":")).then(zone)
        .otherwise(zone.str.slice(0, 3) + ":" + zone.str.slice(3))
    )
    canonical = pl.concat_str(
        field("1"), pl.lit("T"), field("2").fill_null("00"), pl.lit(":"), field("3").fill_null("00"), pl.lit(":"),
        field("4").fill_null("00"), pl.lit("."), field("5").fill_null("0").str.pad_end(9, "0"), offset,
    )
    parsed = canonical.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", time_zone="UTC", time_unit="us", strict=False)
    return pl.when(field("1").is_not_null()).then(parsed)


def per_distinct(value: pl.Expr, make: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """`make` (an expression on `pl.col("value")`) of `value`, worked out once per distinct value:
    a column an export repeats (accounts, categories, currencies, period bounds) costs what its
    few distinct values cost, not what its millions of rows would."""
    def each(values: pl.Series) -> pl.Series:
        distinct = values.unique()
        made = distinct.to_frame("value").select(make).to_series()
        return values.replace_strict(distinct, made, default=None, return_dtype=dtype)

    return value.map_batches(each, return_dtype=dtype)


def instants_of_series(values: pl.Series) -> pl.Series:
    """`instant_of_text` of a text column, worked out once per distinct text: an export repeats a
    few hundred period bounds over millions of rows, and the general parse is slow per row."""
    distinct = values.unique()
    parsed = distinct.to_frame("text").select(instant_of_text(pl.col("text"))).to_series()
    return values.replace_strict(distinct, parsed, default=None, return_dtype=UTC_US)


def instant_of_column(value: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A UTC instant (µs) from a column as the file typed it: text, a date or a timestamp."""
    if dtype == pl.String:
        return value.map_batches(instants_of_series, return_dtype=UTC_US)
    if isinstance(dtype, pl.Datetime):
        zoned = value.dt.replace_time_zone("UTC") if dtype.time_zone is None else value.dt.convert_time_zone("UTC")
        return zoned.cast(UTC_US)
    if dtype == pl.Date:
        return value.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    return instant_of_text(value.cast(pl.String))
