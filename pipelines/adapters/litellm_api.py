"""`litellm_api`: requests read from a LiteLLM proxy's `GET /spend/logs/v2`, paged.

As litellm ≥ 1.95 serves it (`proxy/spend_tracking/spend_management_endpoints.py`,
/work/notes/litellm.md §3-4; fixtures/wires/litellm_api_server.py is the same contract on loopback):
- `start_date`/`end_date` are UTC `YYYY-MM-DD HH:MM:SS`, both inclusive, and select on
  `startTime`. As in `litellm_postgres`, the read asks for requests that started from the
  window's start minus `max_request_s` to its end, and keeps (in polars) those whose `endTime`
  is in the window; the dates have whole seconds, so the asked range is rounded outwards and
  the exact bounds are applied after;
- `page` = 1, 2, … with `page_size` ≤ 1000, until a page comes back short: `total` is capped at
  10,000 (`SPEND_LOGS_PAGINATION_COUNT_CAP`) and never trusted. Where it is not capped, the
  distinct rows read must reach it: OFFSET paging with no tie-breaker on `startTime` can skip a
  row when rows are written meanwhile, and that is an error, not a silent loss;
- bearer key: use the master key or a `PROXY_ADMIN_VIEW_ONLY` key; other roles see only their
  own rows, silently;
- pages are parsed by DuckDB's JSON reader straight into a frame (no Python per row), whatever
  `metadata` is: an object (≥ 1.90) or JSON text (1.83-1.89).
Retries follow pipelines/client.py: 429, 5xx and transport errors with full-jitter backoff,
honouring `Retry-After`; 401/403 fail at once; another 4xx fails at once, naming LiteLLM's reason.
"""

from __future__ import annotations

import logging
import math
import os
import random
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import ClassVar, Literal

import duckdb
import httpx
import orjson
import polars as pl
from pydantic import Field

from pipelines.adapters.configs import LiteLLMApiConfig
from pipelines.adapters.base import Window
from pipelines.adapters.litellm_postgres import naive_utc
from pipelines.adapters.litellm_rows import WIRE_TEXT, SpendLogMapping, instant, to_requests
from pipelines.sources.resource_map import ResourceMap
from pipelines.client import (RETRYABLE_STATUS, SourceAuthError, SourceError, SourceProtocolError, SourceUnavailable,
                              _retry_after_s, tls_context)
from pipelines.sources.frames import ORIGIN, PAYLOAD, PROBLEM_FIELD, ROW

log = logging.getLogger(__name__)
SOURCE = "LiteLLM API"
PATH = "/spend/logs/v2"
COUNT_CAP = 10_000
DATE = "%Y-%m-%d %H:%M:%S"
_TEXT_FIELDS = ("request_id", "api_key", "startTime", "endTime", "completionStartTime", "model", "model_group",
                "api_base", "status", "prompt_tokens", "completion_tokens")
# One page → one row per spend log, every field as text; metadata's three values per litellm_rows.py.
_FIELDS_SQL = ", ".join(f"r->>'{f}' AS \"{f}\"" for f in _TEXT_FIELDS)
_PAGE_SQL = f"""
WITH rows AS (SELECT unnest(CAST(json_extract($1::VARCHAR, '$.data') AS JSON[])) AS r),
meta AS (
    SELECT r, CASE WHEN json_type(r->'metadata') = 'VARCHAR'
                   THEN CASE WHEN json_valid(r->>'metadata') THEN json(r->>'metadata') END
                   ELSE r->'metadata' END AS m
    FROM rows)
SELECT {_FIELDS_SQL},
       m->'error_information'->>'error_code' AS error_code,
       m->'error_information'->>'error_class' AS error_class,
       coalesce(m->'additional_usage_values'->>'cache_read_input_tokens',
                m->'additional_usage_values'->'prompt_tokens_details'->>'cached_tokens') AS cached_tokens,
       r::VARCHAR AS {WIRE_TEXT}
FROM meta"""


class LiteLLMApi:
    name: ClassVar[str] = "litellm_api"
    feeds: ClassVar[str] = "requests"

    def __init__(self, config: LiteLLMApiConfig, mapping: SpendLogMapping, *, token: str | None = None,
                 transport: httpx.BaseTransport | None = None, sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None) -> None:
        self.config, self.mapping = config, mapping
        token = token if token is not None else os.environ.get(config.token_env)
        if not token:
            raise SourceError(SOURCE, f"has no key: ${config.token_env} is not set", PATH)
        self._sleep, self._rng = sleep, rng or random.Random()
        base = httpx.URL(config.url).copy_with(userinfo=b"")  # credentials in a URL would be sent and logged
        self._http = httpx.Client(base_url=base, verify=tls_context(), headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                                  transport=transport, timeout=config.timeout_s)
        self._rejected: dict[int, str] = {}

    def __repr__(self) -> str:
        return f"LiteLLMApi({self.describe()!r})"

    def describe(self) -> str:
        url = self._http.base_url
        return f"GET {url.scheme}://{url.netloc.decode()}{url.path.rstrip('/')}{PATH} (LiteLLM proxy)"

    def close(self) -> None:
        self._http.close()

    # -- reading ---------------------------------------------------------------------------
    def read(self, window: Window) -> Iterator[pl.DataFrame]:
        started_from = window.start - timedelta(seconds=self.config.max_request_s)
        label = f"endTime in [{window.start:%Y-%m-%dT%H:%M:%SZ}, {window.end:%Y-%m-%dT%H:%M:%SZ})"
        query = {"start_date": _floor_s(started_from).strftime(DATE), "end_date": _ceil_s(window.end).strftime(DATE),
                 "page_size": str(self.config.page_size)}
        self._rejected = {}
        rows, gathered, first_total, ids, previous = 0, [], None, [], None
        for page in range(1, 1 << 31):
            wire, total = self._page({**query, "page": str(page)}, label)
            first_total = total if first_total is None else first_total
            ends = (wire["request_id"][0], wire["request_id"][-1]) if wire.height else None
            if ends is not None and ends == previous:  # a server ignoring `page` would loop forever
                raise SourceProtocolError(SOURCE, f"served page {page} equal to page {page - 1}", PATH, label)
            previous = ends
            if first_total < COUNT_CAP:
                ids.append(wire["request_id"])
            gathered.append(_in_window(wire, window, started_from).with_columns(
                (pl.lit(f"{PATH} page={page} #") + pl.int_range(1, pl.len() + 1).cast(pl.String)
                 + pl.lit(" request_id=") + pl.col("request_id").fill_null("<null>")).alias(ORIGIN)))
            if sum(f.height for f in gathered) >= self.config.batch_rows:
                rows = yield from self._emit(gathered, window, rows)
                gathered = []
            if wire.height < self.config.page_size:
                break
        rows = yield from self._emit(gathered, window, rows)
        if first_total is not None and first_total < COUNT_CAP:
            distinct = pl.concat(ids).n_unique() if ids else 0
            if distinct < first_total:
                raise SourceProtocolError(SOURCE, f"served {distinct:,} distinct rows where it counted {first_total:,}",
                                          PATH, label, "rows moved between pages (written or deleted while paging); "
                                          "read again")
        if rows == 0:
            log.warning("%s: no requests with %s in %s", SOURCE, label, self.describe())

    def _emit(self, gathered: list[pl.DataFrame], window: Window, rows: int):
        wire = pl.concat(gathered) if gathered else pl.DataFrame()
        if wire.height:
            frame = to_requests(wire, self.mapping, window=window, first_row=rows + 1)
            rejected = frame.filter(pl.col(PROBLEM_FIELD).is_not_null()).select(ROW, PAYLOAD)
            self._rejected.update(zip(rejected[ROW].to_list(), rejected[PAYLOAD].to_list()))  # rare rows only
            yield frame
        return rows + wire.height

    def payloads(self, rows: list[int]) -> dict[int, str]:
        """Wire text of rejected rows of the last read; other rows are left to the typed rendering."""
        return {r: self._rejected[r] for r in rows if r in self._rejected}

    def probe(self) -> str:
        now = naive_utc(datetime.now().astimezone())
        query = {"start_date": (now - timedelta(hours=1)).strftime(DATE), "end_date": _ceil_s(now).strftime(DATE),
                 "page_size": "1", "page": "1"}
        wire, total = self._page(query, "probe")
        count = f"{total:,}" + ("+" if total >= COUNT_CAP else "")
        newest = f"; newest endTime {wire['endTime'][0]}" if wire.height else ""  # of the latest-started row
        return f"{self.describe()}: {count} requests started in the last hour{newest}"

    # -- HTTP --------------------------------------------------------------------------------
    def _page(self, query: dict[str, str], label: str) -> tuple[pl.DataFrame, int]:
        body = self._get(query, label)
        where = f"{PATH} page {query.get('page')}"
        try:
            with duckdb.connect() as con:
                [(kind, total)] = con.sql("SELECT json_type(j, '$.data'), TRY_CAST(j->>'total' AS BIGINT) "
                                          "FROM (SELECT $1::JSON AS j)", params=[body]).fetchall()
                if kind != "ARRAY":
                    raise SourceProtocolError(SOURCE, "sent a page without a `data` array", where, label)
                frame = con.sql(_PAGE_SQL, params=[body]).pl()
        except duckdb.Error as exc:
            raise SourceProtocolError(SOURCE, f"sent a page that is not JSON ({str(exc).splitlines()[0][:120]})",
                                      where, label) from None
        return frame, (total if total is not None else math.inf)

    def _get(self, query: dict[str, str], label: str) -> str:
        last = ""
        for attempt in range(1, self.config.max_attempts + 1):
            wait_s = None
            try:
                response = self._http.get(PATH, params=query)
            except httpx.TransportError as exc:  # timeouts, refused or dropped connections, cut bodies
                last = f"failed with {exc.__class__.__name__}"
            else:
                status = response.status_code
                if status == 200:
                    return response.text
                reason = _reason(response)
                if status in (401, 403):
                    raise SourceAuthError(SOURCE, f"refused the key ({status}: {reason})", PATH, label,
                                          f"check ${self.config.token_env}")
                if status not in RETRYABLE_STATUS:
                    raise SourceProtocolError(SOURCE, f"refused the query ({status}: {reason})", PATH, label)
                last, wait_s = f"answered {status} ({reason})", _retry_after_s(response)
            if attempt == self.config.max_attempts:
                break
            cap = self.config.backoff_max_s
            delay = (self._rng.uniform(0.0, min(cap, self.config.backoff_base_s * 2 ** (attempt - 1)))
                     if wait_s is None else min(wait_s, cap))
            log.warning("%s %s for %s (%s); retry %d/%d in %.1f s", SOURCE, last, PATH, label, attempt,
                        self.config.max_attempts - 1, delay)
            self._sleep(delay)
        raise SourceUnavailable(SOURCE, f"{last} (gave up after {self.config.max_attempts} attempts)", PATH, label)


def _in_window(wire: pl.DataFrame, window: Window, started_from: datetime) -> pl.DataFrame:
    """Rows that ended in the window (and started no earlier than the lookback allows); a row whose
    endTime does not parse is kept when it started in the window, for the contract to name."""
    start = instant("startTime", wire.schema["startTime"])[0]
    end = instant("endTime", wire.schema["endTime"])[0]
    ended_inside = (end >= window.start) & (end < window.end) & (start.is_null() | (start >= started_from))
    unreadable = end.is_null() & (start >= window.start) & (start < window.end)
    return wire.filter(ended_inside.fill_null(False) | unreadable.fill_null(False))


def _reason(response: httpx.Response) -> str:
    """LiteLLM's words for a refusal, on one line: FastAPI's `detail` list, or its `error.message`."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return " ".join(response.text.split())[:200] or response.reason_phrase
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):
        return "; ".join(f"{'.'.join(map(str, d.get('loc', [])))}: {d.get('msg')}" for d in detail if isinstance(d, dict))
    if isinstance(detail, dict):
        detail = detail.get("error") or detail
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else detail
    return " ".join(str(message or response.reason_phrase).split())[:300]


def _floor_s(at: datetime) -> datetime:
    return naive_utc(at).replace(microsecond=0)


def _ceil_s(at: datetime) -> datetime:
    floor = _floor_s(at)
    return floor if floor == naive_utc(at) else floor + timedelta(seconds=1)


def from_config(section: LiteLLMApiConfig, app) -> LiteLLMApi:
    """The registry's factory: the adapter of `[requests]`, replicas mapped by `[[resource_map]]`,
    unrouted requests by `[models]`."""
    return LiteLLMApi(section, SpendLogMapping(ResourceMap(app.resource_map), app.models, section.model_field))
