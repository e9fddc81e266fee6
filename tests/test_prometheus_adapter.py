"""The prometheus adapter against a real Prometheus (Debian's 2.42) over hand-made counters.

Counters are scraped every 15 s from 10:00 UTC on 2026-03-02:
- a:8000 (gpu-a) counts 5 tokens a scrape, restarts at 11:30:00 (back to 0), then 2 a scrape;
- b:8000 (gpu-b) counts 1 a scrape and stops with a last sample at exactly 11:55:00;
- c:8000 (gpu-c) likewise, with a last sample at 11:54:45, 15 s earlier;
- f:8000 (gpu-f) sends one value that is not a whole number; x:9999 is in no map entry.
"""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import polars as pl
import pytest
from pydantic import ValidationError

from fixtures.wires.openmetrics import openmetrics
from pipelines.adapters.base import Window
from pipelines.adapters.prometheus import PrometheusAdapter, PrometheusConfig, step_grid, sub_ranges
from pipelines.config import ResourceMapEntry
from pipelines.sources.resource_map import ResourceMap


def MapEntry(source, source_id, resource_id):  # noqa: N802 - reads like the entry it builds
    return ResourceMapEntry(source=source, source_id=source_id, resource_id=resource_id)
from pipelines.client import SourceAuthError, SourceProtocolError
from pipelines.sources.frames import PROBLEM_FIELD, PROBLEM_REASON
from tests.servers.prometheus import prometheus_servers  # noqa: F401 - the session fixture

UTC = timezone.utc
DAY = date(2026, 3, 2)
TEN = datetime(2026, 3, 2, 10, tzinfo=UTC)
RESTART = TEN + timedelta(minutes=90)
WINDOW = Window(DAY, TEN, TEN + timedelta(hours=2, minutes=1))  # evaluations 10:00 .. 12:00
MAP = ResourceMap([MapEntry("prometheus", f"{name}:8000", f"gpu-{name}") for name in "abcf"])


def at(hh_mm_ss: str) -> datetime:
    h, m, s = (int(x) for x in hh_mm_ss.split(":"))
    return datetime(2026, 3, 2, h, m, s, tzinfo=UTC)


def scrapes(instance: str, first: datetime, last: datetime, tokens: int, base: int = 0) -> pl.DataFrame:
    n = int((last - first).total_seconds()) // 15 + 1
    return pl.DataFrame({
        "at": pl.datetime_range(first, last, timedelta(seconds=15), eager=True, time_zone="UTC"),
        "instance": [instance] * n, "model_name": ["m1"] * n, "engine": ["0"] * n,
        "value": [base + tokens * k for k in range(n)],
    }).with_columns(pl.col("at").dt.cast_time_unit("us"))


def hand_counters() -> str:
    samples = pl.concat([
        scrapes("a:8000", TEN, RESTART - timedelta(seconds=15), 5),
        scrapes("a:8000", RESTART, at("12:10:00"), 2),
        scrapes("b:8000", TEN, at("11:55:00"), 1),
        scrapes("c:8000", TEN, at("11:54:45"), 1),
        scrapes("x:9999", TEN, at("10:05:00"), 3),
    ])
    text = openmetrics(samples)
    fractional = 'vllm:generation_tokens_total{engine="0",instance="f:8000",model_name="m1"} 2.5 %d\n'
    return text.replace("# EOF\n", fractional % int(at("10:30:00").timestamp()) + "# EOF\n")


@pytest.fixture(scope="module")
def prometheus_url(prometheus_servers):  # noqa: F811
    return prometheus_servers(hand_counters()).url


def adapter(url: str, **options) -> PrometheusAdapter:
    max_points = options.pop("max_points", 11_000)
    return PrometheusAdapter(PrometheusConfig(adapter="prometheus", url=url, **options), MAP, max_points=max_points)


def read(url: str, window: Window = WINDOW, **options) -> tuple[pl.DataFrame, PrometheusAdapter]:
    source = adapter(url, **options)
    frames = list(source.read(window))
    return pl.concat(frames), source


def values(frame: pl.DataFrame, instance: str) -> dict[datetime, int]:
    rows = frame.filter(pl.col("instance") == instance).select("at", "value").iter_rows()
    return {when.astimezone(UTC): value for when, value in rows}


def test_raw_counter_values_at_hour_boundaries_and_the_reset(prometheus_url):
    frame, source = read(prometheus_url)
    a = values(frame, "a:8000")
    assert len(a) == 121  # one evaluation a minute, 10:00 .. 12:00 inclusive
    assert a[TEN] == 0
    assert a[at("11:00:00")] == 5 * 240
    assert a[at("11:29:00")] == 5 * 356  # the latest sample at or before the step
    assert a[at("11:30:00")] == 0  # the restart: the counter falls, nothing smooths it
    assert a[at("12:00:00")] == 2 * 120
    good = frame.filter(pl.col("instance") == "a:8000")
    assert good[PROBLEM_FIELD].null_count() == good.height
    assert set(good["resource_id"]) == {"gpu-a"}
    assert set(good["series"]) == {'engine="0",model_name="m1"'}
    assert source.last_read.queries == 1 and not source.last_read.empty


def test_five_minute_lookback_edge(prometheus_url):
    frame, _ = read(prometheus_url)
    b, c = values(frame, "b:8000"), values(frame, "c:8000")
    # b's last sample is exactly 5 minutes before 12:00: Prometheus 2.x still takes it ([t - 5m, t])
    assert b[at("12:00:00")] == 460
    # c's is 5 min 15 s before: no value at 12:00, so the hour 11:00-12:00 cannot be counted for c
    assert at("12:00:00") not in c
    assert c[at("11:59:00")] == 459
    assert max(c) == at("11:59:00")


def test_split_into_sub_ranges_reads_the_same_rows(prometheus_url):
    whole, _ = read(prometheus_url)
    pieces, source = read(prometheus_url, max_points=7)
    assert source.last_read.queries == 18  # 121 steps, 7 a query
    columns = ["at", "resource_id", "instance", "series", "value", PROBLEM_REASON]
    assert pieces.select(columns).sort(columns).equals(whole.select(columns).sort(columns))
    assert pieces["_row"].to_list() == list(range(1, pieces.height + 1))


def test_sub_ranges_never_overlap_and_stay_under_the_limit():
    assert sub_ranges(0, 600, 60, 4) == [(0, 180), (240, 420), (480, 600)]
    assert sub_ranges(0, 600, 60, 11) == [(0, 600)]
    first, last = step_grid(TEN - timedelta(seconds=1), TEN + timedelta(hours=1), 60)
    assert (first, last) == (int(TEN.timestamp()), int(TEN.timestamp()) + 3540)  # [start, end): 11:00 excluded
    week = sub_ranges(0, 7 * 86400 + 86400, 60, 11_000)
    assert all((b - a) // 60 + 1 <= 11_000 for a, b in week) and len(week) == 2


def test_unmapped_instance_is_quarantined_with_its_reason(prometheus_url):
    frame, _ = read(prometheus_url)
    x = frame.filter(pl.col("instance") == "x:9999")
    assert x.height == 11  # 10:00 .. 10:10: the last sample (10:05) answers for 5 more minutes
    assert set(x[PROBLEM_FIELD]) == {"instance"}
    assert x[PROBLEM_REASON][0] == "unmapped_resource: prometheus id x:9999 is not mapped at 2026-03-02T10:00:00Z"


def test_a_value_that_is_not_whole_tokens_is_rejected_not_rounded(prometheus_url):
    frame, source = read(prometheus_url)
    f = frame.filter(pl.col("instance") == "f:8000")
    assert f.height == 6  # 10:30 .. 10:35
    assert set(f[PROBLEM_FIELD]) == {"value"}
    assert set(f[PROBLEM_REASON]) == {"value 2.5 is not a whole number of tokens"}
    payload = source.payloads([f["_row"][0]])[f["_row"][0]]
    assert payload == ('{"metric":{"__name__":"vllm:generation_tokens_total","engine":"0","instance":"f:8000",'
                       '"model_name":"m1"},"value":[%d,"2.5"]}' % int(at("10:30:00").timestamp()))


def test_prometheus_error_shows_its_message_on_one_line(prometheus_url):
    source = adapter(prometheus_url, metric='vllm:generation_tokens_total{instance=~"("}')
    with pytest.raises(SourceProtocolError) as raised:
        list(source.read(WINDOW))
    text = str(raised.value)
    assert "\n" not in text
    assert text.startswith("prometheus (127.0.0.1:")
    assert "answered 400 (bad_data: " in text and "error parsing regexp: missing closing )" in text
    assert "/api/v1/query_range" in text


def test_an_empty_window_is_zero_rows_reported_not_an_error(prometheus_url):
    day = date(2026, 3, 9)
    frame, source = read(prometheus_url, Window.for_day(day, timedelta(minutes=15)))
    assert frame.height == 0
    assert source.last_read.empty and source.last_read.queries == 1
    assert source.last_read.summary("m") == (
        "prometheus: no samples of m in [2026-03-08T23:45:00Z, 2026-03-10T00:15:00Z): nothing to cross-check")


def test_probe_and_describe_name_the_server_not_a_secret(prometheus_url, monkeypatch):
    monkeypatch.setenv("PROM_TOKEN", "s3cret-token")
    source = adapter(prometheus_url, token_env="PROM_TOKEN")
    probe = source.probe()  # the hand counters are months old: none reported in the last hour
    assert probe == (f"{source.source} answers; no series of vllm:generation_tokens_total in the last hour: "
                     "the cross-check will have nothing to compare")
    assert "s3cret" not in source.describe() + probe
    assert source.describe().endswith("vllm:generation_tokens_total per instance, query_range every 60 s")


def test_a_refused_token_fails_at_once_naming_the_variable(monkeypatch):
    calls = []

    class Refuse(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            calls.append(self.headers.get("Authorization"))
            self.send_response(401)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("PROM_TOKEN", "wrong")
        source = adapter(f"http://127.0.0.1:{server.server_port}", token_env="PROM_TOKEN")
        with pytest.raises(SourceAuthError, match=r"refused the request \(401\) .* check PROM_TOKEN"):
            list(source.read(WINDOW))
    finally:
        server.shutdown()
        server.server_close()
    assert calls == ["Bearer wrong"]  # never retried


def test_config_refuses_what_would_publish_wrong_numbers(monkeypatch):
    with pytest.raises(ValidationError, match="does not divide 3600"):
        PrometheusConfig(adapter="prometheus", url="http://p:9090", step_s=7)
    with pytest.raises(ValidationError, match="not a plain series selector"):
        PrometheusConfig(adapter="prometheus", url="http://p:9090", metric="increase(vllm:generation_tokens_total[1h])")
    with pytest.raises(ValidationError, match="not a plain series selector"):
        PrometheusConfig(adapter="prometheus", url="http://p:9090", metric='vllm:x{job="a"} or vllm:y{job="b"}')
    assert PrometheusConfig(adapter="prometheus", url="http://p:9090",
                            metric='vllm:generation_tokens_total{job="vllm",pod=~"a}b"}').metric
    monkeypatch.delenv("NO_SUCH_TOKEN", raising=False)
    with pytest.raises(ValueError, match="crosscheck.token_env: the environment variable NO_SUCH_TOKEN is not set"):
        adapter("http://p:9090", token_env="NO_SUCH_TOKEN")
