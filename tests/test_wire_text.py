"""Typing wire text (pipelines/sources/wire_text.py): the fast instant shape and the exact RFC 3339
rule, row by row, in one frame."""

from __future__ import annotations

from datetime import datetime, timezone

import polars as pl

from pipelines.sources.registry import SOURCES
from pipelines.sources.wire_text import REASONS, type_text_columns

UTC = timezone.utc
REQUESTS = SOURCES["requests"]


def typed(finished: list[str | None]) -> pl.DataFrame:
    frame = pl.DataFrame({"finished_at": finished}, schema={"finished_at": pl.String})
    return type_text_columns(frame, REQUESTS).select("finished_at", "_bad__finished_at")


def test_each_row_takes_the_path_its_own_text_needs():
    # Rows the fast shape reads sit between rows only the exact rule reads, and rows neither reads:
    # each value must land on its own row.
    rows = typed([
        "2026-03-01T10:00:00.123456Z",  # fast
        "2026-03-01T12:00:00+02:00",  # exact rule: an offset
        None,
        "2026-03-01T10:00:01Z",  # fast (no fraction)
        "2026-03-01 10:00:02z",  # exact rule: space and lower-case z
        "2026-03-01T10:00:03",  # no offset: rejected, never read as UTC
        "2026-03-01T10:00:04.5Z",  # fast
        "not a time",
    ])
    assert rows["finished_at"].to_list() == [
        datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=UTC),
        datetime(2026, 3, 1, 10, 0, 0, tzinfo=UTC),
        None,
        datetime(2026, 3, 1, 10, 0, 1, tzinfo=UTC),
        datetime(2026, 3, 1, 10, 0, 2, tzinfo=UTC),
        None,
        datetime(2026, 3, 1, 10, 0, 4, 500000, tzinfo=UTC),
        None,
    ]
    bad = REASONS["instant"]
    assert rows["_bad__finished_at"].to_list() == [None, None, None, None, None, bad, None, bad]


def test_a_frame_the_fast_shape_reads_whole_and_an_empty_one():
    rows = typed(["2026-03-01T10:00:00Z", "2026-03-01T10:00:00.000001Z"])
    assert rows["finished_at"].to_list() == [datetime(2026, 3, 1, 10, tzinfo=UTC),
                                             datetime(2026, 3, 1, 10, 0, 0, 1, tzinfo=UTC)]
    assert rows["_bad__finished_at"].null_count() == 2
    assert typed([]).schema["finished_at"] == pl.Datetime("us", "UTC")
