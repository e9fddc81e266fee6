"""`litellm_api` against a real loopback server speaking LiteLLM's `GET /spend/logs/v2`
(fixtures/wires/litellm_api_server.py): paging past the 10,000 count cap to a short page, the
widened window filtered on endTime, LiteLLM's 401/400/422 answers, retries, older proxies."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone

import httpx
import numpy as np
import orjson
import polars as pl
import pydantic
import pytest

from fixtures.fleet import simulate_fleet
from fixtures.wires import litellm as wire
from fixtures.wires.litellm_api_server import LiteLLMApiServer
from pipelines.adapters.base import Window
from pipelines.adapters.litellm_api import LiteLLMApi, LiteLLMApiConfig
from pipelines.adapters.litellm_rows import SpendLogMapping
from pipelines.client import SourceAuthError, SourceProtocolError, SourceUnavailable
from pipelines.config import ResourceMapEntry
from pipelines.sources.resource_map import ResourceMap


def MapEntry(source, source_id, resource_id, tier=None):  # noqa: N802 - reads like the entry it builds
    return ResourceMapEntry(source=source, source_id=source_id, resource_id=resource_id, tier=tier)

UTC = timezone.utc
KEY = "sk-litellm-master-5d1e"
A17 = "http://10.0.4.17:8000/v1"
DAY = date(2026, 10, 28)
WINDOW = Window(DAY, datetime(2026, 10, 28, tzinfo=UTC), datetime(2026, 10, 29, tzinfo=UTC))
MAPPING = SpendLogMapping(ResourceMap([MapEntry("litellm", A17, "gpu-a", "h100-class")]), models={"m": "h100-class"})
US = pl.Datetime("us", "UTC")


def requests_frame(received: list[datetime] | np.ndarray, finished, ids=None) -> pl.DataFrame:
    received = pl.Series(received).cast(US)
    finished = pl.Series(finished).cast(US)
    n = received.len()
    return pl.DataFrame({
        "request_id": ids or [f"req-{i:06d}" for i in range(n)], "received_at": received, "first_token_at": None,
        "finished_at": finished, "model": "m", "tier": "h100-class", "resource_id": "gpu-a", "status": 200,
        "error": None, "prompt_tokens": 10, "completion_tokens": 20, "cached_tokens": 0, "api_key_id": "k",
    }, schema_overrides={"first_token_at": US, "error": pl.String})


def spend_logs(frame: pl.DataFrame) -> pl.DataFrame:
    return wire.render(frame, {"gpu-a": A17})


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def api(server: LiteLLMApiServer, token: str = KEY, mapping=MAPPING, **config) -> LiteLLMApi:
    return LiteLLMApi(LiteLLMApiConfig(url=server.url, **config), mapping, token=token, sleep=lambda s: None)


def read_all(source: LiteLLMApi, window: Window = WINDOW) -> pl.DataFrame:
    frames = list(source.read(window))
    return pl.concat(frames) if frames else pl.DataFrame()


@pytest.fixture(scope="module")
def busy_day():
    """25,300 requests started (every 3.4 s) and finished on DAY: more than the 10,000 count cap."""
    start = np.datetime64("2026-10-28T00:00:01", "ms") + np.arange(25_300) * np.timedelta64(3400, "ms")
    frame = requests_frame(start, start + np.timedelta64(1500, "ms"))
    with LiteLLMApiServer(spend_logs(frame), KEY) as server:
        yield server


def test_pages_past_the_count_cap_until_a_short_page(busy_day):
    busy_day.requests.clear()
    out = read_all(api(busy_day, batch_rows=7_000))
    assert out.height == out["request_id"].n_unique() == 25_300
    assert out["_row"].to_list() == list(range(1, 25_301))
    assert out["_problem_field"].null_count() == out.height
    assert [q["page"] for q in busy_day.requests] == [str(p) for p in range(1, 27)]  # 25 full pages, then 300 rows
    assert {q["page_size"] for q in busy_day.requests} == {"1000"}
    page1 = orjson.loads(httpx.get(busy_day.url + "/spend/logs/v2", headers={"Authorization": f"Bearer {KEY}"},
                                   params=busy_day.requests[0]).content)
    assert (page1["total"], page1["total_pages"], page1["total_is_capped"], len(page1["data"])) == (10_000, 10, True, 1000)
    assert out["_origin"][0] == "/spend/logs/v2 page=1 #1 request_id=req-025299"  # newest first


def test_the_window_is_widened_by_the_lookback_and_filtered_on_end_time():
    ws = at("2026-10-28 00:00:00.500")
    window = Window(DAY, ws, ws + timedelta(days=1))
    rows = {  # id: (received, finished)
        "before-start": ("2026-10-27 23:59:50", "2026-10-28 00:00:00.499"),
        "at-start": ("2026-10-27 23:59:50", "2026-10-28 00:00:00.500"),
        "last-ms": ("2026-10-29 00:00:00", "2026-10-29 00:00:00.499"),
        "at-end": ("2026-10-29 00:00:00", "2026-10-29 00:00:00.500"),
        "long-inside-bound": ("2026-10-27 23:00:00.500", "2026-10-28 00:30:00"),
        "long-past-bound": ("2026-10-27 23:00:00.499", "2026-10-28 00:30:00"),  # served (same second), dropped
        "long-before-dates": ("2026-10-27 22:59:59.999", "2026-10-28 00:30:00"),  # never served
    }
    frame = requests_frame([at(r) for r, _ in rows.values()], [at(f) for _, f in rows.values()], list(rows))
    with LiteLLMApiServer(spend_logs(frame), KEY) as server:
        out = read_all(api(server, max_request_s=3600), window)
        assert [(q["start_date"], q["end_date"]) for q in server.requests] == [("2026-10-27 23:00:00",
                                                                                 "2026-10-29 00:00:01")]
    assert sorted(out["request_id"]) == ["at-start", "last-ms", "long-inside-bound"]
    assert out.filter(pl.col("request_id") == "last-ms").select("received_at", "finished_at").row(0) == (
        at("2026-10-29 00:00:00"), at("2026-10-29 00:00:00.499"))


def test_a_page_size_over_the_limit_is_refused_in_config_and_named_in_one_line_by_the_server(busy_day):
    with pytest.raises(pydantic.ValidationError, match="less than or equal to 1000"):
        LiteLLMApiConfig(url=busy_day.url, page_size=1001)
    config = LiteLLMApiConfig.model_construct(**{**LiteLLMApiConfig(url=busy_day.url).model_dump(), "page_size": 1001})
    with pytest.raises(SourceProtocolError) as caught:
        list(LiteLLMApi(config, MAPPING, token=KEY).read(WINDOW))
    assert str(caught.value) == ("LiteLLM API refused the query (422: query.page_size: Input should be less than or "
                                 "equal to 1000) for /spend/logs/v2 (endTime in [2026-10-28T00:00:00Z, "
                                 "2026-10-29T00:00:00Z))")
    raw = httpx.get(busy_day.url + "/spend/logs/v2", headers={"Authorization": f"Bearer {KEY}"},
                    params={"start_date": "2026-10-28", "end_date": "2026-10-29", "page_size": "1001"})
    assert (raw.status_code, raw.json()) == (422, {"detail": [{"type": "less_than_equal", "loc": ["query", "page_size"],
                                                                "msg": "Input should be less than or equal to 1000"}]})


def test_a_refused_key_fails_at_once_in_one_line_without_the_key(busy_day):
    with pytest.raises(SourceAuthError) as caught:
        list(api(busy_day, token="sk-wrong-key").read(WINDOW))
    text = str(caught.value)
    assert text == ("LiteLLM API refused the key (401: Authentication Error, Invalid proxy server token passed.) for "
                    "/spend/logs/v2 (endTime in [2026-10-28T00:00:00Z, 2026-10-29T00:00:00Z)) — check $LITELLM_API_KEY")
    assert "sk-wrong-key" not in text
    assert httpx.get(busy_day.url + "/spend/logs/v2").status_code == 401


def test_the_server_refuses_dates_as_litellm_does(busy_day):
    get = lambda **q: httpx.get(busy_day.url + "/spend/logs/v2", headers={"Authorization": f"Bearer {KEY}"}, params=q)
    missing = get(start_date="2026-10-28 00:00:00")
    assert (missing.status_code, missing.json()["error"]["message"]) == (400, "Start date and end date are required")
    zoned = get(start_date="2026-10-28T00:00:00Z", end_date="2026-10-29 00:00:00")
    assert (zoned.status_code, zoned.json()["error"]) == (400, {
        "message": "Invalid date format: 2026-10-28T00:00:00Z. Expected: 'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM:SS'",
        "type": "bad_request", "param": None, "code": "400"})


def test_timestamps_are_served_as_prisma_sends_them_and_read_back():
    frame = requests_frame([at("2026-10-28 10:00:00"), at("2026-10-28 11:00:00.125")],
                           [at("2026-10-28 10:00:02"), at("2026-10-28 11:00:02.5")], ["whole", "fraction"])
    with LiteLLMApiServer(spend_logs(frame), KEY) as server:
        page = httpx.get(server.url + "/spend/logs/v2", headers={"Authorization": f"Bearer {KEY}"},
                         params={"start_date": "2026-10-28", "end_date": "2026-10-29"}).json()
        out = read_all(api(server)).sort("request_id")
    assert [(r["startTime"], r["endTime"]) for r in page["data"]] == [
        ("2026-10-28T11:00:00.125+00:00", "2026-10-28T11:00:02.500+00:00"),
        ("2026-10-28T10:00:00+00:00", "2026-10-28T10:00:02+00:00")]
    assert out.select("request_id", "received_at", "finished_at").rows() == [
        ("fraction", at("2026-10-28 11:00:00.125"), at("2026-10-28 11:00:02.5")),
        ("whole", at("2026-10-28 10:00:00"), at("2026-10-28 10:00:02"))]


def test_a_demo_day_equals_the_fleets_requests_with_metadata_as_object_or_as_text():
    fleet = simulate_fleet(start=date(2026, 10, 27), days=3, requests_per_day=4_000)
    entries = wire.resource_map(fleet)
    mapping = SpendLogMapping(ResourceMap(entries), wire.models_map(fleet))
    window = Window.for_day(DAY, timedelta(minutes=15))
    ms = [pl.col(c).dt.truncate("1ms") for c in ("received_at", "first_token_at", "finished_at")]
    expected = (wire.fleet_requests(fleet).with_columns(ms)
                .filter((pl.col("finished_at") >= window.start) & (pl.col("finished_at") < window.end))
                .with_columns(pl.when(pl.col("first_token_at") != pl.col("finished_at")).then(pl.col("first_token_at"))
                              .alias("first_token_at"),
                              pl.col("error").replace_strict({k: v[1] for k, v in wire.ERROR_INFO.items()}, default=None)))
    columns = list(expected.columns)
    for as_text in (False, True):
        with LiteLLMApiServer(wire.spend_log_rows(fleet, entries), KEY, metadata_as_text=as_text) as server:
            out = read_all(api(server, mapping=mapping, page_size=500), window)
        assert out["_problem_field"].null_count() == out.height
        assert out.height == expected.height > 3_000
        assert out.select(columns).sort("request_id").equals(expected.select(columns).sort("request_id"))
        assert sorted(out["status"].unique()) == [200, 500, 504]  # stream errors, a timed-out wake (unrouted)


def test_a_slow_read_is_retried_and_a_503_storm_gives_up_in_one_line(busy_day):
    slept: list[float] = []
    source = LiteLLMApi(LiteLLMApiConfig(url=busy_day.url, max_attempts=3), MAPPING, token=KEY, sleep=slept.append)
    busy_day.fail_next = [503, 503]
    assert read_all(source).height == 25_300
    assert len(slept) == 2
    busy_day.fail_next = [503, 503, 503]
    with pytest.raises(SourceUnavailable) as caught:
        list(source.read(WINDOW))
    assert str(caught.value) == (
        "LiteLLM API answered 503 (Spend logs took longer than 30s. Pick a shorter date range) (gave up after 3 "
        "attempts) for /spend/logs/v2 (endTime in [2026-10-28T00:00:00Z, 2026-10-29T00:00:00Z))")


def test_rows_lost_between_pages_under_the_cap_are_an_error_not_a_silent_loss():
    start = np.datetime64("2026-10-28T01:00:00", "ms") + np.arange(2_500) * np.timedelta64(10_000, "ms")
    frame = requests_frame(start, start + np.timedelta64(800, "ms"))
    with LiteLLMApiServer(spend_logs(frame), KEY) as server:
        assert read_all(api(server)).height == 2_500
        server.drift_after_first_page = 3
        with pytest.raises(SourceProtocolError, match="served 2,497 distinct rows where it counted 2,500"):
            read_all(api(server))


def test_an_empty_window_is_reported_not_failed(busy_day, caplog):
    empty = Window(date(2020, 1, 1), datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 1, 2, tzinfo=UTC))
    with caplog.at_level(logging.WARNING, logger="pipelines"):  # a CLI test in this process may have quietened it
        assert list(api(busy_day).read(empty)) == []
    assert "no requests with endTime in [2020-01-01T00:00:00Z, 2020-01-02T00:00:00Z)" in caplog.text


def test_probe_and_describe_never_show_the_key(busy_day):
    source = api(busy_day)
    assert source.describe() == f"GET {busy_day.url}/spend/logs/v2 (LiteLLM proxy)"
    assert source.probe() == f"GET {busy_day.url}/spend/logs/v2 (LiteLLM proxy): 0 requests started in the last hour"
    assert KEY not in source.probe() + source.describe() + repr(source)


def test_probe_counts_requests_started_in_the_last_hour():
    now = datetime.now(UTC).replace(microsecond=0)
    started = [now - timedelta(minutes=10), now - timedelta(minutes=30), now - timedelta(hours=2)]
    frame = requests_frame(started, [t + timedelta(seconds=2) for t in started])
    with LiteLLMApiServer(spend_logs(frame), KEY) as server:
        line = api(server).probe()
    newest = (now - timedelta(minutes=10) + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    assert line == f"GET {server.url}/spend/logs/v2 (LiteLLM proxy): 2 requests started in the last hour; newest endTime {newest}"


def test_the_contract_reference_fleet_is_the_same_fleet_truncated_to_milliseconds():
    fleet = simulate_fleet(start=date(2026, 10, 27), days=1, requests_per_day=2_000)
    truncated = wire.truncated_to_ms(fleet)
    instants = ("received_at", "first_token_at", "finished_at")
    expected = wire.fleet_requests(fleet, keep="all").with_columns(pl.col(c).dt.truncate("1ms") for c in instants)
    got = wire.fleet_requests(truncated, keep="all")
    assert got.height == len(fleet.requests) > 1_900  # re-delivered copies kept, as the contract API serves them
    assert got.sort("request_id", "finished_at").equals(expected.sort("request_id", "finished_at"))
    assert got.select((pl.col(c).dt.microsecond() % 1000 == 0).all() for c in instants).row(0) == (True, True, True)
    assert truncated.snapshots is fleet.snapshots and truncated.events is fleet.events and truncated.days == fleet.days
