"""FOCUS numbers and instants as real exports write them (pipelines/adapters/focus_values.py).

Money is read with polars' cast of text to DECIMAL(38,9); these tests pin what that cast does
against Python's Decimal (exact, then rounded half-even once), so a polars upgrade that changed it
would be caught here, not in an invoice.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.adapters.focus_values import instant_of_column, instant_of_text, money_of_text, money_problem


def money(texts: list[str | None]) -> list[tuple[Decimal | None, str | None]]:
    value, unusable = money_of_text(pl.col("t").str.strip_chars())
    reason = pl.when(unusable).then(money_problem(pl.col("t").str.strip_chars()))
    return pl.DataFrame({"t": texts}, schema={"t": pl.String}).select(value.alias("v"), reason.alias("r")).rows()


def exact(text: str) -> Decimal | None:
    with localcontext() as context:
        context.prec = 100
        try:
            value = Decimal(text.strip())
        except InvalidOperation:
            return None
        if not value.is_finite() or abs(value) >= Decimal(10) ** 18:
            return None
        return value.quantize(Decimal("0.000000001"), rounding=ROUND_HALF_EVEN)


def test_spec_spellings_and_ties_round_half_even_once():
    assert money(["0.00000080000", "35.2E-7", "1.0000000005", "1.0000000015", "1.00000000050001",
                  "-1.0000000005", "2.5e-9", "+333", "12E3", " 7.25 "]) == [
        (Decimal("0.000000800"), None), (Decimal("0.000003520"), None), (Decimal("1.000000000"), None),
        (Decimal("1.000000002"), None), (Decimal("1.000000001"), None), (Decimal("-1.000000000"), None),
        (Decimal("0.000000002"), None), (Decimal("333"), None), (Decimal("12000"), None), (Decimal("7.25"), None)]


def test_what_is_not_a_number_says_so_and_nothing_is_guessed():
    assert money(["3,432,342", "NaN", "inf", "1e", "12,50", "1E+20", None]) == [
        (None, "is not a number: 3,432,342"), (None, "is not a number: NaN"), (None, "is not a number: inf"),
        (None, "is not a number: 1e"), (None, "is not a number: 12,50"), (None, "is out of range: 1E+20"),
        (None, None)]


digits = st.text("0123456789", min_size=1, max_size=24)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["", "-"]), digits, st.integers(0, 24),
                          st.one_of(st.none(), st.integers(-30, 20))), min_size=1, max_size=50))
def test_any_decimal_text_is_read_as_python_reads_it_exactly(parts):
    texts = []
    for sign, ds, point, exponent in parts:
        point = min(point, len(ds))
        text = sign + ds[:point] + ("." + ds[point:] if point < len(ds) else "")
        texts.append(text if exponent is None else f"{text}E{exponent}")
    assert [v for v, _ in money(texts)] == [exact(t) for t in texts]


def test_instants_as_exports_write_them():
    texts = ["2024-09-18 23:00:00", "2024-01-01T00:00Z", "2024-01-01T00:00:00Z", "2024-01-01t05:00:00+02:00",
             "2024-01-01", "2023-02-01T30:00:00Z", "garbage", None]
    out = pl.DataFrame({"t": texts}).select(instant_of_text(pl.col("t"))).to_series().to_list()
    utc = timezone.utc
    assert out == [datetime(2024, 9, 18, 23, tzinfo=utc), datetime(2024, 1, 1, tzinfo=utc),
                   datetime(2024, 1, 1, tzinfo=utc), datetime(2024, 1, 1, 3, tzinfo=utc),
                   datetime(2024, 1, 1, tzinfo=utc), None, None, None]
    # the column form parses each distinct text once, and gives the same instants in row order
    repeated = pl.DataFrame({"t": texts * 3})
    column = repeated.select(instant_of_column(pl.col("t"), pl.String)).to_series().to_list()
    assert column == out * 3
