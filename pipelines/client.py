"""The HTTP client every source is pulled with (DESIGN.md "Sources").

All three endpoints answer ``{"data": [...], "next_cursor": "<opaque>" | null}``. The client
follows cursors, retries what is transient, fails at once on a refused token, and yields each
page's raw body untouched so ingest can parse pages in bulk (and read decimals exactly).
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from functools import cache

import httpx
import tenacity


@cache
def tls_context():
    """One TLS context per process for every client: httpx builds a new one per client by default,
    loading the CA bundle each time (about 30 ms; a run opens several clients)."""
    return httpx.create_ssl_context()


log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 425, 429}) | frozenset(range(500, 600))

# Fast path for the usual key order: find the cursor at the end of the body without building a
# Python object per row (orjson needs ~1.3 s per 1 M request rows; this needs microseconds).
# A truncated body always loses its tail, so it can never match; anything unusual falls back
# to a full parse.
_DATA_OPEN = re.compile(rb'\A\s*\{\s*"data"\s*:\s*(?=\[)')
_CURSOR_TAIL = re.compile(rb'\]\s*,\s*"next_cursor"\s*:\s*(null|"(?:[^"\\]|\\.)*")\s*\}\s*\Z')
_TAIL_SPAN = 8192


class SourceError(Exception):
    """A source could not be read. ``str()`` is one line naming source, path and window."""

    day = None  # set by the caller that knows which UTC day it was fetching

    def __init__(self, source: str, what: str, path: str, window: str = "", hint: str = "") -> None:
        self.source, self.what, self.path, self.window, self.hint = source, what, path, window, hint
        text = f"{source} {what} for {path}" + (f" ({window})" if window else "")
        super().__init__(text + (f" — {hint}" if hint else ""))

    def __reduce__(self):
        # Days land in worker processes: the error crosses back whole, with the day it was for.
        return type(self), (self.source, self.what, self.path, self.window, self.hint), {"day": self.day}


class SourceAuthError(SourceError):
    """401/403: the token was refused. Never retried."""


class SourceUnavailable(SourceError):
    """429, 5xx, timeouts or dropped connections outlasted every retry."""


class SourceProtocolError(SourceError):
    """The source broke the contract: a repeated cursor, malformed pages, or a 4xx other than auth."""


def split_envelope(body: bytes) -> tuple[bytes | memoryview, str | None]:
    """(the `data` array's JSON text, next_cursor) of a page; ValueError when it is no valid envelope.

    The array's text is returned as sent, so decimals sent as JSON numbers keep every digit.
    """
    head = _DATA_OPEN.match(body)
    tail = _CURSOR_TAIL.search(body, max(0, len(body) - _TAIL_SPAN)) if head else None
    if head and tail:
        cursor = None if tail.group(1) == b"null" else json.loads(tail.group(1))
        return memoryview(body)[head.end() : tail.start() + 1], cursor
    try:  # any other key order, spacing or extra keys: parse fully, floats kept as their text
        page = json.loads(body, parse_float=str)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"not a JSON page ({exc.__class__.__name__})") from None
    if not isinstance(page, dict) or not isinstance(page.get("data"), list):
        raise ValueError("no `data` array in the page")
    cursor = page.get("next_cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise ValueError("`next_cursor` is neither a string nor null")
    return json.dumps(page["data"]).encode(), cursor


def _retry_after_s(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


class SourceClient:
    """Pages through one source's endpoints with a bearer token; the token is never shown."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        source: str,
        transport: httpx.BaseTransport | None = None,
        timeout_s: float = 30.0,
        max_attempts: int = 6,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
        page_limit: int = 50_000,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        token_env: str | None = None,
    ) -> None:
        self.source = source
        self.token_env = token_env or source.upper().replace(" ", "_") + "_TOKEN"  # "billing API" → BILLING_API_TOKEN
        self.max_attempts = max(1, max_attempts)
        self.backoff_base_s, self.backoff_max_s = backoff_base_s, backoff_max_s
        self.page_limit = page_limit
        self._sleep, self._rng = sleep, rng or random.Random()
        # Credentials written into the URL (`https://user:pass@host`) are dropped: httpx would send them
        # as Basic auth in place of the bearer token, and log them with every request URL.
        self._http = httpx.Client(
            base_url=httpx.URL(base_url).copy_with(userinfo=b""),
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            transport=transport,
            timeout=timeout_s,
            verify=tls_context(),
        )

    def __repr__(self) -> str:
        return f"SourceClient(source={self.source!r}, host={self._http.base_url.host!r})"

    def __enter__(self) -> SourceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def iter_pages(self, path: str, params: dict[str, str]) -> Iterator[bytes]:
        """Each page's raw body, in order, following `next_cursor` until it is null."""
        window = _describe_window(params)
        query = {"limit": str(self.page_limit), **params}
        seen: set[str] = set()
        while True:
            body, cursor = self._fetch_page(path, query, window)
            yield body
            if cursor is None:
                return
            if cursor in seen:
                raise SourceProtocolError(self.source, f"repeated cursor {cursor[:40]!r}", path, window)
            seen.add(cursor)
            query = {**query, "cursor": cursor}

    def _fetch_page(self, path: str, query: dict[str, str], window: str) -> tuple[bytes, str | None]:
        """One page, retried by tenacity (full-jitter backoff, `Retry-After` honoured up to the cap);
        a refused token or another 4xx fails at once."""
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_attempts),
            wait=self._wait_s,
            retry=tenacity.retry_if_exception_type(_Transient),
            sleep=self._sleep,
            before_sleep=lambda state: log.warning(
                "%s %s for %s (%s); retry %d/%d in %.1f s", self.source, state.outcome.exception().what, path,
                window, state.attempt_number, self.max_attempts - 1, state.upcoming_sleep),
            reraise=True,
        )
        try:
            return retrying(self._attempt, path, query, window)
        except _Transient as last:
            error = SourceProtocolError if last.malformed else SourceUnavailable
            raise error(self.source, f"{last.what} (gave up after {self.max_attempts} attempts)", path, window) from None

    def _attempt(self, path: str, query: dict[str, str], window: str) -> tuple[bytes, str | None]:
        try:
            response = self._http.get(path, params=query)
        except httpx.TransportError as exc:  # timeouts, refused or dropped connections, cut bodies
            raise _Transient(f"failed with {exc.__class__.__name__}") from None
        status = response.status_code
        if status in (401, 403):
            raise SourceAuthError(self.source, f"refused the token ({status})", path, window, f"check {self.token_env}")
        if status in RETRYABLE_STATUS:
            raise _Transient(f"answered {status}", retry_after_s=_retry_after_s(response))
        if status != 200:
            raise SourceProtocolError(self.source, f"answered {status}", path, window)
        try:
            _, cursor = split_envelope(response.content)
        except ValueError as exc:  # no library checks a page's envelope: a malformed one is retried here
            raise _Transient(f"sent a malformed page: {exc}", malformed=True) from None
        return response.content, cursor

    def _wait_s(self, state: tenacity.RetryCallState) -> float:
        asked = state.outcome.exception().retry_after_s
        if asked is not None:
            return min(asked, self.backoff_max_s)
        # Full jitter (AWS architecture blog): spreads retries of many clients over the whole window.
        return self._rng.uniform(0.0, min(self.backoff_max_s, self.backoff_base_s * 2 ** (state.attempt_number - 1)))


class _Transient(Exception):
    """An attempt that may succeed if tried again (tenacity retries these)."""

    def __init__(self, what: str, *, retry_after_s: float | None = None, malformed: bool = False) -> None:
        super().__init__(what)
        self.what, self.retry_after_s, self.malformed = what, retry_after_s, malformed


def _describe_window(params: dict[str, str]) -> str:
    if "start" in params or "end" in params:
        return f"window [{params.get('start', '…')}, {params.get('end', '…')})"
    if "billing_period" in params:
        return f"billing period {params['billing_period']}"
    return ""
