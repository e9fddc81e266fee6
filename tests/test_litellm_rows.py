"""The shared LiteLLM spend-log transform (pipelines/adapters/litellm_rows.py): hand-built rows in,
exact canonical rows out, for both wires (typed as the PostgreSQL driver hands them, text as the
API does). DESIGN.md "Field mapping, LiteLLM" and "Pinned details → LiteLLM"."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import orjson
import polars as pl
import pytest

from pipelines.adapters.base import Window
from pipelines.adapters.litellm_rows import WIRE_COLUMNS, WIRE_TEXT, SpendLogMapping, to_requests
from pipelines.config import ResourceMapEntry
from pipelines.sources.resource_map import ResourceMap


def MapEntry(source, source_id, resource_id, tier=None):  # noqa: N802 - reads like the entry it builds
    return ResourceMapEntry(source=source, source_id=source_id, resource_id=resource_id, tier=tier)

UTC = timezone.utc
WINDOW = Window.for_day(date(2026, 10, 28), timedelta(minutes=15))
A17, A18, A19 = "http://10.0.4.17:8000/v1", "http://10.0.4.18:8000/v1", "http://10.0.4.19:8000/v1"
MAPPING = SpendLogMapping(
    ResourceMap([
        MapEntry("litellm", A17, "gpu-a-h100x2", "h100-class"),
        MapEntry("litellm", A18, "gpu-b-h100x1"),  # no tier in the map: [models] decides
        MapEntry("litellm", A19, "gpu-c-l40s"),  # no tier, and its model is not in [models]
        MapEntry("otel", A17, "not-this-one", "wrong-tier"),  # another source's id never matches
    ]),
    models={"llama-3.1-70b-instruct-awq": "h100-class", "qwen2.5-32b-instruct-awq": "h100-ondemand"},
)
TYPED = {"startTime": pl.Datetime("ms"), "endTime": pl.Datetime("ms"), "completionStartTime": pl.Datetime("ms"),
         "prompt_tokens": pl.Int32, "completion_tokens": pl.Int32, "cached_tokens": pl.Int64}


def naive(text: str) -> datetime:
    return datetime.fromisoformat(f"2026-10-28T{text}")


def utc(text: str) -> datetime:
    return naive(text).replace(tzinfo=UTC)


def row(**over) -> dict:
    base = {"request_id": "chatcmpl-1", "api_key": "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589",
            "startTime": naive("10:00:00.125"), "endTime": naive("10:00:04.250"),
            "completionStartTime": naive("10:00:00.500"), "model": "hosted_vllm/meta-llama/Llama-3.1-70B",
            "model_group": "llama-3.1-70b-instruct-awq", "api_base": A17, "status": "success",
            "prompt_tokens": 1200, "completion_tokens": 300, "error_code": None, "error_class": None,
            "cached_tokens": None}
    return {**base, **over}


def typed(*rows: dict) -> pl.DataFrame:
    schema = {c: TYPED.get(c, pl.String) for c in WIRE_COLUMNS}
    return pl.DataFrame([{c: r[c] for c in WIRE_COLUMNS} for r in rows], schema=schema, orient="row")


def canon(frame: pl.DataFrame, mapping: SpendLogMapping = MAPPING) -> list[dict]:
    out = to_requests(frame, mapping, window=WINDOW, first_row=1)
    return out.drop("_payload", "_origin", "_row").to_dicts()


def good(**over) -> dict:
    base = {"request_id": "chatcmpl-1", "received_at": utc("10:00:00.125"), "first_token_at": utc("10:00:00.500"),
            "finished_at": utc("10:00:04.250"), "model": "llama-3.1-70b-instruct-awq", "tier": "h100-class",
            "resource_id": "gpu-a-h100x2", "status": 200, "error": None, "prompt_tokens": 1200,
            "completion_tokens": 300, "cached_tokens": 0,
            "api_key_id": "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589",
            "_problem_field": None, "_problem_reason": None}
    return {**base, **over}


def test_a_routed_success_maps_every_field_at_the_millisecond():
    assert canon(typed(row())) == [good()]


@pytest.mark.parametrize(("status", "code", "klass", "expected_status", "expected_error"), [
    (None, None, None, 200, None),  # a row older than the status column (litellm < 1.69)
    ("success", "500", "Ignored", 200, None),
    ("failure", "429", "RateLimitError", 429, "RateLimitError"),  # LiteLLM writes the code as a string
    ("failure", " 503 ", "ServiceUnavailableError", 503, "ServiceUnavailableError"),
    ("failure", "None", "Timeout", 500, "Timeout"),  # str(None) from litellm 1.74
    ("failure", "", "", 500, "failure"),  # a ProxyException without a code, no class
    ("failure", None, None, 500, "failure"),  # no error_information at all
    ("failure", "99", "X", 500, "X"),  # not an HTTP status
    ("failure", "600", "X", 500, "X"),
    ("failure", "4.29e2", "X", 500, "X"),
])
def test_status_is_200_for_success_or_null_else_the_error_code_else_500(status, code, klass, expected_status,
                                                                         expected_error):
    [out] = canon(typed(row(status=status, error_code=code, error_class=klass)))
    assert (out["status"], out["error"], out["_problem_reason"]) == (expected_status, expected_error, None)


def test_model_group_falls_back_to_model_and_both_empty_is_missing_model():
    rows = typed(row(request_id="a", model_group=None, model="m-a"), row(request_id="b", model_group="  ", model="m-b"),
                 row(request_id="c", model_group="", model=""), row(request_id="d", model_group=None, model=" "))
    out = canon(rows)
    assert [r["model"] for r in out] == ["m-a", "m-b", None, None]
    assert [r["_problem_field"] for r in out] == [None, None, "model", "model"]
    assert out[2]["_problem_reason"] == "missing_model: model_group and model are both empty"


def test_model_field_model_reads_the_deployment_model_first():
    mapping = SpendLogMapping(MAPPING.resource_map, MAPPING.models, model_field="model")
    out = canon(typed(row(), row(request_id="b", model="")), mapping)
    assert [r["model"] for r in out] == ["hosted_vllm/meta-llama/Llama-3.1-70B", "llama-3.1-70b-instruct-awq"]
    assert out[0]["tier"] == "h100-class"  # the map entry's tier; the model is not in [models]


def test_blank_api_base_is_unrouted_and_takes_its_models_tier():
    rows = typed(row(request_id="a", api_base=""), row(request_id="b", api_base=None),
                 row(request_id="c", api_base=" \t", model_group="qwen2.5-32b-instruct-awq"))
    out = canon(rows)
    assert [(r["resource_id"], r["tier"], r["_problem_reason"]) for r in out] == [
        (None, "h100-class", None), (None, "h100-class", None), (None, "h100-ondemand", None)]


def test_an_unrouted_request_whose_model_is_not_in_models_is_unmapped_model():
    [out] = canon(typed(row(api_base="", model_group="mystery-model")))
    assert (out["_problem_field"], out["_problem_reason"]) == (
        "model", "unmapped_model: model mystery-model of an unrouted request is not in [models]")


def test_a_non_empty_unmapped_api_base_is_unmapped_resource_never_unrouted():
    out = canon(typed(row(request_id="a", api_base="http://10.0.4.99:8000/v1"),
                      row(request_id="b", api_base=A17 + "/")))  # ids match exactly: …/v1 ≠ …/v1/
    assert [(r["_problem_field"], r["_problem_reason"]) for r in out] == [
        ("resource_id", "unmapped_resource: litellm id http://10.0.4.99:8000/v1 is not mapped at 2026-10-28T10:00:00.125000Z"),
        ("resource_id", "unmapped_resource: litellm id http://10.0.4.17:8000/v1/ is not mapped at 2026-10-28T10:00:00.125000Z"),
    ]


def test_routed_tier_is_the_maps_else_the_models_else_unknown():
    out = canon(typed(row(request_id="a", api_base=A18), row(request_id="b", api_base=A19, model_group="tiny")))
    assert [(r["resource_id"], r["tier"], r["_problem_reason"]) for r in out] == [
        ("gpu-b-h100x1", "h100-class", None), ("gpu-c-l40s", "unknown", None)]


def test_first_token_is_null_when_litellm_wrote_end_time_or_nothing():
    out = canon(typed(row(request_id="a", completionStartTime=naive("10:00:04.250")),
                      row(request_id="b", completionStartTime=None)))
    assert [r["first_token_at"] for r in out] == [None, None]


def test_text_rows_as_the_api_serialises_them():
    rows = [row(request_id="a", startTime="2026-10-28T10:00:00.125+00:00", endTime="2026-10-28T10:00:04.25+00:00",
                completionStartTime="2026-10-28T10:00:00.500000Z", prompt_tokens="1200", completion_tokens=300,
                cached_tokens="256"),
            row(request_id="b", startTime="2026-10-28T10:00:00+00:00", endTime="2026-10-28T10:00:04",
                completionStartTime="2026-10-28 10:00:01.000", cached_tokens=None),
            row(request_id="c", startTime="yesterday", cached_tokens="many")]
    frame = pl.DataFrame([{c: r[c] if r[c] is None or isinstance(r[c], str) else str(r[c]) for c in WIRE_COLUMNS}
                          for r in rows], schema={c: pl.String for c in WIRE_COLUMNS})
    frame = frame.with_columns(pl.Series(WIRE_TEXT, ['{"a":1}', '{"b":2}', '{"c":3}']))
    out = to_requests(frame, MAPPING, window=WINDOW, first_row=41)
    a, b, c = out.to_dicts()
    assert (a["received_at"], a["finished_at"], a["first_token_at"], a["cached_tokens"]) == (
        utc("10:00:00.125"), utc("10:00:04.250"), utc("10:00:00.500"), 256)
    assert (b["received_at"], b["finished_at"], b["first_token_at"], b["cached_tokens"]) == (
        utc("10:00:00"), utc("10:00:04"), utc("10:00:01"), 0)
    assert (c["_problem_field"], c["_problem_reason"]) == ("received_at", "startTime yesterday is not a timestamp")
    assert [r["_row"] for r in (a, b, c)] == [41, 42, 43]
    assert [r["_payload"] for r in (a, b, c)] == [None, None, '{"c":3}']  # the wire text, rejected rows only


def test_bad_counts_are_named_and_negative_counts_break_the_contract():
    out = canon(typed(row(request_id="a", completion_tokens=-1)))
    assert (out[0]["_problem_field"], out[0]["_problem_reason"]) == ("completion_tokens", "is not >= 0")
    frame = typed(row()).with_columns(pl.lit("many").alias("cached_tokens"))
    [bad] = canon(frame)
    assert (bad["_problem_field"], bad["_problem_reason"]) == ("cached_tokens", "cached_tokens many is not a whole number")


def test_origin_names_the_table_and_key_and_payload_is_the_row_on_rejected_rows_only():
    out = to_requests(typed(row(request_id="ok"), row(request_id="bad", api_base="http://elsewhere/v1")), MAPPING,
                      window=WINDOW, first_row=7)
    assert out["_origin"].to_list() == ["LiteLLM_SpendLogs request_id=ok", "LiteLLM_SpendLogs request_id=bad"]
    assert out["_payload"][0] is None
    payload = orjson.loads(out["_payload"][1])
    assert (payload["request_id"], payload["api_base"], payload["startTime"]) == (
        "bad", "http://elsewhere/v1", "2026-10-28 10:00:00.125")


def test_a_row_outside_the_window_is_flagged_by_the_contract():
    [out] = canon(typed(row(endTime=naive("23:59:59.999") + timedelta(minutes=20))))
    assert (out["_problem_field"], out["_problem_reason"]) == ("finished_at", "is outside the fetched window")


def test_an_empty_frame_is_an_empty_canonical_frame():
    out = to_requests(typed(), MAPPING, window=WINDOW, first_row=1)
    assert out.height == 0
    assert out.columns[:3] == ["request_id", "received_at", "first_token_at"]
