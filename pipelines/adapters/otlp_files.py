"""Adapter `otlp_files`: vLLM's `llm_request` spans, as the OpenTelemetry Collector's file
exporter writes them (OTLP/JSON lines), into canonical request rows (DESIGN.md "Field mapping,
vLLM spans" and "Pinned details → Spans").

vLLM (`vllm/v1/engine/output_processor.py: do_tracing`) emits one SERVER span named
`llm_request` per finished request: it starts at the request's arrival and ends when vLLM
finishes it; its attributes (names in `vllm/tracing/utils.py: SpanAttributes`) carry the
request id, the token counts and the latencies in seconds. vLLM sets no model attribute, so the
model, like the replica, comes from resource attributes the operator sets on each vLLM process
(`OTEL_RESOURCE_ATTRIBUTES`). `otlp_json.py` decodes the wire and `otlp_spans.py` maps a
span's fields; this module finds the files, selects a window's spans and assembles the rows.

What the spans lack, and what this adapter puts there:
- `status`: a span carries no HTTP status. A span whose status is ERROR (code 2) is 500, any
  other is 200; `error` is the status message of an ERROR span.
- `cached_tokens`: `gen_ai.usage.cached_tokens` where an emitter sets it (vLLM does not), else 0.
- `api_key_id`: null (vLLM never sees the gateway's callers).
- `tier`: the resource map entry's tier, else the `[models]` tier of the model, else `unknown`.
"""

from __future__ import annotations

import glob
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import duckdb
import polars as pl

from pipelines.adapters import otlp_json as wire
from pipelines.adapters.base import Window
from pipelines.adapters.configs import OtlpFilesConfig
from pipelines.adapters.otlp_spans import SPAN_KEYS, canonical_requests
from pipelines.client import SourceError
from pipelines.sources.frames import ORIGIN, PAYLOAD, PROBLEM_FIELD, PROBLEM_REASON, ROW, check_contract, empty_frame
from pipelines.sources.registry import REQUESTS

if TYPE_CHECKING:
    from pipelines.sources.resource_map import ResourceMap

SPAN_NAME = "llm_request"
PLACE = ("line_no", "rs_i", "scope_kind", "scope_i", "span_i")  # where a span sits in its line
_GLOB_CHARS = set("*?[")


class OtlpFilesAdapter:
    name: ClassVar[str] = "otlp_files"
    feeds: ClassVar[str] = "requests"

    def __init__(self, config: OtlpFilesConfig, *, resource_map: ResourceMap,
                 models: Mapping[str, str] | None = None) -> None:
        self.config, self.resource_map, self.models = config, resource_map, dict(models or {})
        self._index: list[tuple[Path, pl.DataFrame]] = []  # the last read: _row -> PLACE, per file

    def describe(self) -> str:
        c = self.config
        return (f"vLLM {SPAN_NAME} spans in OTLP/JSON files {c.path} (replica: resource attribute "
                f"{c.resource_attribute}; model: resource attribute {c.model_attribute})")

    def files(self) -> list[Path]:
        """The files `path` names, in name order (the file exporter's rotated names sort by time,
        and the file it is writing, with no timestamp, after them)."""
        path = Path(self.config.path).expanduser()
        if _GLOB_CHARS & set(self.config.path):
            found = [Path(p) for p in glob.glob(str(path))]
        elif path.is_dir():
            found = [p for p in path.iterdir() if not p.name.startswith(".")]
        else:
            found = [path] if path.exists() else []
        found = sorted(p for p in found if p.is_file())
        if not found:
            raise SourceError("otlp_files", "found no span files", self.config.path,
                              hint="check `path` (a file, a folder or a glob) and that the collector writes there")
        return found

    def read(self, window: Window) -> Iterator[pl.DataFrame]:
        self._index = []
        rows_so_far, yielded = 0, False
        stale_before = window.start - timedelta(minutes=self.config.mtime_slack_minutes)
        for path in self.files():
            modified = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
            if self.config.skip_stale_files and modified < stale_before:
                continue  # every span in it ended before the window (see skip_stale_files)
            try:
                frame, index = self._read_file(path, modified, window, first_row=rows_so_far + 1)
            except FileNotFoundError:
                raise SourceError("otlp_files", "lost a span file while reading it", str(path),
                                  hint="the collector rotated it meanwhile; run again") from None
            except duckdb.Error as exc:
                raise SourceError("otlp_files", "could not decode span file", str(path),
                                  hint=str(exc).splitlines()[0]) from None
            self._index.append((path, index))
            rows_so_far += frame.height
            if frame.height:
                yielded = True
                yield frame
        if not yielded:
            yield empty_frame(REQUESTS)

    def _read_file(self, path: Path, modified: datetime, window: Window, first_row: int):
        _check_is_json_lines(path)
        lines = wire.file_lines(path)
        facts, spans = wire.read_spans(lines, span_name=SPAN_NAME, resource_keys=self._resource_keys,
                                       span_keys=SPAN_KEYS)
        placed = _place_lines(facts, modified)
        on_day = pl.col("line_at").dt.date() == window.day
        spans = spans.with_columns(wire.unix_nano_to_instant(pl.col("end_nanos")).alias("finished_at")).join(
            placed, on="line_no", how="left").filter(
            pl.when(pl.col("finished_at").is_null()).then(on_day)
            .otherwise((pl.col("finished_at") >= window.start) & (pl.col("finished_at") < window.end)))
        bad_lines = facts.filter(pl.col("line_problem").is_not_null()).join(placed, on="line_no").filter(on_day).select(
            "line_no", pl.lit("line").alias(PROBLEM_FIELD), pl.col("line_problem").alias(PROBLEM_REASON),
            pl.col("text").alias(PAYLOAD))
        requests = canonical_requests(
            spans, resource_attribute=self.config.resource_attribute, model_attribute=self.config.model_attribute,
            resource_map=self.resource_map, models=self.models)
        frame = (
            pl.concat([requests, bad_lines], how="diagonal_relaxed")
            .sort(*PLACE, nulls_last=False)
            .with_columns(
                pl.int_range(first_row, first_row + pl.len(), dtype=pl.Int64).alias(ROW),
                pl.format("{} line {}", pl.lit(str(path)), pl.col("line_no")).alias(ORIGIN),
            )
        )
        checked = check_contract(frame, REQUESTS, window=window.bounds)
        rejected = frame.select(ROW, *PLACE).filter(
            checked[PROBLEM_REASON].is_not_null() & checked[PAYLOAD].is_null())
        if rejected.height:  # the span as the line holds it, for the rejected spans only
            texts = wire.span_texts(lines, rejected).select(ROW, pl.col("text").alias("span_text"))
            checked = checked.join(texts, on=ROW, how="left").with_columns(
                pl.coalesce(PAYLOAD, "span_text").alias(PAYLOAD)).drop("span_text")
        return checked, frame.select(ROW, *PLACE)

    def payloads(self, rows: list[int]) -> dict[int, str]:
        """The wire text of rows of the last read: the line of a rejected line, else the span as
        its line holds it (the file is read again; a file rotated away since is skipped)."""
        wanted = pl.DataFrame({ROW: rows}, schema={ROW: pl.Int64})
        out: dict[int, str] = {}
        for path, index in self._index:
            hits = index.join(wanted, on=ROW)
            if hits.is_empty() or not path.exists():
                continue
            lines = wire.file_lines(path)
            spans = hits.filter(pl.col("span_i").is_not_null())
            if spans.height:
                texts = wire.span_texts(lines, spans)
                out.update(zip(texts[ROW].to_list(), texts["text"].to_list()))
            whole = hits.filter(pl.col("span_i").is_null()).join(
                pl.from_arrow(lines).with_columns(pl.col("text").str.strip_chars_end("\r\n")), on="line_no")
            out.update(zip(whole[ROW].to_list(), whole["text"].to_list()))
        return out

    def probe(self) -> str:
        files = self.files()
        newest = max(files, key=lambda p: p.stat().st_mtime)
        facts, spans = wire.read_spans(wire.file_lines(newest), span_name=SPAN_NAME, resource_keys=[], span_keys=[])
        latest = spans.select(wire.unix_nano_to_instant(pl.col("end_nanos")).max()).item()
        bad = facts["line_problem"].is_not_null().sum()
        return (f"{len(files)} file(s) match {self.config.path}; newest {newest.name}: {facts.height} line(s)"
                + (f" ({bad} malformed)" if bad else "") + f", {spans.height} {SPAN_NAME} span(s)"
                + (f", newest span end {latest:%Y-%m-%dT%H:%M:%SZ}" if latest else ""))

    @property
    def _resource_keys(self) -> list[str]:
        return [self.config.resource_attribute, self.config.model_attribute]


def _check_is_json_lines(path: Path) -> None:
    """The exporter's `format: proto` and any `compression` write length-prefixed frames, not
    lines (fileexporter README, "File Format"): say so rather than quarantine a binary file."""
    with path.open("rb") as f:
        head = f.read(4)
    if head[:1] == b"\x00" or head == b"\x28\xb5\x2f\xfd":
        raise SourceError("otlp_files", "cannot read a binary span file", str(path),
                          hint="set the collector's file exporter to `format: json` without `compression`")


def _place_lines(facts: pl.DataFrame, modified: datetime) -> pl.DataFrame:
    """Each line's instant (`line_at`), for what has no end time of its own (a malformed line, a
    span without a readable end): the latest span end in the line, else in the nearest line
    before it that has one, else after it, else the file's modification time. Each such row is
    then read by exactly one day's run, the run of `line_at`'s UTC day."""
    return facts.select(
        "line_no",
        (pl.col("latest_end_nanos") // 1000).cast(pl.Datetime("us", "UTC"))
        .forward_fill().backward_fill().fill_null(pl.lit(modified)).alias("line_at"),
    )


def from_config(section: OtlpFilesConfig, app) -> OtlpFilesAdapter:
    """The registry's factory: replicas mapped by the `otel` entries of `[[resource_map]]`."""
    from pipelines.sources.resource_map import ResourceMap

    return OtlpFilesAdapter(section, resource_map=ResourceMap(app.resource_map), models=app.models)
