"""The `prometheus` cross-check adapter: vLLM's own token counters, read from a Prometheus.

DESIGN.md "Token cross-check" and "Pinned details → Cross-check arithmetic". It asks
`GET /api/v1/query_range` for the raw counter (`vllm:generation_tokens_total`, no `increase()`)
at a fixed step, and yields one canonical `engine_token_samples` row per series and step.
Prometheus evaluates an instant selector at each step as the series' latest sample at or before
it, within its 5-minute lookback (2.x: [t − 5m, t]; promql/engine.go `vectorSelectorSingle`), and
omits the step when there is none: exactly the value the pinned arithmetic needs at each hour
boundary, because the grid is aligned to the step and the step divides an hour.

Why not `increase()`: it extrapolates to the window's edges and around resets, so its hourly
figures are not whole numbers of tokens and do not add up; the raw values do.

Wire format (docs/querying/api.md, web/api/v1/api.go, Prometheus 2.42): `{"status": "success",
"data": {"resultType": "matrix", "result": [{"metric": {...}, "values": [[<unix s>, "<value>"],
...]}]}}`; errors `{"status": "error", "errorType": ..., "error": ...}` with 400 (bad_data),
422 (execution), 503 (timeout). More than 11,000 points per series in one query is refused
(`(end - start) / step > 11000`), so a long window is read in sub-ranges.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import ClassVar, Literal

import httpx
import orjson
import polars as pl
from pydantic import Field, field_validator

from pipelines.adapters.base import AdapterConfig, Window
from pipelines.adapters.prometheus_api import PrometheusApi
from pipelines.adapters.configs import PrometheusConfig
from pipelines.sources.resource_map import ResourceMap
from pipelines.client import SourceProtocolError
from pipelines.sources.frames import BAD, ORIGIN, PAYLOAD, PROBLEM_FIELD, PROBLEM_REASON, ROW, check_contract
from pipelines.sources.registry import ENGINE_TOKEN_SAMPLES

log = logging.getLogger(__name__)

QUERY_RANGE = "/api/v1/query_range"
MAX_POINTS_PER_QUERY = 11_000  # web/api/v1/api.go refuses (end - start) / step > 11000
# a metric name with optional matchers; braces only where quoted (so no `{...} or other{...}`)


@dataclass(frozen=True)
class ReadReport:
    """What one `read` found, for the run's report: an empty answer is reported, never an error."""

    window: Window
    queries: int
    series: int
    rows: int
    rejected: int

    @property
    def empty(self) -> bool:
        return self.rows == 0

    def summary(self, metric: str) -> str:
        span = f"[{_iso(self.window.start)}, {_iso(self.window.end)})"
        if self.empty:
            return f"prometheus: no samples of {metric} in {span}: nothing to cross-check"
        return (f"prometheus: {self.rows} samples of {self.series} series of {metric} in {span} "
                f"({self.queries} queries, {self.rejected} rejected)")


def step_grid(start: datetime, end: datetime, step_s: int) -> tuple[int, int] | None:
    """(first, last) evaluation instants in unix seconds: the multiples of `step_s` in [start, end).
    Aligned to the step, and the step divides an hour, so every hour boundary is an instant."""
    step_us = step_s * 1_000_000
    start_us, end_us = _epoch_us(start), _epoch_us(end)
    first_us = -(-start_us // step_us) * step_us
    last_us = -(-end_us // step_us) * step_us - step_us
    return (first_us // 1_000_000, last_us // 1_000_000) if first_us <= last_us else None


def sub_ranges(first_s: int, last_s: int, step_s: int, max_points: int) -> list[tuple[int, int]]:
    """[first, last] cut into inclusive ranges of at most `max_points` steps each, with no overlap."""
    span = step_s * (max_points - 1)
    out, at = [], first_s
    while at <= last_s:
        out.append((at, min(last_s, at + span)))
        at += span + step_s
    return out


def series_text(labels: Mapping[str, str]) -> str:
    """Labels as canonical text, sorted by name, quoted as Prometheus prints them."""
    return ",".join(f'{name}="{_escape(labels[name])}"' for name in sorted(labels))


class PrometheusAdapter:
    name: ClassVar[str] = "prometheus"
    feeds: ClassVar[str] = ENGINE_TOKEN_SAMPLES.name

    def __init__(
        self,
        config: PrometheusConfig,
        resource_map: ResourceMap,
        *,
        environ: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        max_points: int = MAX_POINTS_PER_QUERY,
        max_attempts: int = 4,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 20.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config, self.resource_map, self.max_points = config, resource_map, max_points
        token = None
        if config.token_env:
            token = (os.environ if environ is None else environ).get(config.token_env)
            if not token:
                raise ValueError(f"crosscheck.token_env: the environment variable {config.token_env} is not set")
        self.api = PrometheusApi(config.url, token=token, token_env=config.token_env, timeout_s=config.timeout_s,
                                 transport=transport, max_attempts=max_attempts, backoff_base_s=backoff_base_s,
                                 backoff_max_s=backoff_max_s, sleep=sleep)
        self.source = self.api.source
        self._next_row = 1
        self._payloads: list[pl.DataFrame] = []
        self.last_read: ReadReport | None = None

    def describe(self) -> str:
        return (f"{self.source}: {self.config.metric} per {self.config.instance_label}, "
                f"query_range every {self.config.step_s} s")

    def close(self) -> None:
        self.api.close()

    def read(self, window: Window) -> Iterator[pl.DataFrame]:
        grid = step_grid(window.start, window.end, self.config.step_s)
        ranges = sub_ranges(*grid, self.config.step_s, self.max_points) if grid else []
        series: set[tuple[str | None, str]] = set()
        rows = rejected = 0
        self._payloads = []  # the wire text of this read's rows only: memory stays one read's worth
        for first_s, last_s in ranges:
            what = f"{self.config.metric} over [{_iso_s(first_s)}, {_iso_s(last_s)}] every {self.config.step_s} s"
            data = self.api.data(QUERY_RANGE, {"query": self.config.metric, "start": str(first_s),
                                               "end": str(last_s), "step": str(self.config.step_s)}, what)
            frame = self._conform(self._parse(data, first_s, last_s), window)
            self._payloads.append(frame.select(ROW, PAYLOAD))
            series |= set(frame.select("instance", "series").unique().iter_rows())
            rows += frame.height
            rejected += frame[PROBLEM_FIELD].is_not_null().sum()
            yield frame
        self.last_read = ReadReport(window, len(ranges), len(series), rows, int(rejected))
        (log.warning if self.last_read.empty else log.info)("%s", self.last_read.summary(self.config.metric))

    def payloads(self, rows: list[int]) -> dict[int, str]:
        """The wire text (`{"metric": {...}, "value": [t, "v"]}`) of rows of the latest read."""
        if not self._payloads:
            return {}
        found = pl.concat(self._payloads).filter(pl.col(ROW).is_in(rows))
        return dict(found.iter_rows())

    def probe(self) -> str:
        label, metric = self.config.instance_label, self.config.metric
        query = f"count by ({label}) (last_over_time({metric}[1h]))"
        result = self.api.data("/api/v1/query", {"query": query}, "probe").get("result") or []
        if not result:
            return (f"{self.source} answers; no series of {metric} in the last hour: "
                    "the cross-check will have nothing to compare")
        return f"{self.source} answers; {len(result)} {label} value(s) reported {metric} in the last hour"

    # -- wire ------------------------------------------------------------------------------
    def _parse(self, data: dict, first_s: int, last_s: int) -> pl.DataFrame:
        """The matrix as one frame: a loop per series, none per sample."""
        where = f"query_range [{_iso_s(first_s)}, {_iso_s(last_s)}]"
        if data.get("resultType") != "matrix":
            raise SourceProtocolError(self.source, f"sent resultType {data.get('resultType')!r}, not a matrix",
                                      QUERY_RANGE, where)
        label = self.config.instance_label
        parts = []
        for number, result in enumerate(data.get("result") or [], 1):
            metric = result.get("metric") or {}
            if "histograms" in result:  # the selector reaches a native histogram: a configuration mistake
                raise SourceProtocolError(self.source, "sent a native histogram, not a counter: "
                                          + orjson.dumps(metric).decode(), QUERY_RANGE, where)
            points = pl.DataFrame(result.get("values") or [], schema=[("_t", pl.Float64), ("_v", pl.String)],
                                  orient="row")
            others = {k: v for k, v in metric.items() if k not in ("__name__", label)}
            parts.append(points.with_columns(
                pl.lit(metric.get(label), pl.String).alias("instance"),
                pl.lit(series_text(others)).alias("series"),
                pl.lit(orjson.dumps(metric).decode()).alias("_metric"),
                pl.lit(f"{where} series {number} point ").alias("_where"),
            ))
        schema = {"_t": pl.Float64, "_v": pl.String, "instance": pl.String, "series": pl.String,
                  "_metric": pl.String, "_where": pl.String}
        return pl.concat(parts) if parts else pl.DataFrame(schema=schema)

    def _conform(self, points: pl.DataFrame, window: Window) -> pl.DataFrame:
        at_ms = (pl.col("_t") * 1000).round().cast(pl.Int64)
        t_text = pl.concat_str((at_ms // 1000).cast(pl.String),
                               pl.when(at_ms % 1000 != 0).then(pl.lit(".") + (at_ms % 1000).cast(pl.String).str.zfill(3))
                               .otherwise(pl.lit("")))
        no_instance = pl.col("instance").is_null()
        frame = points.with_columns(
            at_ms.cast(pl.Datetime("ms", "UTC")).cast(pl.Datetime("us", "UTC")).alias("at"),
            pl.col("_v").str.to_integer(strict=False).alias("value"),
            (pl.int_range(pl.len()) + self._next_row).cast(pl.Int64).alias(ROW),
            pl.concat_str(pl.col("_where"), (pl.int_range(pl.len()).over("_where") + 1).cast(pl.String)).alias(ORIGIN),
            pl.concat_str(pl.lit('{"metric":'), pl.col("_metric"), pl.lit(',"value":['), t_text, pl.lit(',"'),
                          pl.col("_v"), pl.lit('"]}')).alias(PAYLOAD),
            pl.when(no_instance).then(pl.lit("instance")).alias(PROBLEM_FIELD),
            pl.when(no_instance).then(pl.lit(f"the series has no {self.config.instance_label} label: ")
                                      + pl.col("_metric")).alias(PROBLEM_REASON),
        ).with_columns(
            pl.when(pl.col("value").is_null())
            .then(pl.lit("value ") + pl.col("_v") + pl.lit(" is not a whole number of tokens")).alias(BAD + "value"),
        )
        self._next_row += frame.height
        mapped = self.resource_map.apply(frame, source="prometheus", id_column="instance", at_column="at",
                                         problem_field="instance")
        return check_contract(mapped, ENGINE_TOKEN_SAMPLES, window=window.bounds)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _epoch_us(at: datetime) -> int:
    return (at - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)


def _iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _iso_s(unix_s: int) -> str:
    return _iso(datetime.fromtimestamp(unix_s, timezone.utc))


def from_config(section: PrometheusConfig, app) -> PrometheusAdapter:
    """The registry's factory: the adapter of `[crosscheck]`, mapping instances by `[[resource_map]]`."""
    return PrometheusAdapter(section, ResourceMap(app.resource_map))
