"""The seam between adapters and landing: a canonical frame, and the contract applied to it.

An adapter yields polars frames holding the canonical columns of its source, typed as
`CanonicalSource.polars_schema()` says, plus bookkeeping columns:

- `_row` (Int64): the row's position in the adapter's read, from 1, unique across its frames;
- `_origin` (String): where the row came from, for a person (a page and position, a file and
  line, a table and key); may be null on rows that are kept;
- `_payload` (String): the row as the wire had it; may be null on rows that are kept;
- `_problem_field`, `_problem_reason` (String): the first problem of a rejected row, null on a
  good one. Adapters set them for what only they can see (a value that did not parse, an
  unmapped replica); `check_contract` adds the contract's own rules;
- `_bad__<column>` (String, optional): the reason a wire value of <column> did not parse, so
  the contract can name the first broken field in the model's field order.

`check_contract` is vectorised: one `when/then` chain over the whole frame, no Python per row.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from pipelines.sources.columns import Column
from pipelines.sources.registry import CanonicalSource

ROW, ORIGIN, PAYLOAD = "_row", "_origin", "_payload"
PROBLEM_FIELD, PROBLEM_REASON = "_problem_field", "_problem_reason"
BAD = "_bad__"
BOOKKEEPING = (ROW, ORIGIN, PAYLOAD, PROBLEM_FIELD, PROBLEM_REASON)
BOOKKEEPING_SCHEMA: dict[str, pl.DataType] = {
    ROW: pl.Int64, ORIGIN: pl.String, PAYLOAD: pl.String, PROBLEM_FIELD: pl.String, PROBLEM_REASON: pl.String,
}


def empty_frame(source: CanonicalSource) -> pl.DataFrame:
    return pl.DataFrame(schema={**source.polars_schema(), **BOOKKEEPING_SCHEMA})


def conform(frame: pl.DataFrame, source: CanonicalSource) -> pl.DataFrame:
    """The frame with exactly the canonical and bookkeeping columns, in order, typed; missing
    bookkeeping columns are added as nulls. A canonical column that is missing is an error."""
    missing = [c for c in source.column_names if c not in frame.columns]
    if missing:
        raise ValueError(f"{source.name} frame lacks canonical columns: {', '.join(missing)}")
    schema = {**source.polars_schema(), **BOOKKEEPING_SCHEMA}
    return frame.select(
        (pl.col(name) if name in frame.columns else pl.lit(None)).cast(dtype).alias(name)
        for name, dtype in schema.items()
    )


def check_contract(
    frame: pl.DataFrame,
    source: CanonicalSource,
    *,
    window: tuple[datetime, datetime] | None = None,
    expected_currency: str | None = None,
) -> pl.DataFrame:
    """Set `_problem_field`/`_problem_reason` on every row that breaks the contract of `source`.

    The first problem in the model's field order is named; then the rules across fields, the
    fetched window (on `day_column`) and the expected currency. A problem the adapter already set
    stands. Returns the frame conformed to the canonical columns plus bookkeeping."""
    problems: list[tuple[str, pl.Expr, pl.Expr]] = []
    for column in source.columns:
        problems += _column_problems(column, frame.columns)
    for rule in source.checks:
        problems.append((rule.field, rule.broken(), rule.reason()))
    if window is not None:
        start, end = window
        at = pl.col(source.day_column)
        problems.append(
            (source.day_column, ~((at >= start) & (at < end)), pl.lit("is outside the fetched window"))
        )
    if expected_currency and "currency" in source.column_names:
        problems.append((
            "currency", pl.col("currency") != expected_currency,
            pl.lit("currency is ") + pl.col("currency") + pl.lit(f", expected {expected_currency}"),
        ))
    if PROBLEM_FIELD not in frame.columns:
        frame = frame.with_columns(pl.lit(None, pl.String).alias(PROBLEM_FIELD),
                                   pl.lit(None, pl.String).alias(PROBLEM_REASON))
    if problems:
        field_chain = reason_chain = None
        for name, broken, reason in problems:
            broken = broken.fill_null(False)
            field_chain = (pl.when(broken) if field_chain is None else field_chain.when(broken)).then(pl.lit(name))
            reason_chain = (pl.when(broken) if reason_chain is None else reason_chain.when(broken)).then(reason)
        already = pl.col(PROBLEM_FIELD).is_not_null()
        frame = frame.with_columns(
            pl.when(already).then(pl.col(PROBLEM_FIELD)).otherwise(field_chain.otherwise(None)).alias(PROBLEM_FIELD),
            pl.when(already).then(pl.col(PROBLEM_REASON)).otherwise(reason_chain.otherwise(None)).alias(PROBLEM_REASON),
        )
    return conform(frame, source)


def _column_problems(column: Column, present: list[str]) -> list[tuple[str, pl.Expr, pl.Expr]]:
    value = pl.col(column.name)
    out: list[tuple[str, pl.Expr, pl.Expr]] = []
    if BAD + column.name in present:
        out.append((column.name, pl.col(BAD + column.name).is_not_null(), pl.col(BAD + column.name)))
    if column.min_length:
        empty = value.str.len_chars() < column.min_length
        out.append((column.name, value.is_null() | empty if not column.nullable else empty,
                    pl.lit("is missing or empty" if not column.nullable else "is empty")))
    elif not column.nullable:
        out.append((column.name, value.is_null(), pl.lit("is missing")))
    if column.choices:
        out.append((column.name, value.is_not_null() & ~value.is_in(column.choices),
                    pl.lit("is not one of " + ", ".join(column.choices))))
    if column.ge is not None and column.le is not None:
        out.append((column.name, (value < column.ge) | (value > column.le),
                    pl.lit(f"is not between {column.ge} and {column.le}")))
    elif column.ge is not None:
        out.append((column.name, value < column.ge, pl.lit(f"is not >= {column.ge}")))
    elif column.le is not None:
        out.append((column.name, value > column.le, pl.lit(f"is not <= {column.le}")))
    if column.pattern:
        out.append((column.name, value.is_not_null() & ~value.str.contains(column.pattern),
                    pl.lit(column.invalid or f"does not match {column.pattern}")))
    return out
