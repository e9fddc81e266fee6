"""Fleets written by hand as the contract APIs serve them (JSON-ready dicts), for tests that run
the whole pipeline over a few known rows: every count they assert can be worked out from here."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

UTC = timezone.utc


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def minutes(first: datetime, last: datetime, step_min: int = 1) -> list[datetime]:
    """first, first + step, ... up to and including last."""
    count = int((last - first).total_seconds() // (60 * step_min)) + 1
    return [first + timedelta(minutes=step_min * k) for k in range(count)]


def sample(resource_id: str, at: datetime, cumulative: Decimal, *, tier: str = "h100-class",
           state: str = "running", rate: str = "6.00") -> dict:
    return {
        "sampled_at": iso(at), "resource_id": resource_id, "tier": tier, "gpu_type": "H100-SXM-80GB",
        "gpu_count": 1, "price_model": "on_demand", "state": state, "rate_per_hour": rate,
        "cumulative_cost": str(cumulative), "billing_period_start": "2026-10-01T00:00:00Z", "currency": "USD",
    }


def request(request_id: str, received: datetime, finished: datetime, *, resource_id: str = "gpu-h1",
            tier: str = "h100-class", completion_tokens: int = 1000) -> dict:
    return {
        "request_id": request_id, "received_at": iso(received), "first_token_at": None, "finished_at": iso(finished),
        "model": "m1", "tier": tier, "resource_id": resource_id, "status": 200, "error": None,
        "prompt_tokens": 100, "completion_tokens": completion_tokens, "cached_tokens": 0, "api_key_id": None,
    }


def event(resource_id: str, at: datetime, name: str, *, tier: str = "h100-class") -> dict:
    return {"at": iso(at), "resource_id": resource_id, "tier": tier, "event": name}
