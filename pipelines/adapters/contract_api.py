"""The contract APIs of DESIGN.md ("Sources"): `gateway_api` (requests, fleet events) and
`snapshots_api` (billing samples), pulled with `pipelines.client.SourceClient`.

Their wire is the canonical rows themselves, as JSON pages. A fetch thread downloads pages and
writes each one's rows as JSON lines to a scratch folder, while two parser threads read the pages
already there into polars (`json_pages`), type the text exactly (`wire_text`) and apply the
contract; this thread numbers the rows in page order. A rejected row is then worded by the
pydantic model, in the contract's own words (only rejected rows go through pydantic). The page files also answer `payloads`: the exact
text of a row that landing later finds conflicting.

With no URL configured, the bundled demo fleet is served on a loopback port and read through
the same client: the demo exercises the real path.

A probe (`invoice-true doctor`) GETs the endpoint over the last hour with the same client as a
run (so a refused token and an unreachable host read as they would in a run), follows the pages
to count the rows, and reads the newest instant from them without typing every row.
"""

from __future__ import annotations

import bisect
import json
import os
import queue
import re
import secrets
import shutil
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import ClassVar

import httpx
import orjson
import polars as pl

from models.sources import first_error
from pipelines.adapters.base import Window, probe_summary, probe_window
from pipelines.adapters.configs import GatewayApiConfig, SnapshotsApiConfig
from pipelines.adapters.json_pages import as_json_array, as_json_lines, decimal_quoter, read_rows, read_rows_slowly
from pipelines.client import SourceClient, split_envelope
from pipelines.sources.frames import ORIGIN, PAYLOAD, PROBLEM_FIELD, PROBLEM_REASON, ROW, check_contract
from pipelines.sources.registry import SOURCES, CanonicalSource
from pipelines.sources.wire_text import type_text_columns

PARSERS = 2  # pages typed side by side (this machine has 2 cores; more only holds more pages)
PATHS = {
    "requests": "/v1/usage/requests",
    "billing_snapshots": "/v1/billing/snapshots",
    "fleet_events": "/v1/fleet/events",
}


@dataclass
class _Page:
    number: int
    path: Path
    first_row: int  # `_row` of its first row
    rows: int = 0
    as_lines: bool = True  # lines of JSON, else a JSON list of each row's exact text


class ContractApiAdapter:
    """One canonical source read from its contract endpoint."""

    name = "contract_api"

    def __init__(self, source: CanonicalSource, client: Callable[[], SourceClient], *, label: str,
                 expected_currency: str | None = None, scratch: Path | None = None) -> None:
        self.source, self.feeds, self._client = source, source.name, client
        self.path, self.label = PATHS[source.name], label
        self.expected_currency = expected_currency
        self.scratch_root = scratch
        self._pages: list[_Page] = []
        self._folder: Path | None = None
        self._quote = decimal_quoter(tuple(c.name for c in source.columns if c.kind == "decimal"))

    def describe(self) -> str:
        return f"{self.label} {self.path}"

    def close(self) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    # -- reading -------------------------------------------------------------------------------
    def read(self, window: Window) -> Iterator[pl.DataFrame]:
        self.close()
        self._folder = Path(tempfile.mkdtemp(prefix=f"ingest-{self.source.name}-", dir=self.scratch_root))
        self._pages = []
        with self._client() as client:
            pages = client.iter_pages(self.path, {"start": _rfc3339(window.start), "end": _rfc3339(window.end)})
            with _PageWriter(pages, self._folder, self._quote) as written, \
                    ThreadPoolExecutor(PARSERS, thread_name_prefix="ingest-parse") as pool:
                parsing: deque = deque()
                for number, path, as_lines, text in written:
                    page = _Page(number, path, 0, as_lines=as_lines)
                    parsing.append((page, pool.submit(self._parsed, page, text, window)))
                    if len(parsing) == PARSERS:
                        yield self._numbered(*parsing.popleft())
                while parsing:
                    yield self._numbered(*parsing.popleft())

    def _parsed(self, page: _Page, text: bytes, window: Window) -> pl.DataFrame:
        """A page's rows typed and checked, `_row` counted from 0 (on a parser thread: polars and
        DuckDB release the GIL, so pages parse side by side while landing stores the last one)."""
        columns = list(self.source.column_names)
        frame = read_rows(text, columns) if page.as_lines else None
        if frame is None:  # the slow path: element by element, exact text kept
            frame, texts = read_rows_slowly(as_json_array(text) if page.as_lines else text, columns)
            page.path.write_text(json.dumps(texts))
            page.as_lines = False
        page.rows = frame.height
        frame = frame.with_columns(pl.int_range(0, frame.height, dtype=pl.Int64).alias(ROW))
        typed = type_text_columns(frame, self.source)
        return check_contract(typed, self.source, window=window.bounds, expected_currency=self.expected_currency)

    def _numbered(self, page: _Page, parsed: Future) -> pl.DataFrame:
        """The page's rows numbered after the pages before it, rejected rows worded (in page order)."""
        checked = parsed.result()
        page.first_row = self._pages[-1].first_row + self._pages[-1].rows if self._pages else 1
        self._pages.append(page)
        checked = checked.with_columns(pl.col(ROW) + page.first_row)
        rejected = checked.filter(pl.col(PROBLEM_FIELD).is_not_null())
        if rejected.height:
            checked = self._reworded(checked, rejected, page)
        return checked

    def _reworded(self, checked: pl.DataFrame, rejected: pl.DataFrame, page: _Page) -> pl.DataFrame:
        """Rejected rows worded as the pydantic contract words them, with their text and origin."""
        texts = self.payloads(rejected[ROW].to_list())
        fields, reasons = [], []
        for row, field, reason in rejected.select(ROW, PROBLEM_FIELD, PROBLEM_REASON).iter_rows():
            worded = None if field == "row" else _pydantic_words(self.source, texts[row])
            if worded is not None:
                field, reason = worded
            elif not reason.startswith(field) and field != "row":  # a rule pydantic does not hold
                reason = f"{field} {reason}"
            fields.append(field)
            reasons.append(reason)
        fixed = pl.DataFrame({
            ROW: rejected[ROW], "_f": fields, "_r": reasons,
            "_p": [texts[r] for r in rejected[ROW].to_list()],
        }, schema={ROW: pl.Int64, "_f": pl.String, "_r": pl.String, "_p": pl.String})
        origin = f"GET {self.path} page {page.number}"
        return checked.join(fixed, on=ROW, how="left").with_columns(
            pl.coalesce("_f", PROBLEM_FIELD).alias(PROBLEM_FIELD),
            pl.coalesce("_r", PROBLEM_REASON).alias(PROBLEM_REASON),
            pl.coalesce("_p", PAYLOAD).alias(PAYLOAD),
            pl.when(pl.col("_f").is_not_null()).then(pl.lit(origin) + ", row " + (pl.col(ROW) - page.first_row + 1)
                                                     .cast(pl.String)).otherwise(pl.col(ORIGIN)).alias(ORIGIN),
        ).drop("_f", "_r", "_p")

    def payloads(self, rows: list[int]) -> dict[int, str]:
        """The exact JSON text of rows by `_row`, read back from the page files."""
        starts = [p.first_row for p in self._pages]
        wanted: dict[int, list[int]] = {}
        for row in rows:
            wanted.setdefault(bisect.bisect_right(starts, row) - 1, []).append(row)
        found = {}
        for index, numbers in wanted.items():
            page = self._pages[index]
            data = page.path.read_bytes()
            texts = data.decode("utf-8").split("\n") if page.as_lines else json.loads(data)
            for row in numbers:
                found[row] = texts[row - page.first_row]
        return found


def _pydantic_words(source: CanonicalSource, text: str) -> tuple[str, str] | None:
    try:
        row = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return first_error(source.model, row)


def _rfc3339(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _PageWriter:
    """Fetches pages on a background thread and writes each one's `data` array to a file (as JSON
    lines where it is a compact array of objects, see json_pages) and hands the same text over, so
    the next pages download while the parser threads type the ones already here. A fetch error is raised in
    the reading thread; leaving the context stops the fetch thread and waits for it."""

    _DONE = object()

    def __init__(self, pages, folder: Path, quote) -> None:
        self._pages, self._folder, self._quote = pages, folder, quote
        self._ready: queue.Queue = queue.Queue(maxsize=4)  # bounds the pages waiting (~40 MB each)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._fetch, name="ingest-fetch", daemon=True)

    def __enter__(self) -> _PageWriter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        while self._thread.is_alive():  # unblock a writer waiting on a full queue
            try:
                self._ready.get_nowait()
            except queue.Empty:
                pass
            self._thread.join(timeout=0.05)

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _fetch(self) -> None:
        try:
            for number, body in enumerate(self._pages, start=1):
                if self._stop.is_set():
                    return
                try:
                    rows, _ = split_envelope(body)
                except ValueError as exc:
                    raise ValueError(f"page {number} is not a valid page: {exc}") from None
                path = self._folder / f"page-{number:06d}.json"
                array = self._quote(bytes(rows)) if self._quote else rows
                lines = as_json_lines(array)  # here, so the reading thread only reads them
                text = bytes(array) if lines is None else lines
                path.write_bytes(text)  # kept for `payloads`; the reading thread is handed the text
                if not self._put((number, path, lines is not None, text)):
                    return
            self._put(self._DONE)
        except BaseException as exc:  # handed to the reading thread
            self._put(exc)

    def __iter__(self) -> Iterator[tuple[int, Path, bool, bytes]]:
        while True:
            item = self._ready.get()
            if item is self._DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item


# -- configured endpoints ------------------------------------------------------------------------
DEMO_LABEL = "bundled demo fleet (fixtures/): demo data, not a real fleet"
PROBE_TIMEOUT_S = 10.0  # doctor answers within seconds; a run keeps its own, longer timeouts
PROBE_ATTEMPTS = 2
_demo_lock = threading.Lock()
_demo: tuple[str, str] | None = None  # (base URL, token) of this process's demo server


def demo_server() -> tuple[str, str]:
    """Start (once per process) a loopback server over the bundled fixture fleet."""
    global _demo
    with _demo_lock:
        if _demo is None:
            from fixtures.fleet import default_week
            from fixtures.server import FixtureServer

            token = secrets.token_urlsafe(24)
            _demo = (FixtureServer(default_week(), token=token).start().url, token)
        return _demo


def http_settings() -> dict:
    """The client's knobs, from the environment: for operators, and for fault tests (short
    timeouts and backoff, small pages)."""
    return dict(
        max_attempts=int(os.environ.get("INVOICE_TRUE_HTTP_ATTEMPTS", "6")),
        timeout_s=float(os.environ.get("INVOICE_TRUE_HTTP_TIMEOUT_S", "60")),
        backoff_base_s=float(os.environ.get("INVOICE_TRUE_HTTP_BACKOFF_S", "0.5")),
        backoff_max_s=float(os.environ.get("INVOICE_TRUE_HTTP_BACKOFF_MAX_S", "30")),
        page_limit=int(os.environ.get("INVOICE_TRUE_PAGE_LIMIT", "100000")),
    )


def rfc3339(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


class ContractApi(ContractApiAdapter):
    """One endpoint of a contract API, configured by its section's `url_env` / `token_env`."""

    name: ClassVar[str]
    label: ClassVar[str]  # how errors name the source: "gateway API", "billing API"
    canonical: ClassVar[str]

    def __init__(self, config: GatewayApiConfig | SnapshotsApiConfig, app=None, *, scratch: Path | None = None) -> None:
        self.config = config
        currency = app.accounting.currency if app is not None else None
        super().__init__(SOURCES[self.canonical], self.client, label=self.label, expected_currency=currency,
                         scratch=scratch)

    @property
    def url(self) -> str | None:
        return self.config.env_value("url_env")

    @property
    def is_demo(self) -> bool:
        return not self.url

    def client(self, **overrides) -> SourceClient:
        if self.url:
            # Credentials written into the URL would be sent as Basic auth and logged: SourceClient drops them.
            url, token = self.url.rstrip("/"), self.config.env_value("token_env") or ""
        else:
            url, token = demo_server()
        return SourceClient(url, token, source=self.label, token_env=self.config.token_env,
                            **(http_settings() | overrides))

    def describe(self) -> str:
        if not self.url:
            return "bundled demo fleet"
        url = httpx.URL(self.url)  # host, port and path only: never the userinfo or the query
        port = f":{url.port}" if url.port else ""
        return f"{url.host}{port}{url.path.rstrip('/')}{self.path}"

    def probe(self) -> str:
        if not self.url:
            return f"{self.config.url_env} is not set: runs read the bundled demo fleet (not probed)"
        start, end = probe_window()
        rows, newest = 0, None
        with self.client(timeout_s=PROBE_TIMEOUT_S, max_attempts=PROBE_ATTEMPTS, backoff_base_s=0.2,
                          backoff_max_s=1.0) as client:
            for page in client.iter_pages(self.path, {"start": rfc3339(start), "end": rfc3339(end)}):
                count, latest = count_and_newest(bytes(split_envelope(page)[0]), self.source.day_column)
                rows += count
                newest = latest if newest is None or (latest is not None and latest > newest) else newest
        return probe_summary(rows, newest)


def count_and_newest(array: bytes, column: str) -> tuple[int, datetime | None]:
    """Rows of a page's `data` array, and the latest of their `column` instants (any RFC 3339
    spelling: `…Z`, `….000000Z`, `…+00:00`)."""
    rows = len(orjson.loads(array))
    # The instants are picked out of the text by the C regex engine: no Python loop per row.
    found = re.findall(rb'"' + re.escape(column.encode()) + rb'"\s*:\s*"([^"]*)"', array)
    if not found:
        return rows, None
    instants = pl.Series(found, dtype=pl.Binary).cast(pl.String).str.to_datetime(
        format="%Y-%m-%dT%H:%M:%S%.f%#z", time_zone="UTC", strict=False
    )
    return rows, instants.max()


class GatewayRequests(ContractApi):
    name, canonical, label = "gateway_api", "requests", "gateway API"


class FleetEvents(ContractApi):
    name, canonical, label = "gateway_api", "fleet_events", "gateway API"


class BillingSnapshots(ContractApi):
    name, canonical, label = "snapshots_api", "billing_snapshots", "billing API"
