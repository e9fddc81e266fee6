"""The ready queries in sql/queries/ run against a published file and say what users expect."""

from datetime import date
from pathlib import Path

import duckdb
import pytest

from fixtures.rows import Fleet
from pipelines.config import CONFIG_ENV, load_config
from tests.conftest import DATA, PipelineRun

QUERIES = sorted((Path(__file__).parent.parent / "sql" / "queries").glob("*.sql"))


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    """The tiny fleet's day, published once for the module (the queries only read it)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.delenv("DAGSTER_HOME", raising=False)
        monkeypatch.delenv(CONFIG_ENV, raising=False)
        load_config.cache_clear()
        pipeline = PipelineRun(monkeypatch, tmp_path_factory.mktemp("ready_queries"))
        pipeline.run(Fleet.from_json_dir(DATA / "tiny_fleet" / "input"), date(2026, 10, 10), date(2026, 10, 11))
    return pipeline.published


@pytest.mark.parametrize("query", QUERIES, ids=lambda p: p.stem)
def test_ready_query_runs_read_only_on_the_published_file(published, query):
    with duckdb.connect(str(published), read_only=True) as con:
        assert con.sql(query.read_text()).fetchall()


def test_where_the_money_went_adds_up_for_the_tiny_fleet(published):
    text = (QUERIES[0].parent / "where_the_money_went.sql").read_text()
    with duckdb.connect(str(published), read_only=True) as con:
        cursor = con.execute(text)
        names = [d[0] for d in cursor.description]
        (row,) = [dict(zip(names, r)) for r in cursor.fetchall()]
    assert str(row["spend_usd"]) == "12.825533000"
    assert row["serving_usd"] + row["idle_usd"] + row["waking_usd"] + row["parked_usd"] == row["spend_usd"]
    assert str(row["waking_usd"]) == "0.210000000" and str(row["parked_usd"]) == "0.002200000"
    assert row["billing_complete"] is False


def test_requests_by_hour_reads_raw_history_from_the_lake(published):
    # Hand-counted from tests/data/tiny_fleet/input/requests.json: tiny-2 arrives twice and is one request.
    text = (QUERIES[0].parent / "requests_by_hour.sql").read_text()
    with duckdb.connect(str(published), read_only=True) as con:
        rows = [(str(hour), model, n, failed, int(tokens)) for hour, model, n, failed, tokens in con.sql(text).fetchall()]
    assert rows == [
        ("2026-10-10 09:00:00", "llama-3.1-70b-instruct-awq", 1, 0, 300),
        ("2026-10-10 09:00:00", "qwen2.5-32b-instruct-awq", 1, 0, 500),
        ("2026-10-10 10:00:00", "llama-3.1-70b-instruct-awq", 2, 0, 320),
        ("2026-10-10 10:00:00", "qwen2.5-32b-instruct-awq", 1, 1, 40),
    ]
