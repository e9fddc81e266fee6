"""The contract APIs of DESIGN.md "Sources" as adapters: `gateway_api` (requests, events) and
`snapshots_api` (billing).

For now they describe and probe (`invoice-true doctor`); reading still goes through
pipelines/defs/ingest with `HttpSource`, and moves here when the assets read through adapters.

A probe GETs the endpoint over the last hour (`start`/`end` on the source's day column) with the
same client as a run (so a refused token and an unreachable host read as they would in a run),
follows the pages to count the rows, and reads the newest instant from them. The page size is
the run's (INVOICE_TRUE_PAGE_LIMIT): an hour of a busy fleet is a few pages, where `limit=1`
would be one request per row.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import datetime
from typing import ClassVar

import httpx
import orjson
import polars as pl

from pipelines.adapters.base import probe_summary, probe_window
from pipelines.adapters.configs import GatewayApiConfig, SnapshotsApiConfig
from pipelines.client import SourceClient, split_envelope

PROBE_TIMEOUT_S = 10.0  # doctor answers within seconds; a run keeps its own, longer timeouts
PROBE_ATTEMPTS = 2


def rfc3339(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


class ContractApi:
    """One endpoint of a contract API, configured by its section's `url_env` / `token_env`."""

    name: ClassVar[str]
    feeds: ClassVar[str]
    label: ClassVar[str]  # how errors name the source, as a run's do: "gateway API", "billing API"
    path: ClassVar[str]
    day_column: ClassVar[str]  # what start/end select on (DESIGN.md "Day edges")

    def __init__(self, config: GatewayApiConfig | SnapshotsApiConfig, app: object = None) -> None:
        self.config = config

    @property
    def url(self) -> str | None:
        return self.config.env_value("url_env")

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
        with SourceClient(
            self.url.rstrip("/"),
            self.config.env_value("token_env") or "",
            source=self.label,
            timeout_s=PROBE_TIMEOUT_S,
            max_attempts=PROBE_ATTEMPTS,
            backoff_base_s=0.2,
            backoff_max_s=1.0,
            page_limit=int(os.environ.get("INVOICE_TRUE_PAGE_LIMIT", "100000")),
            token_env=self.config.token_env,
        ) as client:
            for page in client.iter_pages(self.path, {"start": rfc3339(start), "end": rfc3339(end)}):
                count, latest = count_and_newest(bytes(split_envelope(page)[0]), self.day_column)
                rows += count
                newest = latest if newest is None or (latest is not None and latest > newest) else newest
        return probe_summary(rows, newest)

    def read(self, window) -> Iterator[pl.DataFrame]:
        raise NotImplementedError("contract APIs are still read by pipelines/defs/ingest")

    def payloads(self, rows: list[int]) -> dict[int, str]:
        raise NotImplementedError("contract APIs are still read by pipelines/defs/ingest")


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
    name, feeds, label = "gateway_api", "requests", "gateway API"
    path, day_column = "/v1/usage/requests", "finished_at"


class FleetEvents(ContractApi):
    name, feeds, label = "gateway_api", "fleet_events", "gateway API"
    path, day_column = "/v1/fleet/events", "at"


class BillingSnapshots(ContractApi):
    name, feeds, label = "snapshots_api", "billing_snapshots", "billing API"
    path, day_column = "/v1/billing/snapshots", "sampled_at"
