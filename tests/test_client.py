"""The source client against httpx.MockTransport: paging, retries, and refusals (DESIGN.md "Sources")."""

from __future__ import annotations

import json
import random
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from pipelines.client import (
    SourceAuthError,
    SourceClient,
    SourceProtocolError,
    SourceUnavailable,
    split_envelope,
)

TOKEN = "s3cr3t-token-value"
PATH = "/v1/billing/snapshots"
WINDOW = {"start": "2026-03-01T00:00:00Z", "end": "2026-03-02T00:00:00Z"}


def page(rows: list[dict], cursor: str | None) -> bytes:
    return json.dumps({"data": rows, "next_cursor": cursor}).encode()


def client_for(answers, **kwargs) -> tuple[SourceClient, list[httpx.Request], list[float]]:
    """A client whose server answers from ``answers`` in order (a Response, bytes, or an exception)."""
    requests: list[httpx.Request] = []
    sleeps: list[float] = []
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, bytes):
            return httpx.Response(200, content=answer)
        return answer

    kwargs.setdefault("rng", random.Random(7))
    client = SourceClient("https://billing.example", TOKEN, source="billing API",
                          transport=httpx.MockTransport(handler), sleep=sleeps.append, **kwargs)
    return client, requests, sleeps


def jitter(*caps: float, seed: int = 7) -> list[float]:
    rng = random.Random(seed)
    return [rng.uniform(0.0, cap) for cap in caps]


def test_follows_cursors_across_three_pages_with_the_bearer_token():
    bodies = [page([{"n": 1}], "c1"), page([{"n": 2}], "c2"), page([{"n": 3}], None)]
    client, requests, sleeps = client_for(bodies, page_limit=2)
    with client:
        assert list(client.iter_pages(PATH, WINDOW)) == bodies
    assert [r.url.params.get("cursor") for r in requests] == [None, "c1", "c2"]
    assert {r.url.params["limit"] for r in requests} == {"2"}
    assert {r.url.params["start"] for r in requests} == {WINDOW["start"]}
    assert {r.headers["Authorization"] for r in requests} == {f"Bearer {TOKEN}"}
    assert sleeps == []


def test_retries_a_503_then_succeeds_after_a_jittered_backoff():
    body = page([{"n": 1}], None)
    client, requests, sleeps = client_for([httpx.Response(503), body])
    assert list(client.iter_pages(PATH, WINDOW)) == [body]
    assert len(requests) == 2
    assert sleeps == jitter(0.5)


def test_honours_retry_after_in_seconds_and_as_an_http_date_capped_by_backoff_max():
    in_a_minute = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=60), usegmt=True)
    answers = [
        httpx.Response(429, headers={"Retry-After": "2"}),
        httpx.Response(429, headers={"Retry-After": "120"}),
        httpx.Response(503, headers={"Retry-After": in_a_minute}),
        page([], None),
    ]
    client, _, sleeps = client_for(answers, backoff_max_s=30.0)
    list(client.iter_pages(PATH, WINDOW))
    assert sleeps == [2.0, 30.0, 30.0]


def test_gives_up_after_max_attempts_with_source_unavailable():
    client, requests, sleeps = client_for([httpx.Response(502)] * 3 + [httpx.ReadTimeout("slow")], max_attempts=4)
    with pytest.raises(SourceUnavailable) as caught:
        list(client.iter_pages(PATH, WINDOW))
    assert len(requests) == 4
    assert sleeps == jitter(0.5, 1.0, 2.0)
    assert str(caught.value) == (
        "billing API failed with ReadTimeout (gave up after 4 attempts) for /v1/billing/snapshots "
        "(window [2026-03-01T00:00:00Z, 2026-03-02T00:00:00Z))"
    )


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_token_fails_at_once_and_never_shows_the_token(status):
    client, requests, sleeps = client_for([httpx.Response(status, text=f"bad token {TOKEN}")])
    with pytest.raises(SourceAuthError) as caught:
        list(client.iter_pages(PATH, WINDOW))
    assert len(requests) == 1 and sleeps == []
    assert str(caught.value) == (
        f"billing API refused the token ({status}) for /v1/billing/snapshots "
        "(window [2026-03-01T00:00:00Z, 2026-03-02T00:00:00Z)) — check BILLING_API_TOKEN"
    )
    assert caught.value.source == "billing API"
    for text in (str(caught.value), repr(caught.value), repr(client), str(caught.value.args)):
        assert TOKEN not in text


def test_another_4xx_is_a_protocol_error_not_retried():
    client, requests, _ = client_for([httpx.Response(404)])
    with pytest.raises(SourceProtocolError, match="answered 404 for /v1/billing/snapshots"):
        list(client.iter_pages(PATH, WINDOW))
    assert len(requests) == 1


def test_a_repeated_cursor_is_an_error_not_a_loop():
    client, requests, _ = client_for([page([], "a"), page([], "b"), page([], "a")])
    with pytest.raises(SourceProtocolError, match="repeated cursor 'a'"):
        list(client.iter_pages(PATH, WINDOW))
    assert len(requests) == 3


def test_a_truncated_body_is_retried():
    body = page([{"n": i} for i in range(100)], None)
    client, requests, sleeps = client_for([body[:-25], body])
    assert list(client.iter_pages(PATH, WINDOW)) == [body]
    assert len(requests) == 2 and len(sleeps) == 1


def test_a_body_that_stays_malformed_is_a_protocol_error():
    client, requests, _ = client_for([b'{"data": [1, 2'] * 2, max_attempts=2)
    with pytest.raises(SourceProtocolError, match="malformed page"):
        list(client.iter_pages(PATH, WINDOW))
    assert len(requests) == 2


def test_split_envelope_reads_any_key_order_and_keeps_decimals_exact():
    rows, cursor = split_envelope(b'{"data": [{"c": 12345678901.123456789}] , "next_cursor" : "x\\"y"}')
    assert (bytes(rows), cursor) == (b'[{"c": 12345678901.123456789}]', 'x"y')
    rows, cursor = split_envelope(b'{"next_cursor": null, "data": [{"c": 12345678901.123456789}]}')
    assert (json.loads(rows), cursor) == ([{"c": "12345678901.123456789"}], None)
    for bad in (b'{"data": [{"c": 1}], "next_cursor": nul', b'{"rows": []}', b'{"data": [], "next_cursor": 5}'):
        with pytest.raises(ValueError):
            split_envelope(bad)
