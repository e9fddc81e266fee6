"""The request log is rendered and stored a slice at a time: the slices add up to the in-memory
fleet (re-delivered copies included), and the stored parquet reads back the same."""

from __future__ import annotations

from datetime import datetime, timezone

import polars as pl
import pyarrow.parquet as pq
import pytest

import fixtures.fleet as fleet_mod
from fixtures.fleet import DEFAULT_START, Fleet, load_fleet, simulate_fleet

ARGS = dict(seed=5, days=2, requests_per_day=5_000)
BASE_ROWS, COPIES = 10_454, 8  # requests, and re-delivered copies (4 a day)


@pytest.fixture(scope="module")
def whole() -> Fleet:
    return simulate_fleet(**ARGS)  # one slice: SLICE_ROWS is far above 10k


@pytest.fixture
def small_slices(monkeypatch):
    monkeypatch.setattr(fleet_mod, "SLICE_ROWS", 1_000)


def request_ids(fleet: Fleet) -> pl.Series:
    return fleet.requests.json.str.extract(r'"request_id":"([^"]+)"')


def same_rows(a: Fleet, b: Fleet) -> None:
    """Equal but for the order of rows with the very same instant (possible at a slice edge)."""
    x, y = a.requests.frame(), b.requests.frame()
    assert x["at"].equals(y["at"])
    assert x.sort("at", "json").equals(y.sort("at", "json"))
    for s in ("snapshots", "events"):
        assert a.source(s).frame().equals(b.source(s).frame())
    assert (a.invoices, a.days, a.description) == (b.invoices, b.days, b.description)


def test_the_whole_fleet_counts(whole):
    assert len(whole.requests) == BASE_ROWS + COPIES
    assert request_ids(whole).n_unique() == BASE_ROWS
    assert whole.requests.json.str.contains("+00:00", literal=True).sum() == COPIES // 2
    assert whole.requests.at.is_sorted() and whole.requests.n_unplaced == 0


def test_slices_hold_their_rows_and_the_copies_of_them(small_slices):
    sources, _ = fleet_mod._simulate(ARGS["seed"], DEFAULT_START, ARGS["days"], ARGS["requests_per_day"])
    slices = list(sources["requests"])
    assert len(slices) == 11  # ten of 1,000 requests and one of 454
    assert [len(s) for s in slices] == [1001, 1001, 1001, 1000, 1001, 1000, 1000, 1000, 1003, 1000, 455]
    for before, after in zip(slices, slices[1:]):
        assert before["at"].is_sorted() and before["at"][-1] <= after["at"][0]
    per_id = pl.concat([s.with_columns(slice=pl.lit(i)) for i, s in enumerate(slices)]).group_by(
        pl.col("json").str.extract(r'"request_id":"([^"]+)"').alias("id")
    ).agg(pl.len(), pl.col("slice").n_unique(), pl.col("at").n_unique())
    assert per_id.height == BASE_ROWS and (per_id["len"] == 2).sum() == COPIES and per_id["len"].max() == 2
    assert per_id["slice"].max() == 1 and per_id["at"].max() == 1  # a copy: its original's slice and instant


def test_sliced_fleet_equals_the_whole(whole, small_slices):
    same_rows(simulate_fleet(**ARGS), whole)


def test_store_a_slice_at_a_time_and_read_back(whole, small_slices, tmp_path, monkeypatch):
    monkeypatch.setenv("INVOICE_TRUE_CACHE", str(tmp_path))
    built = load_fleet(**ARGS)  # a miss: stored, then read back
    (entry,) = [p for p in tmp_path.iterdir() if p.name.startswith("fleet-")]
    assert pq.ParquetFile(entry / "requests.parquet").metadata.num_row_groups == 11  # one per slice
    assert pq.ParquetFile(entry / "requests.parquet").metadata.row_group(0).column(1).compression == "ZSTD"
    cached = load_fleet(**ARGS)
    for f in (built, cached, Fleet.load(entry)):
        same_rows(f, whole)

    lo, hi = datetime(2026, 10, 26, 12, tzinfo=timezone.utc), datetime(2026, 10, 27, 3, tzinfo=timezone.utc)
    part = load_fleet(**ARGS, between=(lo, hi))
    want = whole.requests.frame().filter((pl.col("at") >= lo) & (pl.col("at") < hi))
    assert 3_000 < len(want) < len(whole.requests)
    assert part.requests.frame().sort("at", "json").equals(want.sort("at", "json"))
    assert part.requests.at.min() >= lo and part.requests.at.max() < hi
    assert len(part.snapshots) == whole.snapshots.frame().filter(
        (pl.col("at") >= lo) & (pl.col("at") < hi)).height


def test_save_keeps_unplaced_rows(tmp_path):
    good = {"at": "2026-10-10T10:00:00+00:00", "resource_id": "r", "tier": "t", "event": "launched"}
    f = Fleet.from_rows([], [], [good, {**good, "at": "yesterday"}])
    f.save(tmp_path)
    back = Fleet.load(tmp_path)
    assert len(back.events) == 2 and back.events.n_unplaced == 1 and len(back.requests) == 0
    assert back.events.json.to_list() == f.events.json.to_list() and back.days == f.days
