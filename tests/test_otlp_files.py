"""Adapter `otlp_files`: vLLM `llm_request` spans in the collector's OTLP/JSON lines, read into
canonical request rows (DESIGN.md "Field mapping, vLLM spans", "Pinned details → Spans").

Lines are written by hand here, shaped as the file exporter writes them; every expected value
is worked out from the line above it."""

from __future__ import annotations

import json
import os
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

from pipelines.adapters.base import Window
from pipelines.adapters.otlp_files import OtlpFilesAdapter, OtlpFilesConfig
from pipelines.sources.resource_map import ResourceMap
from pipelines.client import SourceError

DAY = date(2026, 10, 27)
WINDOW = Window.for_day(DAY, timedelta(minutes=15))
T0 = datetime(2026, 10, 27, 10, 0, tzinfo=timezone.utc)  # 10:00:00Z
T0_NS = int(T0.timestamp()) * 10**9
REPLICA, MODEL = "service.instance.id", "vllm.served_model_name"
MAP = [{"source": "otel", "source_id": "10.0.4.17:8000", "resource_id": "gpu-a-h100x2", "tier": "h100-class"}]
CANONICAL = ["request_id", "received_at", "first_token_at", "finished_at", "model", "tier", "resource_id", "status",
             "error", "prompt_tokens", "completion_tokens", "cached_tokens", "api_key_id"]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def value(v) -> dict:
    if isinstance(v, dict):
        return v  # already an AnyValue, e.g. {"intValue": 12} (a number) or {"intValue": "12"}
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, float):
        return {"doubleValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}  # the collector writes int64 as a decimal string
    return {"stringValue": v}


def span(span_id: str, request_id: str | None, start_s: float, end_s: float, *, name: str = "llm_request",
         status: dict | None = None, nanos_as_numbers: bool = False, **attributes) -> dict:
    start, end = T0_NS + round(start_s * 1e9), T0_NS + round(end_s * 1e9)
    attrs = {"gen_ai.request.id": request_id, **{k.replace("__", "."): v for k, v in attributes.items()}}
    return {
        "traceId": "5b8efff798038103d269b633813fc60c", "spanId": span_id, "parentSpanId": "eee19b7ec3c1b173",
        "name": name, "kind": 2, "flags": 256,
        "startTimeUnixNano": start if nanos_as_numbers else str(start),
        "endTimeUnixNano": end if nanos_as_numbers else str(end),
        "attributes": [{"key": k, "value": value(v)} for k, v in attrs.items() if v is not None],
        "status": status or {},
    }


def vllm(**extra) -> dict:
    """The attributes vLLM's do_tracing sets, with its spellings, as keyword arguments."""
    return {"gen_ai__latency__time_to_first_token": 0.25, "gen_ai__latency__e2e": 2.5,
            "gen_ai__usage__prompt_tokens": 30, "gen_ai__usage__completion_tokens": 12,
            "gen_ai__response__finish_reasons": '["stop"]', **extra}


def line(*spans: dict, replica: str | None = "10.0.4.17:8000", model: str | None = "llama-3.1-70b-instruct-awq",
         legacy: bool = False) -> str:
    attrs = [{"key": "service.name", "value": {"stringValue": "vllm"}}]
    attrs += [{"key": REPLICA, "value": {"stringValue": replica}}] if replica is not None else []
    attrs += [{"key": MODEL, "value": {"stringValue": model}}] if model is not None else []
    scope = {"scope": {"name": "vllm.tracing.otel"}, "spans": list(spans)}
    level = "instrumentationLibrarySpans" if legacy else "scopeSpans"
    return json.dumps({"resourceSpans": [{"resource": {"attributes": attrs}, level: [scope]}]}, separators=(",", ":"))


def write(path: Path, *lines: str, newline_at_end: bool = True, modified: datetime | None = None) -> Path:
    path.write_text("\n".join(lines) + ("\n" if newline_at_end else ""))
    stamp = (modified or at(3600)).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def adapter(path: Path | str, *, resource_map=MAP, models=None, **config) -> OtlpFilesAdapter:
    cfg = OtlpFilesConfig(adapter="otlp_files", path=str(path), resource_attribute=REPLICA, model_attribute=MODEL,
                          **config)
    return OtlpFilesAdapter(cfg, resource_map=ResourceMap(resource_map), models=models or {})


def read(path: Path | str, window: Window = WINDOW, **kwargs) -> pl.DataFrame:
    return pl.concat(list(adapter(path, **kwargs).read(window)))


def rows(frame: pl.DataFrame, *columns: str) -> list[dict]:
    return frame.select(columns or CANONICAL).to_dicts()


def test_a_vllm_span_becomes_one_canonical_row(tmp_path):
    f = write(tmp_path / "traces.json", line(span("00f067aa0ba902b7", "chatcmpl-1", 0.0, 2.5, **vllm())))
    frame = read(f)
    assert rows(frame) == [{
        "request_id": "chatcmpl-1/00f067aa0ba902b7", "received_at": at(0), "first_token_at": at(0.25),
        "finished_at": at(2.5), "model": "llama-3.1-70b-instruct-awq", "tier": "h100-class",
        "resource_id": "gpu-a-h100x2", "status": 200, "error": None, "prompt_tokens": 30, "completion_tokens": 12,
        "cached_tokens": 0, "api_key_id": None,
    }]
    assert rows(frame, "_row", "_origin", "_problem_field", "_problem_reason", "_payload") == [
        {"_row": 1, "_origin": f"{f} line 1", "_problem_field": None, "_problem_reason": None, "_payload": None}]


def test_an_error_status_is_a_500_with_its_message_and_no_token_means_no_first_token(tmp_path):
    failed = span("00000000000000e1", "chatcmpl-2", 0.0, 1.0, status={"code": 2, "message": "stream_error"},
                  **vllm(gen_ai__usage__completion_tokens=0, gen_ai__latency__time_to_first_token=0.0))
    frame = read(write(tmp_path / "traces.json", line(failed)))
    assert rows(frame, "status", "error", "completion_tokens", "first_token_at") == [
        {"status": 500, "error": "stream_error", "completion_tokens": 0, "first_token_at": None}]


def test_both_token_spellings_are_read_and_equal_copies_agree(tmp_path):
    newer = {"gen_ai__usage__input_tokens": 7, "gen_ai__usage__output_tokens": 5}
    both = {"gen_ai__usage__prompt_tokens": 9, "gen_ai__usage__input_tokens": 9,
            "gen_ai__usage__completion_tokens": 4, "gen_ai__usage__output_tokens": 4}
    f = write(tmp_path / "traces.json", line(span("00000000000000a1", "r-new", 0, 1, **newer),
                                             span("00000000000000a2", "r-both", 0, 2, **both)))
    assert rows(read(f), "request_id", "prompt_tokens", "completion_tokens", "_problem_reason") == [
        {"request_id": "r-new/00000000000000a1", "prompt_tokens": 7, "completion_tokens": 5, "_problem_reason": None},
        {"request_id": "r-both/00000000000000a2", "prompt_tokens": 9, "completion_tokens": 4, "_problem_reason": None},
    ]


def test_both_token_spellings_that_differ_are_rejected_as_conflicting(tmp_path):
    differ = {"gen_ai__usage__prompt_tokens": 9, "gen_ai__usage__completion_tokens": 12,
              "gen_ai__usage__output_tokens": 13}
    s = span("00000000000000b1", "r-x", 0, 1, **differ)
    frame = read(write(tmp_path / "traces.json", line(s)))
    assert rows(frame, "_problem_field", "_problem_reason") == [{
        "_problem_field": "completion_tokens",
        "_problem_reason": "conflicting: gen_ai.usage.completion_tokens 12 and gen_ai.usage.output_tokens 13 differ",
    }]
    assert json.loads(frame["_payload"][0]) == s  # the span as the line held it


def test_int64_reads_the_same_as_a_string_or_a_number(tmp_path):
    as_strings = span("00000000000000c1", "r-s", 1.5, 4.0, gen_ai__usage__prompt_tokens={"intValue": "21"},
                      gen_ai__usage__completion_tokens={"intValue": "34"})
    as_numbers = span("00000000000000c2", "r-n", 1.5, 4.0, nanos_as_numbers=True,
                      gen_ai__usage__prompt_tokens={"intValue": 21}, gen_ai__usage__completion_tokens={"intValue": 34})
    frame = read(write(tmp_path / "traces.json", line(as_strings, as_numbers)))
    assert rows(frame, "received_at", "finished_at", "prompt_tokens", "completion_tokens", "_problem_reason") == [
        {"received_at": at(1.5), "finished_at": at(4.0), "prompt_tokens": 21, "completion_tokens": 34,
         "_problem_reason": None}] * 2


def test_spans_of_other_names_are_ignored(tmp_path):
    f = write(tmp_path / "traces.json", line(
        span("00000000000000d1", None, 0, 9, name="vllm.scheduler.step"),
        span("00000000000000d2", "r-1", 0, 1, **vllm()),
        span("00000000000000d3", None, 0, 1, name="POST /v1/chat/completions"),
    ))
    assert rows(read(f), "request_id", "_row") == [{"request_id": "r-1/00000000000000d2", "_row": 1}]


def test_legacy_instrumentation_library_spans_are_read(tmp_path):
    f = write(tmp_path / "traces.json", line(span("00000000000000f1", "r-old", 0, 1, **vllm()), legacy=True))
    assert rows(read(f), "request_id", "completion_tokens") == [
        {"request_id": "r-old/00000000000000f1", "completion_tokens": 12}]


def test_bad_lines_are_quarantined_with_file_and_line_and_the_other_lines_land(tmp_path):
    good_1 = line(span("0000000000000011", "r-1", 0, 1, **vllm()))
    good_2 = line(span("0000000000000012", "r-2", 2, 3, **vllm()))
    not_json = "this is not json"
    metrics = '{"resourceMetrics":[]}'
    wrong_shape = ('{"resourceSpans":[{"scopeSpans":[{"spans":{"name":"llm_request",'
                   '"endTimeUnixNano":"1793095203000000000"}}]}]}')
    truncated = good_2[:57]
    f = write(tmp_path / "traces.json", good_1, not_json, "", metrics, good_2, wrong_shape, truncated,
              newline_at_end=False)
    frame = read(f)
    assert rows(frame, "_row", "_origin", "request_id", "_problem_field", "_problem_reason", "_payload") == [
        {"_row": 1, "_origin": f"{f} line 1", "request_id": "r-1/0000000000000011", "_problem_field": None,
         "_problem_reason": None, "_payload": None},
        {"_row": 2, "_origin": f"{f} line 2", "request_id": None, "_problem_field": "line",
         "_problem_reason": "malformed_line: not valid JSON", "_payload": not_json},
        {"_row": 3, "_origin": f"{f} line 4", "request_id": None, "_problem_field": "line",
         "_problem_reason": "malformed_line: not an OTLP ExportTraceServiceRequest (no resourceSpans array)",
         "_payload": metrics},
        {"_row": 4, "_origin": f"{f} line 5", "request_id": "r-2/0000000000000012", "_problem_field": None,
         "_problem_reason": None, "_payload": None},
        {"_row": 5, "_origin": f"{f} line 6", "request_id": None, "_problem_field": "line",
         "_problem_reason": "malformed_line: some spans are not shaped as OTLP spans", "_payload": wrong_shape},
        {"_row": 6, "_origin": f"{f} line 7", "request_id": None, "_problem_field": "line",
         "_problem_reason": "malformed_line: not valid JSON", "_payload": truncated},
    ]


def test_a_glob_reads_rotated_files_oldest_first_and_a_span_exported_twice_is_two_equal_rows(tmp_path):
    again = span("00000000000000aa", "r-2", 5, 6, **vllm())
    write(tmp_path / "traces-2026-10-27T10-00-07.500.json", line(span("0000000000000001", "r-1", 0, 1, **vllm())),
          line(again), modified=at(7.5))
    write(tmp_path / "traces.json", line(again), line(span("0000000000000003", "r-3", 8, 9, **vllm())),
          modified=at(10))
    write(tmp_path / "other.log", "not a span file")
    frame = read(tmp_path / "traces*.json")
    rotated, current = tmp_path / "traces-2026-10-27T10-00-07.500.json", tmp_path / "traces.json"
    assert rows(frame, "_row", "_origin", "request_id") == [
        {"_row": 1, "_origin": f"{rotated} line 1", "request_id": "r-1/0000000000000001"},
        {"_row": 2, "_origin": f"{rotated} line 2", "request_id": "r-2/00000000000000aa"},
        {"_row": 3, "_origin": f"{current} line 1", "request_id": "r-2/00000000000000aa"},
        {"_row": 4, "_origin": f"{current} line 2", "request_id": "r-3/0000000000000003"},
    ]
    copies = frame.filter(pl.col("request_id") == "r-2/00000000000000aa").select(CANONICAL)
    assert copies.height == 2 and copies.n_unique() == 1  # landing collapses identical copies (rule 9)


def test_different_spans_sharing_a_request_id_are_different_requests(tmp_path):
    f = write(tmp_path / "traces.json", line(span("00000000000000b1", "same", 0, 1, **vllm()),
                                             span("00000000000000B2", "same", 0, 1, **vllm())))
    assert frame_ids(read(f)) == ["same/00000000000000b1", "same/00000000000000b2"]  # hex is case-insensitive


def frame_ids(frame: pl.DataFrame) -> list[str]:
    return frame["request_id"].to_list()


def test_a_missing_or_unmapped_replica_is_unmapped_resource_and_a_missing_model_is_missing_model(tmp_path):
    f = write(tmp_path / "traces.json",
              line(span("0000000000000021", "r-1", 0, 1, **vllm()), replica=None),
              line(span("0000000000000022", "r-2", 0, 1, **vllm()), replica="10.0.4.99:8000"),
              line(span("0000000000000023", "r-3", 0, 1, **vllm()), model=None))
    frame = read(f)
    assert rows(frame, "request_id", "resource_id", "_problem_field") == [
        {"request_id": "r-1/0000000000000021", "resource_id": None, "_problem_field": "resource_id"},
        {"request_id": "r-2/0000000000000022", "resource_id": None, "_problem_field": "resource_id"},
        {"request_id": "r-3/0000000000000023", "resource_id": "gpu-a-h100x2", "_problem_field": "model"},
    ]
    missing, unmapped, no_model = frame["_problem_reason"].to_list()
    assert missing == "unmapped_resource: the span's resource has no attribute service.instance.id"
    assert unmapped.startswith("unmapped_resource: ") and "10.0.4.99:8000" in unmapped  # the resource map's words
    assert no_model == "missing_model: the span's resource has no attribute vllm.served_model_name"


def test_tier_is_the_map_entry_s_then_the_model_s_then_unknown(tmp_path):
    mapped_without_tier = [{"source": "otel", "source_id": "10.0.4.17:8000", "resource_id": "gpu-a-h100x2"}]
    f = write(tmp_path / "traces.json", line(span("0000000000000031", "r-1", 0, 1, **vllm())),
              line(span("0000000000000032", "r-2", 0, 1, **vllm()), model="qwen2.5-72b-instruct-awq"))
    frame = read(f, resource_map=mapped_without_tier, models={"llama-3.1-70b-instruct-awq": "h100-class"})
    assert frame["tier"].to_list() == ["h100-class", "unknown"]
    assert read(f)["tier"].to_list() == ["h100-class", "h100-class"]  # the map entry's tier


def test_the_window_selects_spans_on_their_end_at_the_exact_edges(tmp_path):
    window = Window(DAY, at(10), at(20))
    f = write(tmp_path / "traces.json", line(
        span("0000000000000041", "ends-before", 0, 9.999999, **vllm()),
        span("0000000000000042", "ends-at-start", 0, 10, **vllm()),
        span("0000000000000043", "ends-inside", 15, 19.999999, **vllm()),
        span("0000000000000044", "ends-at-end", 15, 20, **vllm()),
        span("0000000000000045", "starts-before", 5, 12, **vllm()),
    ))
    assert [r.split("/")[0] for r in frame_ids(read(f, window))] == ["ends-at-start", "ends-inside", "starts-before"]


def test_a_malformed_line_is_read_only_by_the_day_of_the_spans_beside_it(tmp_path):
    late = span("0000000000000051", "late", 13 * 3600 + 3500, 13 * 3600 + 3599.5, **vllm())  # ends 23:59:59.5Z
    early = span("0000000000000052", "early", 14 * 3600 + 1, 14 * 3600 + 2, **vllm())  # 2026-10-28T00:00:02Z
    f = write(tmp_path / "traces.json", line(late), "garbage", line(early), modified=at(15 * 3600))
    today = read(f, Window.for_day(DAY, timedelta(minutes=15)))
    tomorrow = read(f, Window.for_day(DAY + timedelta(days=1), timedelta(minutes=15)))
    assert rows(today, "_origin", "request_id") == [
        {"_origin": f"{f} line 1", "request_id": "late/0000000000000051"},
        {"_origin": f"{f} line 2", "request_id": None},
        {"_origin": f"{f} line 3", "request_id": "early/0000000000000052"},
    ]
    assert rows(tomorrow, "_origin") == [{"_origin": f"{f} line 1"}, {"_origin": f"{f} line 3"}]


def test_a_file_last_written_before_the_window_is_skipped_unless_told_not_to(tmp_path):
    f = write(tmp_path / "traces.json", line(span("0000000000000061", "r-1", 0, 1, **vllm())),
              modified=WINDOW.start - timedelta(minutes=61))
    assert read(f).height == 0
    assert read(f, skip_stale_files=False).height == 1
    assert read(f, mtime_slack_minutes=62).height == 1
    os.utime(f, ((WINDOW.start - timedelta(minutes=59)).timestamp(),) * 2)
    assert read(f).height == 1


def test_payloads_give_each_row_s_wire_text_from_its_file(tmp_path):
    s = span("0000000000000071", "r-1", 0, 1, **vllm())
    f = write(tmp_path / "traces.json", line(s), "garbage")
    a = adapter(f)
    frame = pl.concat(list(a.read(WINDOW)))
    assert frame["_row"].to_list() == [1, 2]
    texts = a.payloads([1, 2])
    assert json.loads(texts[1]) == s and texts[2] == "garbage"


def test_probe_counts_files_lines_spans_and_the_newest_span_end(tmp_path):
    write(tmp_path / "traces-2026-10-27T09-00-00.000.json", line(span("01", "r", 0, 1, **vllm())), modified=at(-3600))
    write(tmp_path / "traces.json", line(span("0000000000000081", "r-1", 0, 1, **vllm()),
                                         span("0000000000000082", "r-2", 0, 61.9, **vllm())), "garbage")
    assert adapter(tmp_path / "traces*.json").probe() == (
        f"2 file(s) match {tmp_path}/traces*.json; newest traces.json: 2 line(s) (1 malformed), "
        "2 llm_request span(s), newest span end 2026-10-27T10:01:01Z")


def test_no_file_or_a_binary_file_is_a_one_line_source_error(tmp_path):
    with pytest.raises(SourceError, match=r"^otlp_files found no span files for .*nothing\*\.json"):
        list(adapter(tmp_path / "nothing*.json").read(WINDOW))
    (tmp_path / "traces.json").write_bytes(b"\x00\x00\x01\x2a\x28\xb5\x2f\xfd")
    with pytest.raises(SourceError, match="cannot read a binary span file .* without `compression`"):
        list(adapter(tmp_path / "traces.json").read(WINDOW))


def test_a_value_that_does_not_parse_names_its_attribute(tmp_path):
    bad = span("0000000000000091", "r-1", 0, 1, **vllm(gen_ai__usage__completion_tokens=1.5))
    frame = read(write(tmp_path / "traces.json", line(bad)))
    assert rows(frame, "_problem_field", "_problem_reason") == [{
        "_problem_field": "completion_tokens",
        "_problem_reason": "gen_ai.usage.completion_tokens 1.5 is not an integer",
    }]


# -- the bundled fleet, written by fixtures/wires/otlp.py and read back ------------------------
@pytest.mark.slow
def test_the_fleet_s_spans_read_back_as_its_routed_requests_for_one_day(tmp_path):
    """Frame-level equivalence on 2026-10-28 (a spot interruption: requests cut off with 500s):
    every column the marts use equals the fleet's own routed requests, request_id aside."""
    import io

    from fixtures.fleet import load_fleet
    from fixtures.wires.otlp import MODEL_ATTRIBUTE, RESOURCE_ATTRIBUTE, resource_map_entries, write_otlp_files
    from pipelines.sources.registry import REQUESTS

    assert (RESOURCE_ATTRIBUTE, MODEL_ATTRIBUTE) == (REPLICA, MODEL)  # adapter() reads what the writer sets
    fleet = load_fleet(seed=7, days=7, requests_per_day=30_000)  # the demo fleet at a seventh of its volume
    window = Window.for_day(date(2026, 10, 28), timedelta(minutes=15))
    wide = (window.start - timedelta(hours=1), window.end + timedelta(hours=1))  # files hold more than the window
    written = write_otlp_files(fleet, tmp_path / "otel", start=wide[0], end=wide[1], max_megabytes=8)
    text = [p.read_text() for p in written.files]
    assert len(written.files) >= 3 and written.files[-1].name == "traces.json"
    assert any('"intValue":"' in t for t in text) and any('"intValue":1' in t for t in text)  # both int64 forms
    assert any("gen_ai.usage.output_tokens" in t for t in text) and any("gen_ai.usage.completion_tokens" in t
                                                                        for t in text)
    del text

    schema = {**REQUESTS.polars_schema(), **dict.fromkeys(("received_at", "first_token_at", "finished_at"), pl.String)}
    rows_json = fleet.requests.frame().filter((pl.col("at") >= wide[0]) & (pl.col("at") < wide[1]))["json"]
    every = pl.read_ndjson(io.BytesIO(rows_json.str.join("\n").cast(pl.Binary)[0]), schema=schema).with_columns(
        pl.col(c).str.to_datetime(time_unit="us", time_zone="UTC") for c in ("received_at", "first_token_at",
                                                                                 "finished_at"))
    assert written.unrouted_skipped == every.filter(pl.col("resource_id").is_null()).height > 0
    expected = every.filter(pl.col("resource_id").is_not_null() & (pl.col("finished_at") >= window.start)
                            & (pl.col("finished_at") < window.end)).unique("request_id")

    got = pl.concat(list(adapter(tmp_path / "otel" / "traces*.json", resource_map=resource_map_entries(fleet))
                         .read(window)))
    assert got["_problem_reason"].null_count() == got.height
    assert got.select(CANONICAL).unique().height == expected.height  # re-exported spans collapse on landing
    assert got.select(pl.col("cached_tokens").max(), pl.col("api_key_id").null_count()).row(0) == (0, got.height)

    marts_use = ["received_at", "first_token_at", "finished_at", "model", "tier", "resource_id", "status", "error",
                 "prompt_tokens", "completion_tokens"]
    got = got.with_columns(pl.col("request_id").str.split("/").list.first()).unique("request_id")
    pairs = expected.select("request_id", *marts_use).join(got.select("request_id", *marts_use), on="request_id",
                                                           how="full", suffix="_otlp", coalesce=True)
    assert pairs.height == expected.height == got.height
    for column in marts_use:
        differ = pairs.filter(~pl.col(column).eq_missing(pl.col(f"{column}_otlp")))
        assert differ.is_empty(), f"{column}: {differ.head(3).to_dicts()}"
    assert set(expected["status"].unique()) == {200, 500}  # errored spans round-trip too


def test_the_config_section_requires_both_attributes_and_refuses_unknown_keys():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="model_attribute"):
        OtlpFilesConfig.model_validate({"adapter": "otlp_files", "path": "/x", "resource_attribute": "host.name"})
    with pytest.raises(ValidationError, match="model_field"):
        OtlpFilesConfig.model_validate({"adapter": "otlp_files", "path": "/x", "resource_attribute": "a",
                                        "model_attribute": "b", "model_field": "model"})
