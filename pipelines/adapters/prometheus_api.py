"""The Prometheus HTTP API as the cross-check reads it: one GET, retried where that can help,
and Prometheus's own error message on one line where it cannot.

docs/querying/api.md (2.42): every answer is `{"status": "success" | "error", "data": ...,
"errorType": ..., "error": ..., "warnings": [...]}`; web/api/v1/api.go `respondError` maps
bad_data → 400, execution → 422, canceled and timeout → 503, internal → 500.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

import httpx
import orjson

from pipelines.client import (RETRYABLE_STATUS, SourceAuthError, SourceProtocolError, SourceUnavailable,
                              _retry_after_s, tls_context)

log = logging.getLogger(__name__)


class PrometheusApi:
    """GETs `data` of one Prometheus; the bearer token (if any) is never shown."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None,
        token_env: str | None,
        timeout_s: float,
        transport: httpx.BaseTransport | None = None,
        max_attempts: int = 4,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 20.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        headers = {"Accept": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
        # credentials written into the URL are dropped: they would be sent and logged with every request
        base = httpx.URL(url).copy_with(userinfo=b"")
        self.source = f"prometheus ({base.host}{f':{base.port}' if base.port else ''})"
        self.token_env = token_env
        self._http = httpx.Client(base_url=base, verify=tls_context(), headers=headers, transport=transport, timeout=timeout_s)
        self._max_attempts, self._backoff = max(1, max_attempts), (backoff_base_s, backoff_max_s)
        self._sleep, self._rng = sleep, random.Random()

    def close(self) -> None:
        self._http.close()

    def data(self, path: str, params: dict[str, str], what: str) -> dict:
        """The `data` object of a successful answer; `what` names the request in errors."""
        body = self._get(path, params, what)
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise SourceProtocolError(self.source, "sent a body that is not JSON", path, what) from None
        if not isinstance(document, dict) or document.get("status") != "success" \
                or not isinstance(document.get("data"), dict):
            said = error_message(body) or "no status success and no data"
            raise SourceProtocolError(self.source, f"answered with an error ({said})", path, what)
        for warning in document.get("warnings") or []:
            log.warning("%s warned for %s (%s): %s", self.source, path, what, warning)
        return document["data"]

    def _get(self, path: str, params: dict[str, str], what: str) -> bytes:
        last = ""
        for attempt in range(1, self._max_attempts + 1):
            wait_s = None
            try:
                response = self._http.get(path, params=params)
            except httpx.TransportError as exc:  # timeouts, refused or dropped connections
                last = f"failed with {exc.__class__.__name__}"
            else:
                status, said = response.status_code, error_message(response.content)
                answered = f"answered {status}" + (f" ({said})" if said else "")
                if status in (401, 403):
                    hint = (f"check {self.token_env}" if self.token_env
                            else "set token_env in [crosscheck] to send a bearer token")
                    raise SourceAuthError(self.source, f"refused the request ({status})", path, what, hint)
                if status in RETRYABLE_STATUS:  # 503 is a query timeout: a retry may find it cached
                    last, wait_s = answered, _retry_after_s(response)
                elif status != 200 or said:
                    raise SourceProtocolError(self.source, answered, path, what)
                else:
                    return response.content
            if attempt == self._max_attempts:
                break
            base_s, max_s = self._backoff
            delay = (min(wait_s, max_s) if wait_s is not None
                     else self._rng.uniform(0, min(max_s, base_s * 2 ** (attempt - 1))))  # full jitter
            log.warning("%s %s for %s (%s); retry %d/%d in %.1f s", self.source, last, path, what, attempt,
                        self._max_attempts - 1, delay)
            self._sleep(delay)
        raise SourceUnavailable(self.source, f"{last} (gave up after {self._max_attempts} attempts)", path, what)


def error_message(body: bytes) -> str | None:
    """`<errorType>: <error>` of a Prometheus error envelope, on one line; None for anything else."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(document, dict) or document.get("status") != "error":
        return None
    text = f"{document.get('errorType', 'error')}: {document.get('error', '(no message)')}"
    return " ".join(text.split())
