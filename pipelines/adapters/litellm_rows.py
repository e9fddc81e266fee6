"""LiteLLM spend-log rows → canonical `requests` frames: the polars transform both LiteLLM adapters share.

DESIGN.md "Field mapping, LiteLLM" and "Pinned details → LiteLLM". The input is a frame of
`LiteLLM_SpendLogs` columns as the driver or the API hands them (`WIRE_COLUMNS`): timestamps as
naive datetimes (PostgreSQL `TIMESTAMP(3)` holding UTC wall clock) or as text (the API); integers
as integers or text. Three values live inside the row's JSONB `metadata`; each adapter extracts
them where that is cheapest (in SQL for PostgreSQL, in DuckDB for API pages):

- `error_code`, `error_class`: `metadata.error_information.error_code` / `.error_class`, written
  on failures by `StandardLoggingPayloadSetup.get_error_information`
  (litellm 1.110.2 `litellm_core_utils/litellm_logging.py`; TypedDict in `types/utils.py`).
  `error_code` is a *string* ("429"; "" or "None" when the exception had no code).
- `cached_tokens`: LiteLLM keeps no column for it. `get_logging_payload`
  (`proxy/spend_tracking/spend_tracking_utils.py` l.892-914) stores every non-core usage field in
  `metadata.additional_usage_values`, and copies `prompt_tokens_details.cached_tokens` (the
  OpenAI usage object vLLM answers with) to `cache_read_input_tokens` when it is > 0. We read
  `cache_read_input_tokens`, else `prompt_tokens_details.cached_tokens`, else 0.

Mapping (one vectorised pass, no Python per row):
- `request_id` ← request_id; `received_at` ← startTime; `finished_at` ← endTime;
- `first_token_at` ← completionStartTime, except where it is NULL or equals endTime: LiteLLM
  writes endTime there when nothing streamed (`kwargs.get("completion_start_time", end_time)`,
  spend_tracking_utils.py l.642), and its own TTFT SQL reads that as "no first token";
- `model` ← model_group, else model (`model_field = "model"` swaps them); both blank →
  quarantined `missing_model`;
- `status` ← 200 for `success` or NULL (rows older than the column, litellm < 1.69); else the
  error code when it is an integer 100-599; else 500;
- `error` ← `error_information.error_class` on a failure (e.g. `RateLimitError`), else the
  row's status text; null on a success. We chose the class over the code: the code is already
  in `status`, the class says what broke;
- `api_key_id` ← api_key (already a SHA-256 of the key; blank → null);
- `resource_id` ← the resource map (source "litellm") of api_base at received_at; api_base
  NULL, empty or blank → unrouted; non-empty but unmapped → `unmapped_resource`;
- `tier`: a routed request takes its map entry's tier, else its model's `[models]` tier, else
  "unknown" (billing's tier wins later in SQL); an unrouted one takes its model's `[models]`
  tier, or is quarantined `unmapped_model`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import polars as pl

from pipelines.adapters.base import Window
from pipelines.sources.resource_map import ResourceMap, tier_of_models
from pipelines.sources.frames import BAD, ORIGIN, PAYLOAD, PROBLEM_FIELD, PROBLEM_REASON, ROW, check_contract
from pipelines.sources.registry import REQUESTS

MAP_SOURCE = "litellm"
WIRE_COLUMNS = ("request_id", "api_key", "startTime", "endTime", "completionStartTime", "model", "model_group",
                "api_base", "status", "prompt_tokens", "completion_tokens", "error_code", "error_class",
                "cached_tokens")
WIRE_TEXT = "_wire"  # optional input column: the row's text as the wire had it (API pages)
UTC_US = pl.Datetime("us", "UTC")
ModelField = Literal["model_group", "model"]


@dataclass(frozen=True)
class SpendLogMapping:
    """What turns a spend-log row into a canonical one: the resource map, `[models]`, the model field."""

    resource_map: ResourceMap
    models: Mapping[str, str] = field(default_factory=dict)
    model_field: ModelField = "model_group"


def to_requests(wire: pl.DataFrame, mapping: SpendLogMapping, *, window: Window, first_row: int) -> pl.DataFrame:
    """Canonical `requests` rows of `wire` (rows already selected for `window`), contract applied.

    `_row` counts from `first_row`; `_origin` is the wire's `_origin` column when it has one,
    else `LiteLLM_SpendLogs request_id=<id>`; `_payload` is kept on rejected rows only."""
    missing = [c for c in WIRE_COLUMNS if c not in wire.columns]
    if missing:
        raise ValueError(f"spend-log frame lacks {', '.join(missing)}")
    schema = wire.schema
    primary, fallback = (mapping.model_field, "model" if mapping.model_field == "model_group" else "model_group")
    model = pl.coalesce(_text(primary), _text(fallback))
    ok = pl.col("status").is_null() | (pl.col("status") == "success")
    code = pl.col("error_code").cast(pl.String).str.strip_chars().cast(pl.Int64, strict=False)
    received, bad_received = instant("startTime", schema["startTime"])
    finished, bad_finished = instant("endTime", schema["endTime"])
    first, bad_first = instant("completionStartTime", schema["completionStartTime"])
    prompt, bad_prompt = _count("prompt_tokens", schema["prompt_tokens"])
    completion, bad_completion = _count("completion_tokens", schema["completion_tokens"])
    cached, bad_cached = _count("cached_tokens", schema["cached_tokens"])
    origin = (pl.col(ORIGIN) if ORIGIN in wire.columns
              else pl.lit("LiteLLM_SpendLogs request_id=") + pl.col("request_id").fill_null("<null>"))
    frame = wire.select(
        pl.int_range(first_row, first_row + pl.len(), dtype=pl.Int64).alias(ROW),
        pl.col("request_id").cast(pl.String),
        received.alias("received_at"),
        pl.when(first.is_null() | (first == finished)).then(None).otherwise(first).alias("first_token_at"),
        finished.alias("finished_at"),
        model.alias("model"),
        pl.when(ok).then(200).when(code.is_between(100, 599)).then(code).otherwise(500)
        .cast(pl.Int64).alias("status"),
        pl.when(ok).then(None).otherwise(pl.coalesce(_text("error_class"), _text("status"))).alias("error"),
        prompt.alias("prompt_tokens"),
        completion.alias("completion_tokens"),
        cached.fill_null(0).alias("cached_tokens"),
        _text("api_key").alias("api_key_id"),
        _text("api_base").alias("api_base"),
        origin.cast(pl.String).alias(ORIGIN),
        bad_received.alias(BAD + "received_at"), bad_finished.alias(BAD + "finished_at"),
        bad_first.alias(BAD + "first_token_at"), bad_prompt.alias(BAD + "prompt_tokens"),
        bad_completion.alias(BAD + "completion_tokens"), bad_cached.alias(BAD + "cached_tokens"),
        pl.when(model.is_null()).then(pl.lit("model")).alias(PROBLEM_FIELD),
        pl.when(model.is_null()).then(pl.lit(f"missing_model: {primary} and {fallback} are both empty"))
        .alias(PROBLEM_REASON),
    )
    frame = mapping.resource_map.apply(frame, source=MAP_SOURCE, id_column="api_base", at_column="received_at")
    frame = tier_of_models(frame, mapping.models, "model")
    routed_tier = pl.coalesce(pl.col("map_tier"), _lookup(pl.col("model"), mapping.models), pl.lit("unknown"))
    frame = frame.with_columns(
        pl.when(pl.col("resource_id").is_not_null()).then(routed_tier).otherwise(pl.col("tier")).alias("tier"))
    checked = check_contract(frame, REQUESTS, window=window.bounds)
    return _with_payloads(checked, wire)


def _text(name: str) -> pl.Expr:
    """A text column with NULL, empty and blank all read as null (LiteLLM writes '' where it knows nothing)."""
    value = pl.col(name).cast(pl.String)
    return pl.when(value.str.strip_chars() == "").then(None).otherwise(value)


def _lookup(key: pl.Expr, table: Mapping[str, str]) -> pl.Expr:
    return key.replace_strict(dict(table), default=None, return_dtype=pl.String)


def instant(name: str, dtype: pl.DataType) -> tuple[pl.Expr, pl.Expr]:
    """(the UTC instant, the reason it did not parse) of a timestamp column of either wire.

    A naive value is UTC wall clock (LiteLLM's columns are `timestamp without time zone` holding
    UTC). Text may carry an offset (`+00:00`, as Prisma's raw queries send it), `Z` (the ORM era,
    pydantic), or none; an optional fraction; `T` or a space."""
    raw = pl.col(name)
    if isinstance(dtype, pl.Datetime):
        value = raw.dt.cast_time_unit("us")
        value = value.dt.replace_time_zone("UTC") if dtype.time_zone is None else value.dt.convert_time_zone("UTC")
        return value, pl.lit(None, pl.String)
    text = raw.cast(pl.String).str.strip_chars().str.replace(" ", "T", literal=True)
    zoned = text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%#z", strict=False, time_unit="us", time_zone="UTC")
    naive = text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="us").dt.replace_time_zone("UTC")
    parsed = pl.coalesce(zoned, naive)
    bad = pl.when(raw.is_not_null() & parsed.is_null()).then(
        pl.lit(f"{name} ") + raw.cast(pl.String) + pl.lit(" is not a timestamp"))
    return parsed, bad


def _count(name: str, dtype: pl.DataType) -> tuple[pl.Expr, pl.Expr]:
    raw = pl.col(name)
    if dtype.is_integer():
        return raw.cast(pl.Int64), pl.lit(None, pl.String)
    parsed = raw.cast(pl.String).str.strip_chars().cast(pl.Int64, strict=False)
    bad = pl.when(raw.is_not_null() & parsed.is_null()).then(
        pl.lit(f"{name} ") + raw.cast(pl.String) + pl.lit(" is not a whole number"))
    return parsed, bad


def _with_payloads(checked: pl.DataFrame, wire: pl.DataFrame) -> pl.DataFrame:
    """`_payload` on rejected rows only: the wire text when the adapter kept it, else the row's
    spend-log columns as JSON. Built for the rejected rows alone (rare), scattered back."""
    rejected = checked.get_column(PROBLEM_FIELD).is_not_null().arg_true()
    if rejected.len() == 0:
        return checked
    picked = wire[rejected]
    if WIRE_TEXT in picked.columns:
        text = picked.get_column(WIRE_TEXT)
    else:
        columns = [pl.col(c).cast(pl.String) if isinstance(picked.schema[c], pl.Datetime) else pl.col(c)
                   for c in WIRE_COLUMNS]
        text = picked.select(pl.struct(columns).struct.json_encode()).to_series()
    payload = checked.get_column(PAYLOAD).cast(pl.String).scatter(rejected, text)
    return checked.with_columns(payload.alias(PAYLOAD))
