"""vLLM `llm_request` spans into canonical request columns (DESIGN.md "Field mapping, vLLM spans"
and "Pinned details → Spans"), as polars expressions over the span frame `otlp_json.read_spans` builds.

Attribute names are vLLM's (`vllm/tracing/utils.py: SpanAttributes`): it still writes
`gen_ai.usage.completion_tokens` / `prompt_tokens`, where the OpenTelemetry GenAI semantic
conventions now say `gen_ai.usage.output_tokens` / `input_tokens`; either spelling is read, and
a span that carries both with different values is rejected as conflicting.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from pipelines.adapters import otlp_json as wire
# STAND-IN import: the resource-map helper's module replaces it (one line to change).
from pipelines.sources.resource_map import ResourceMap
from pipelines.sources.frames import BAD, PROBLEM_FIELD, PROBLEM_REASON

REQUEST_ID = "gen_ai.request.id"
TIME_TO_FIRST_TOKEN_S = "gen_ai.latency.time_to_first_token"  # seconds, a double
CACHED_TOKENS = "gen_ai.usage.cached_tokens"
TOKENS = {  # canonical column -> (vLLM's spelling, the semantic conventions' spelling)
    "completion_tokens": ("gen_ai.usage.completion_tokens", "gen_ai.usage.output_tokens"),
    "prompt_tokens": ("gen_ai.usage.prompt_tokens", "gen_ai.usage.input_tokens"),
}
SPAN_KEYS = [REQUEST_ID, TIME_TO_FIRST_TOKEN_S, CACHED_TOKENS, *(k for pair in TOKENS.values() for k in pair)]
STATUS_CODE_ERROR = ("2", "STATUS_CODE_ERROR")  # enums are integers in OTLP/JSON; the name is tolerated
UNKNOWN_TIER = "unknown"


def canonical_requests(
    spans: pl.DataFrame, *, resource_attribute: str, model_attribute: str,
    resource_map: ResourceMap, models: Mapping[str, str],
) -> pl.DataFrame:
    """Canonical request columns, plus the problem and `_bad__` columns, beside the columns of
    `spans` (`otlp_json.read_spans` with `SPAN_KEYS`)."""
    replica = pl.col(f"resource:{resource_attribute}")
    model = pl.col(f"resource:{model_attribute}")
    first_token_s = _double(pl.col(f"attr:{TIME_TO_FIRST_TOKEN_S}"))
    columns = [
        # the same span exported twice keeps its id (and collapses on landing); a reused request id
        # (n > 1, a client's X-Request-Id) in other spans stays apart. spanId hex is case-insensitive.
        pl.concat_str(_value_text(pl.col(f"attr:{REQUEST_ID}")), pl.lit("/"),
                      pl.col("spanId").str.to_lowercase()).alias("request_id"),
        wire.unix_nano_to_instant(pl.col("start_nanos")).alias("received_at"),
        pl.col("finished_at"),
        model.alias("model"),
        replica.alias("replica"),
        # vLLM has no HTTP status on the span: an ERROR status is a failed request (500).
        pl.when(pl.col("status_code").is_in(STATUS_CODE_ERROR)).then(500).otherwise(200).cast(pl.Int64).alias("status"),
        pl.when(pl.col("status_code").is_in(STATUS_CODE_ERROR) & (pl.col("status_message").str.len_chars() > 0))
        .then(pl.col("status_message")).alias("error"),
        pl.coalesce(_integer(pl.col(f"attr:{CACHED_TOKENS}")), pl.lit(0, pl.Int64)).alias("cached_tokens"),
        pl.lit(None, pl.String).alias("api_key_id"),
        first_token_s.alias("first_token_s"),
        *_bad_value("received_at", pl.col("start_nanos"), wire.unix_nano_to_instant(pl.col("start_nanos")),
                    "startTimeUnixNano", "is not a unix-nano time"),
        *_bad_value("finished_at", pl.col("end_nanos"), pl.col("finished_at"), "endTimeUnixNano",
                    "is not a unix-nano time"),
        *_bad_value("first_token_at", _value_text(pl.col(f"attr:{TIME_TO_FIRST_TOKEN_S}")), first_token_s,
                    TIME_TO_FIRST_TOKEN_S, "is not a number of seconds"),
        *_bad_value("cached_tokens", _value_text(pl.col(f"attr:{CACHED_TOKENS}")),
                    _integer(pl.col(f"attr:{CACHED_TOKENS}")), CACHED_TOKENS, "is not an integer"),
    ]
    problems: list[tuple[str, pl.Expr, pl.Expr]] = [
        ("resource_id", replica.str.strip_chars().str.len_chars().fill_null(0) == 0,
         pl.lit(f"unmapped_resource: the span's resource has no attribute {resource_attribute}")),
        ("model", model.str.strip_chars().str.len_chars().fill_null(0) == 0,
         pl.lit(f"missing_model: the span's resource has no attribute {model_attribute}")),
    ]
    for column, (old, new) in TOKENS.items():
        first, second = pl.col(f"attr:{old}"), pl.col(f"attr:{new}")
        both = _integer(first).is_not_null() & _integer(second).is_not_null()
        columns.append(pl.coalesce(_integer(first), _integer(second)).alias(column))
        columns.append(pl.coalesce(
            _bad_reason(_value_text(first), _integer(first), old, "is not an integer"),
            _bad_reason(_value_text(second), _integer(second), new, "is not an integer"),
        ).alias(BAD + column))
        problems.append((
            column, both & (_integer(first) != _integer(second)),
            pl.format(f"conflicting: {old} {{}} and {new} {{}} differ", _integer(first), _integer(second)),
        ))
    frame = spans.with_columns(columns)
    frame = frame.with_columns(
        # no token streamed: vLLM leaves time_to_first_token at 0.0, so there is no first token
        pl.when((pl.col("completion_tokens") > 0) & pl.col("first_token_s").is_not_null())
        .then(pl.col("received_at") + pl.duration(microseconds=(pl.col("first_token_s") * 1e6).round().cast(pl.Int64)))
        .alias("first_token_at"),
        _first_problem(problems, 0).alias(PROBLEM_FIELD),
        _first_problem(problems, 1).alias(PROBLEM_REASON),
    )
    # a request is mapped at the instant it was received (DESIGN.md "Pinned details → Resource map")
    frame = resource_map.apply(frame, source="otel", id_column="replica", at_column="received_at")
    # a span is always routed: its tier is its replica's (the map's), else its model's, else unknown
    frame = frame.with_columns(
        pl.col("model").replace_strict(dict(models), default=None, return_dtype=pl.String).alias("model_tier"))
    return frame.with_columns(
        pl.coalesce(pl.col("map_tier"), pl.col("model_tier"), pl.lit(UNKNOWN_TIER)).alias("tier"))


def _value_text(any_value: pl.Expr) -> pl.Expr:
    return pl.coalesce(any_value.struct.field(f) for f in ("stringValue", "intValue", "doubleValue", "boolValue"))


def _integer(any_value: pl.Expr) -> pl.Expr:
    """An int64 AnyValue (`intValue` as a string or a number), or a whole `doubleValue` (some
    SDKs send every number as a double); null otherwise."""
    whole = any_value.struct.field("doubleValue").cast(pl.Float64, strict=False)
    return pl.coalesce(
        any_value.struct.field("intValue").str.to_integer(strict=False),
        pl.when(whole == whole.floor()).then(whole.cast(pl.Int64, strict=False)),
    )


def _double(any_value: pl.Expr) -> pl.Expr:
    return pl.coalesce(any_value.struct.field("doubleValue").cast(pl.Float64, strict=False),
                       any_value.struct.field("intValue").cast(pl.Float64, strict=False))


def _bad_value(column: str, text: pl.Expr, parsed: pl.Expr, key: str, what: str) -> list[pl.Expr]:
    """`_bad__<column>`: why a present wire value did not parse (the contract names it)."""
    return [_bad_reason(text, parsed, key, what).alias(BAD + column)]


def _bad_reason(text: pl.Expr, parsed: pl.Expr, key: str, what: str) -> pl.Expr:
    return pl.when(text.is_not_null() & parsed.is_null()).then(pl.format(f"{key} {{}} {what}", text))


def _first_problem(problems: list[tuple[str, pl.Expr, pl.Expr]], part: int) -> pl.Expr:
    chain = None
    for field, broken, reason in problems:
        value = pl.lit(field) if part == 0 else reason
        chain = (pl.when(broken) if chain is None else chain.when(broken)).then(value)
    return chain.otherwise(None)
