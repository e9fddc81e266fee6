"""FOCUS values as real exports write them, typed exactly (polars expressions, no Python per row).

- Decimals (FOCUS `attributes/numeric_format.md`, identical in 1.0-1.2): an integer, a decimal or
  E notation (`35.2E-7`). Read as text, never through a float, and landed as integer nanodollars
  (DECIMAL(38,9)): a value with more than 9 decimals is rounded half-even, once (DESIGN.md rule 11,
  "Pinned"). A sign on a positive value (`+333`, `E+7`) is forbidden by the spec but unambiguous,
  so it is read; commas, fractions, `NaN` and `inf` are not numbers. Parquet `double` columns
  (AWS writes costs as double) are first written as polars' round-trip text of the double.
- Instants (`attributes/datetime_format.md`): the spec wants `YYYY-MM-DDTHH:mm:ssZ`; real files
  write `2024-09-18 23:00:00` (no `T`, no zone; the FOCUS 1.0 sample), Azure's 1.0 exports
  `2024-01-01T00:00Z` (no seconds; MicrosoftDocs `cost-usage-details-focus.md`). A missing zone is
  UTC, as FOCUS requires. Native Parquet timestamps (AWS: `timestamp_milliseconds`) without a zone
  are UTC too.
"""

from __future__ import annotations

import polars as pl

NANOS_PER_UNIT = 9  # DECIMAL(38,9): the raw layer's money
# |value| < 10^18 dollars (27 digits of nanodollars): sums of many rows still fit DECIMAL(38,9).
# A larger value is refused as out of range.
MAX_DIGITS = 27
_NUMBER = r"^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d{1,4}))?$"
_ZEROS = "0" * (MAX_DIGITS + 1)
_INSTANT = (
    r"^(\d{4}-\d{2}-\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r" ?([Zz]|[+-]\d{2}(?::?\d{2})?)?$"
)
UTC_US = pl.Datetime("us", "UTC")


def with_nanos(frame: pl.LazyFrame, text_column: str, nanos: str, reason: str) -> pl.LazyFrame:
    """`frame` with `nanos` (Int128 nanodollars of the text in `text_column`, rounded half-even)
    and `reason` (why the text is not a number; null where it is, or where the text is null)."""
    t = "_num_"  # scratch columns, dropped at the end
    text = pl.col(text_column).str.strip_chars()
    parts = text.str.extract_groups(_NUMBER)
    frame = frame.with_columns(
        text.alias(t + "text"),
        parts.struct.field("1").alias(t + "sign"),
        parts.struct.field("2").alias(t + "whole"),
        parts.struct.field("3").fill_null("").alias(t + "fraction"),
        parts.struct.field("4").str.strip_prefix("+").cast(pl.Int64, strict=False).fill_null(0).alias(t + "exponent"),
    ).with_columns(
        pl.concat_str(pl.col(t + "whole").fill_null(""), pl.col(t + "fraction")).alias(t + "all"),
    ).with_columns(
        (pl.col(t + "whole").is_not_null() & (pl.col(t + "all").str.len_chars() > 0)).alias(t + "shaped"),
        pl.col(t + "all").str.strip_chars_start("0").alias(t + "digits"),
        # value = digits × 10^(exponent − len(fraction)); in nanodollars the power is `shift`
        (pl.col(t + "exponent") - pl.col(t + "fraction").str.len_chars().cast(pl.Int64) + NANOS_PER_UNIT)
        .alias(t + "shift"),
    ).with_columns(
        pl.col(t + "digits").str.len_chars().cast(pl.Int64).alias(t + "n"),
    ).with_columns(
        (pl.col(t + "n") + pl.col(t + "shift")).alias(t + "kept"),  # digits left of the rounding point
    ).with_columns(
        pl.col(t + "digits").str.slice(0, pl.col(t + "kept").clip(0, None)).alias(t + "head"),
        pl.col(t + "digits").str.slice(pl.col(t + "kept").clip(0, None)).alias(t + "tail"),
        ((pl.col(t + "n") > 0) & (pl.col(t + "kept") > MAX_DIGITS)).alias(t + "too_big"),
    )
    head, tail = pl.col(t + "head"), pl.col(t + "tail")
    first_dropped = tail.str.slice(0, 1)
    round_up = (pl.col(t + "kept") >= 0) & (
        (first_dropped > "5")
        | ((first_dropped == "5") & (tail.str.slice(1).str.contains("[1-9]") | head.str.slice(-1).is_in(list("13579"))))
    )
    zero = pl.lit(0, pl.Int128)
    scaled_up = pl.concat_str(pl.col(t + "digits"), pl.lit(_ZEROS).str.slice(0, pl.col(t + "shift").clip(0, MAX_DIGITS + 1)))
    rounded = pl.when(head.str.len_chars() > 0).then(head.cast(pl.Int128, strict=False)).otherwise(zero)
    usable = pl.col(t + "shaped") & ~pl.col(t + "too_big")
    frame = frame.with_columns(
        pl.when(~usable).then(None)
        .when(pl.col(t + "n") == 0).then(zero)
        .when(pl.col(t + "shift") >= 0).then(scaled_up.cast(pl.Int128, strict=False))
        .otherwise(rounded + round_up.cast(pl.Int128))
        .alias(t + "magnitude"),
    )
    magnitude, shown = pl.col(t + "magnitude"), pl.col(t + "text")
    return frame.with_columns(
        pl.when(pl.col(t + "sign") == "-").then(zero - magnitude).otherwise(magnitude).alias(nanos),
        pl.when(shown.is_null()).then(None)
        .when(~pl.col(t + "shaped").fill_null(False)).then(pl.lit("is not a number: ") + shown)
        .when(pl.col(t + "too_big")).then(pl.lit("is out of range: ") + shown)
        .alias(reason),
    ).drop(pl.selectors.starts_with(t))


def number_text(value: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A numeric column as the text `with_nanos` reads: text stays; decimals and integers are written
    exactly; a double is written as its round-trip text (`NaN`, `inf` stay, and are not numbers)."""
    return value if dtype == pl.String else value.cast(pl.String)


def nanos_to_decimal(nanos: pl.Expr) -> pl.Expr:
    """Int128 nanodollars as DECIMAL(38,9), exactly (through their text: "-1234" -> "-0.000001234")."""
    text = nanos.abs().cast(pl.String).str.pad_start(NANOS_PER_UNIT + 1, "0")
    return pl.concat_str(
        pl.when(nanos < 0).then(pl.lit("-")).otherwise(pl.lit("")),
        text.str.slice(0, text.str.len_chars() - NANOS_PER_UNIT), pl.lit("."), text.str.slice(-NANOS_PER_UNIT),
    ).cast(pl.Decimal(38, NANOS_PER_UNIT))


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


def instant_of_column(value: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A UTC instant (µs) from a column as the file typed it: text, a date or a timestamp."""
    if dtype == pl.String:
        return instant_of_text(value)
    if isinstance(dtype, pl.Datetime):
        zoned = value.dt.replace_time_zone("UTC") if dtype.time_zone is None else value.dt.convert_time_zone("UTC")
        return zoned.cast(UTC_US)
    if dtype == pl.Date:
        return value.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    return instant_of_text(value.cast(pl.String))
