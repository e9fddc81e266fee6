"""The fleet's engine counters as OpenMetrics (fixtures/wires/openmetrics.py), on a hand fleet.

One replica r1 serving model m: its engine is ready at 10:00:05 and hibernates at 10:02:10, so
it is scraped at 10:00:15 .. 10:02:00. Requests finish at 10:00:20 (7 tokens), exactly 10:00:30
(5 tokens, re-delivered once) and 10:01:10 (11 tokens); one more is never routed.
"""

from __future__ import annotations

from datetime import datetime, timezone

import polars as pl

from fixtures.rows import Fleet
from fixtures.wires.openmetrics import Restart, drop_rows, engine_counters, openmetrics, requests_before

UTC = timezone.utc


def at(hms: str) -> datetime:
    h, m, s = (int(x) for x in hms.split(":"))
    return datetime(2026, 10, 10, h, m, s, tzinfo=UTC)


def request(request_id: str, finished: str, tokens: int, resource: str | None = "r1") -> dict:
    return {"request_id": request_id, "received_at": "2026-10-10T10:00:01Z", "first_token_at": None,
            "finished_at": f"2026-10-10T{finished}Z", "model": "m", "tier": "t", "resource_id": resource,
            "status": 200, "error": None, "prompt_tokens": 1, "completion_tokens": tokens, "cached_tokens": 0,
            "api_key_id": None}


FLEET = Fleet.from_rows(
    snapshots=[],
    requests=[request("a", "10:00:20", 7), request("b", "10:00:30", 5), request("b", "10:00:30", 5),
              request("c", "10:01:10", 11), request("u", "10:01:20", 99, resource=None)],
    events=[{"at": "2026-10-10T10:00:05Z", "resource_id": "r1", "tier": "t", "event": "engine_ready"},
            {"at": "2026-10-10T10:02:10Z", "resource_id": "r1", "tier": "t", "event": "hibernated"}],
)
SCRAPES = ["10:00:15", "10:00:30", "10:00:45", "10:01:00", "10:01:15", "10:01:30", "10:01:45", "10:02:00"]


def counts(restarts=()) -> list[int]:
    samples = engine_counters(FLEET, at("10:00:00"), at("11:00:00"), restarts=restarts)
    assert samples["at"].to_list() == [at(s) for s in SCRAPES]
    assert set(samples["instance"]) == {"r1.fleet.internal:8000"} and set(samples["model_name"]) == {"m"}
    return samples["value"].to_list()


def test_a_scrape_counts_the_tokens_of_requests_finished_strictly_before_it():
    # the request that finished exactly at 10:00:30 is seen by the 10:00:45 scrape; copies count once
    assert counts() == [0, 7, 12, 12, 23, 23, 23, 23]


def test_a_restart_starts_the_counter_again_from_zero():
    assert counts([Restart("r1", at("10:01:00"))]) == [0, 7, 12, 0, 11, 11, 11, 11]


def test_openmetrics_text_is_what_promtool_reads():
    samples = engine_counters(FLEET, at("10:00:00"), at("10:00:31"))
    first, second = int(at("10:00:15").timestamp()), int(at("10:00:30").timestamp())
    series = 'vllm:generation_tokens_total{engine="0",instance="r1.fleet.internal:8000",model_name="m"}'
    assert openmetrics(samples) == (
        "# HELP vllm:generation_tokens Number of generation tokens processed.\n"
        "# TYPE vllm:generation_tokens counter\n"
        f"{series} 0 {first}\n{series} 7 {second}\n# EOF\n"
    )


def test_lost_rows_leave_the_logs_with_every_copy():
    logs, lost = drop_rows(FLEET, "r1", at("10:00:00"), 1.0)
    assert sorted(lost["request_id"]) == ["a", "b", "c"]
    assert lost["completion_tokens"].sum() == 23
    assert [r["request_id"] for r in requests_before(logs, at("11:00:00")).iter_rows(named=True)] == []
    assert len(logs.requests) == 1  # the unrouted request stays

    logs, lost = drop_rows(FLEET, "r1", at("10:00:00"), 0.34)
    assert lost.height == 1
    kept = set(requests_before(logs, at("11:00:00"))["request_id"])
    assert kept == {"a", "b", "c"} - set(lost["request_id"])
    assert pl.Series(lost["request_id"]).is_in(["a", "b", "c"]).all()
