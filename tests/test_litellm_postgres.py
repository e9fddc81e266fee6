"""`litellm_postgres` against a real PostgreSQL holding LiteLLM's own table (tests/servers/postgres.py):
a simulated week of the demo fleet (30 k requests a weekday) loaded into `public`, hand-built edge rows in other schemas (read through
Prisma's `?schema=`). The server runs in America/New_York, so any comparison against a zoned value
would shift every edge below by hours."""

from __future__ import annotations

import logging
import time
from datetime import date, datetime, timedelta, timezone

import adbc_driver_manager
import adbc_driver_postgresql.dbapi as pg_dbapi
import polars as pl
import pytest

from fixtures.fleet import load_fleet
from fixtures.wires import litellm as wire
from pipelines.adapters.base import Window
from pipelines.adapters.litellm_postgres import LiteLLMPostgres, LiteLLMPostgresConfig
from pipelines.adapters.litellm_rows import SpendLogMapping
from pipelines.client import SourceAuthError, SourceProtocolError, SourceUnavailable
from pipelines.config import ResourceMapEntry
from pipelines.sources.resource_map import ResourceMap

pytestmark = pytest.mark.slow  # its fixture loads a week (182,644 rows) into a real PostgreSQL


def MapEntry(source, source_id, resource_id, tier=None):  # noqa: N802 - reads like the entry it builds
    return ResourceMapEntry(source=source, source_id=source_id, resource_id=resource_id, tier=tier)
from tests.servers.postgres import postgres  # noqa: F401  (the session fixture)

UTC = timezone.utc
DAY = date(2026, 10, 28)
WINDOW = Window(DAY, datetime(2026, 10, 28, tzinfo=UTC), datetime(2026, 10, 29, tzinfo=UTC))
A17 = "http://10.0.4.17:8000/v1"
EDGE_MAPPING = SpendLogMapping(ResourceMap([MapEntry("litellm", A17, "gpu-a", "h100-class")]),
                               models={"m": "h100-class"})
CANONICAL = {"request_id": pl.String, "received_at": pl.Datetime("us", "UTC"), "first_token_at": pl.Datetime("us", "UTC"),
             "finished_at": pl.Datetime("us", "UTC"), "model": pl.String, "tier": pl.String, "resource_id": pl.String,
             "status": pl.Int64, "error": pl.String, "prompt_tokens": pl.Int64, "completion_tokens": pl.Int64,
             "cached_tokens": pl.Int64, "api_key_id": pl.String}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def request(rid: str, received: str, finished: str, **over) -> dict:
    base = {"request_id": rid, "received_at": at(received), "first_token_at": None, "finished_at": at(finished),
            "model": "m", "tier": "h100-class", "resource_id": "gpu-a", "status": 200, "error": None,
            "prompt_tokens": 10, "completion_tokens": 20, "cached_tokens": 0, "api_key_id": "k"}
    return {**base, **over}


def load_rows(postgres, schema: str, *requests: dict) -> None:
    frame = pl.DataFrame(list(requests), schema=CANONICAL)
    with postgres.connect() as con:
        wire.load_spend_logs(con, rows=wire.render(frame, {"gpu-a": A17}), schema=schema)
    postgres.grant_reader(schema=schema)


def adapter(postgres, schema: str | None = None, mapping=EDGE_MAPPING, **config) -> LiteLLMPostgres:
    dsn = postgres.dsn() + (f"?schema={schema}" if schema else "")
    return LiteLLMPostgres(LiteLLMPostgresConfig(**config), mapping, dsn=dsn)


def read_all(source: LiteLLMPostgres, window: Window = WINDOW) -> pl.DataFrame:
    frames = list(source.read(window))
    return pl.concat(frames) if frames else pl.DataFrame()


@pytest.fixture(scope="module")
def demo(postgres):
    """A week of the demo fleet as LiteLLM would have logged it, in `public`: a day is a seventh of
    the table, so the planner has a reason to prefer the index (the demo's own 1.37 M rows took
    half a minute to load and read the same)."""
    fleet = load_fleet(seed=7, days=7, requests_per_day=30_000)
    with postgres.connect() as con:
        assert wire.load_spend_logs(con, fleet) == wire.fleet_requests(fleet).height == 182_644  # one per id
    postgres.grant_reader()
    mapping = SpendLogMapping(ResourceMap(wire.resource_map(fleet)), wire.models_map(fleet))
    return fleet, mapping


@pytest.fixture(scope="module")
def edges(postgres):
    load_rows(postgres, "edges",
              request("before-start", "2026-10-27 23:59:50", "2026-10-27 23:59:59.999"),
              request("at-start", "2026-10-27 23:59:50", "2026-10-28 00:00:00"),
              request("last-ms", "2026-10-28 23:59:50", "2026-10-28 23:59:59.999"),
              request("at-end", "2026-10-28 23:59:50", "2026-10-29 00:00:00"),
              request("long-inside-bound", "2026-10-27 23:00:00", "2026-10-28 00:30:00"),
              request("long-past-bound", "2026-10-27 22:59:59.999", "2026-10-28 00:30:00"),
              request("unrouted", "2026-10-28 12:00:00.001", "2026-10-28 12:00:05.002", resource_id=None,
                      status=429, error="rate_limited", prompt_tokens=0, completion_tokens=0),
              request("cached", "2026-10-28 13:00:00", "2026-10-28 13:00:05", cached_tokens=512,
                      first_token_at=at("2026-10-28 13:00:00.250")))
    return "edges"


def test_window_edges_are_half_open_on_end_time_at_the_millisecond(postgres, edges):
    out = read_all(adapter(postgres, edges)).sort("request_id")
    assert out["request_id"].to_list() == ["at-start", "cached", "last-ms", "long-inside-bound", "unrouted"]
    assert out["_problem_reason"].to_list() == [None] * 5
    unrouted = out.filter(pl.col("request_id") == "unrouted").row(0, named=True)
    assert (unrouted["received_at"], unrouted["finished_at"], unrouted["status"], unrouted["error"],
            unrouted["resource_id"], unrouted["tier"]) == (
        at("2026-10-28 12:00:00.001"), at("2026-10-28 12:00:05.002"), 429, "RateLimitError", None, "h100-class")
    cached = out.filter(pl.col("request_id") == "cached").row(0, named=True)
    assert (cached["cached_tokens"], cached["first_token_at"], cached["resource_id"]) == (
        512, at("2026-10-28 13:00:00.250"), "gpu-a")


def test_the_lookback_is_max_request_s_before_the_window_start(postgres, edges):
    shorter = read_all(adapter(postgres, edges, max_request_s=1800))["request_id"].sort().to_list()
    assert "long-inside-bound" not in shorter  # started 1 h before the window: beyond a 30 min bound
    longer = read_all(adapter(postgres, edges, max_request_s=3601))["request_id"].sort().to_list()
    assert "long-past-bound" in longer


def test_the_read_uses_the_start_time_index_not_a_scan(postgres, demo):
    plan = adapter(postgres).explain(Window.for_day(DAY, timedelta(minutes=15)))
    assert "LiteLLM_SpendLogs_startTime_idx" in plan, plan
    assert "Index Scan" in plan or "Bitmap Index Scan" in plan, plan
    assert "Seq Scan" not in plan, plan


def test_a_demo_day_equals_the_fleets_own_requests_at_the_millisecond(postgres, demo):
    fleet, mapping = demo
    window = Window.for_day(DAY, timedelta(minutes=15))
    out = read_all(adapter(postgres, mapping=mapping, batch_rows=10_000), window)
    ms = [pl.col(c).dt.truncate("1ms") for c in ("received_at", "first_token_at", "finished_at")]
    expected = (wire.fleet_requests(fleet).with_columns(ms)
                .filter((pl.col("finished_at") >= window.start) & (pl.col("finished_at") < window.end))
                .with_columns(pl.when(pl.col("first_token_at") != pl.col("finished_at")).then(pl.col("first_token_at"))
                              .alias("first_token_at"),
                              pl.col("error").replace_strict({k: v[1] for k, v in wire.ERROR_INFO.items()},
                                                             default=None)))
    columns = list(CANONICAL)
    assert out.filter(pl.col("_problem_field").is_not_null()).height == 0
    assert out.height == expected.height == 31_524
    assert out["_row"].sort().to_list() == list(range(1, out.height + 1))
    assert out.select(columns).sort("request_id").equals(expected.select(columns).sort("request_id"))
    assert out["status"].value_counts().sort("status").rows() == expected["status"].value_counts().sort("status").rows()


def test_every_transaction_is_read_only_even_for_a_role_that_may_write(postgres, edges):
    source = LiteLLMPostgres(LiteLLMPostgresConfig(), EDGE_MAPPING, dsn=postgres.dsn(postgres.owner))
    with source._session("test") as con, con.cursor() as cur:
        cur.execute("SELECT current_setting('transaction_read_only')")
        assert cur.fetchall() == [("on",)]
        with pytest.raises(adbc_driver_manager.Error, match="read-only transaction"):
            cur.execute('DELETE FROM edges."LiteLLM_SpendLogs"')


def test_the_select_only_reader_role_reads_and_cannot_write(postgres, edges):
    assert read_all(adapter(postgres, edges)).height == 5
    # even with the role's read-only default switched off, the grants allow nothing but SELECT
    with pg_dbapi.connect(postgres.dsn(postgres.reader), autocommit=True) as con, con.cursor() as cur:
        cur.execute("SET default_transaction_read_only = off")
        with pytest.raises(adbc_driver_manager.Error, match="permission denied for table LiteLLM_SpendLogs"):
            cur.execute('DELETE FROM edges."LiteLLM_SpendLogs"')


@pytest.mark.parametrize(("dsn_of", "error", "words"), [
    (lambda pg: pg.dsn(password="not-the-password"), SourceAuthError, "refused the login (password authentication failed)"),
    (lambda pg: pg.dsn(port=1), SourceUnavailable, "could not connect (Connection refused)"),
    (lambda pg: pg.dsn(database="no_such_db"), SourceUnavailable, 'could not connect (database "no_such_db" does not exist)'),
])
def test_a_dsn_that_does_not_connect_fails_fast_in_one_line_without_secrets(postgres, dsn_of, error, words):
    dsn = dsn_of(postgres)
    source = LiteLLMPostgres(LiteLLMPostgresConfig(), EDGE_MAPPING, dsn=dsn)
    started = time.monotonic()
    with pytest.raises(error) as caught:
        list(source.read(WINDOW))
    text = str(caught.value)
    assert time.monotonic() - started < 5
    assert "\n" not in text
    assert text.startswith(f"LiteLLM PostgreSQL {words} for LiteLLM_SpendLogs at 127.0.0.1:")
    for secret in (postgres.reader.password, "not-the-password", "invoice_true_reader"):
        assert secret not in text


def test_a_renamed_column_is_named_in_one_line(postgres):
    load_rows(postgres, "renamed", request("a", "2026-10-28 10:00:00", "2026-10-28 10:00:01"))
    postgres.admin('ALTER TABLE renamed."LiteLLM_SpendLogs" RENAME COLUMN "endTime" TO "end_time"', database="litellm")
    with pytest.raises(SourceProtocolError) as caught:
        list(adapter(postgres, "renamed").read(WINDOW))
    assert str(caught.value) == (
        f'LiteLLM PostgreSQL has no column "endTime" in LiteLLM_SpendLogs for LiteLLM_SpendLogs at '
        f"127.0.0.1:{postgres.port}/litellm (endTime in [2026-10-28T00:00:00Z, 2026-10-29T00:00:00Z)) — a renamed "
        "or dropped column; LiteLLM's schema.prisma defines it")


def test_a_missing_table_is_named(postgres):
    with pytest.raises(SourceProtocolError, match='has no table "LiteLLM_SpendLogs" in schema "nowhere"'):
        list(adapter(postgres, "nowhere").read(WINDOW))


def test_an_empty_window_is_reported_not_failed(postgres, edges, caplog):
    empty = Window(date(2020, 1, 1), datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 1, 2, tzinfo=UTC))
    with caplog.at_level(logging.WARNING, logger="pipelines"):  # a CLI test in this process may have quietened it
        assert list(adapter(postgres, edges).read(empty)) == []
    assert "no requests with endTime in [2020-01-01T00:00:00Z, 2020-01-02T00:00:00Z)" in caplog.text


def test_frames_are_bounded_by_batch_rows_and_rows_count_on(postgres, demo):
    fleet, mapping = demo
    window = Window(DAY, datetime(2026, 10, 28, 12, tzinfo=UTC), datetime(2026, 10, 28, 13, tzinfo=UTC))
    frames = list(adapter(postgres, mapping=mapping, batch_rows=300).read(window))
    heights = [f.height for f in frames]
    assert len(heights) > 3 and set(heights[:-1]) == {300} and 0 < heights[-1] <= 300
    rows = pl.concat([f["_row"] for f in frames])
    assert rows.to_list() == list(range(1, rows.len() + 1))


def test_probe_counts_the_last_hour_and_never_shows_a_secret(postgres):
    now = datetime.now(UTC).replace(microsecond=0)
    load_rows(postgres, "live", request("recent", f"{now - timedelta(minutes=10):%Y-%m-%d %H:%M:%S}",
                                        f"{now - timedelta(minutes=9):%Y-%m-%d %H:%M:%S}"),
              request("old", "2026-01-01 10:00:00", "2026-01-01 10:00:01"))
    line = adapter(postgres, "live").probe()
    assert line == (f"LiteLLM_SpendLogs at 127.0.0.1:{postgres.port}/litellm (PostgreSQL): 1 requests started in "
                    f"the last hour; newest endTime {now - timedelta(minutes=9):%Y-%m-%dT%H:%M:%S}.000Z")
    assert postgres.reader.password not in line and "invoice_true_reader" not in line


def test_postgres_and_the_api_read_a_fleet_into_the_same_frames(postgres):
    from fixtures.fleet import simulate_fleet
    from tests.litellm_fleet import litellm_api_fleet

    fleet = simulate_fleet(start=date(2026, 10, 27), days=2, requests_per_day=3_000)
    with postgres.connect() as con:
        wire.load_spend_logs(con, fleet, schema="small")
    postgres.grant_reader(schema="small")
    window = Window.for_day(date(2026, 10, 27), timedelta(minutes=15))
    mapping = SpendLogMapping(ResourceMap(wire.resource_map(fleet)), wire.models_map(fleet))
    from_db = read_all(adapter(postgres, "small", mapping=mapping), window)
    with litellm_api_fleet(fleet) as (_, api):
        from_api = pl.concat(list(api.read(window)))
    assert from_db.height == from_api.height > 2_500
    assert from_db.drop("_origin", "_row").sort("request_id").equals(from_api.drop("_origin", "_row").sort("request_id"))
