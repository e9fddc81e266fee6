"""Resources: the two HTTP sources and the DuckDB warehouse, configured from the environment (the
variables the configuration file names for the contract APIs, BILLING_API_URL etc. by default).

With no source URLs set, the sources serve the bundled fixture fleet on a loopback port
and are read through the same HTTP client: the demo exercises the real path.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import PrivateAttr

from pipelines import warehouse
from pipelines.adapters.configs import GatewayApiConfig, SnapshotsApiConfig
from pipelines.client import SourceClient
from pipelines.config import load_config

DEMO_LABEL = "bundled demo fleet (fixtures/): demo data, not a real fleet"

_demo_lock = threading.Lock()
_demo_server: tuple[str, str] | None = None  # (base URL, token) of this process's demo server


def demo_server() -> tuple[str, str]:
    """Start (once per process) a loopback server over the bundled fixture fleet."""
    global _demo_server
    with _demo_lock:
        if _demo_server is None:
            from fixtures.fleet import default_week
            from fixtures.server import FixtureServer

            token = secrets.token_urlsafe(24)
            server = FixtureServer(default_week(), token=token).start()
            _demo_server = (server.url, token)
        return _demo_server


class HttpSource(dg.ConfigurableResource):
    """One of the two HTTP sources of DESIGN.md (billing API or gateway API)."""

    name: str
    url: str | None = None
    token: str | None = None
    token_env: str | None = None  # the variable's name, for the hint on a refused token
    timeout_s: float = 60.0
    max_attempts: int = 6
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    page_limit: int = 100_000

    @property
    def is_demo(self) -> bool:
        return not self.url

    @contextmanager
    def client(self) -> Iterator[SourceClient]:
        url, token = (self.url, self.token or "") if self.url else demo_server()
        with SourceClient(
            url.rstrip("/"),
            token,
            source=self.name,
            timeout_s=self.timeout_s,
            max_attempts=self.max_attempts,
            backoff_base_s=self.backoff_base_s,
            backoff_max_s=self.backoff_max_s,
            page_limit=self.page_limit,
            token_env=self.token_env,
        ) as client:
            yield client


class Warehouse(dg.ConfigurableResource):
    """The published DuckDB file (WAREHOUSE_PATH) and the pipeline's working file beside it."""

    path: str = warehouse.DEFAULT_PATH

    @property
    def published_path(self) -> Path:
        return Path(self.path).expanduser().resolve()

    @property
    def work_path(self) -> Path:
        return warehouse.work_path_for(self.published_path)

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with warehouse.connect(self.work_path) as con:
            yield con


def _token(name: str) -> str | dg.EnvVar | None:
    # An EnvVar is resolved at run time and shown in the UI by name only, never by value.
    return dg.EnvVar(name) if os.environ.get(name) else None


def _url(name: str) -> str | None:
    """A source URL without `user:pass@`: resource config is shown in the Dagster UI, and the sources
    authenticate with the bearer token only."""
    value = os.environ.get(name) or None
    if value and "@" in value:
        import httpx

        value = str(httpx.URL(value).copy_with(userinfo=b""))
    return value


def _contract_api_sections() -> tuple[SnapshotsApiConfig, GatewayApiConfig]:
    """The variables naming the contract APIs' URLs and tokens: the configuration file's, where it
    reads a source from them, else the defaults (BILLING_API_URL, GATEWAY_API_TOKEN, ...)."""
    config = load_config()
    billing = config.billing if isinstance(config.billing, SnapshotsApiConfig) else SnapshotsApiConfig()
    gateways = [s for s in (config.requests, config.events) if isinstance(s, GatewayApiConfig)]
    return billing, (gateways[0] if gateways else GatewayApiConfig())


def resources_from_env() -> dict[str, dg.ConfigurableResource]:
    # Knobs for operators and for fault tests (short timeouts and backoff, small pages).
    http = dict(
        max_attempts=int(os.environ.get("INVOICE_TRUE_HTTP_ATTEMPTS", "6")),
        timeout_s=float(os.environ.get("INVOICE_TRUE_HTTP_TIMEOUT_S", "60")),
        backoff_base_s=float(os.environ.get("INVOICE_TRUE_HTTP_BACKOFF_S", "0.5")),
        backoff_max_s=float(os.environ.get("INVOICE_TRUE_HTTP_BACKOFF_MAX_S", "30")),
        page_limit=int(os.environ.get("INVOICE_TRUE_PAGE_LIMIT", "100000")),
    )
    billing, gateway = _contract_api_sections()
    return {
        "billing_api": HttpSource(
            name="billing API",
            url=_url(billing.url_env),
            token=_token(billing.token_env),
            token_env=billing.token_env,
            **http,
        ),
        "gateway_api": HttpSource(
            name="gateway API",
            url=_url(gateway.url_env),
            token=_token(gateway.token_env),
            token_env=gateway.token_env,
            **http,
        ),
        "warehouse": Warehouse(path=str(warehouse.published_path_from_env())),
    }
