"""The configuration section of every adapter: the keys DESIGN.md gives it, typed, with defaults.

One model per adapter, parsed from its section of the configuration file (`[requests]`,
`[billing]`, `[events]`, `[crosscheck]`); the `adapter` key picks the model. They live together
here, apart from the adapters' code, so reading the file never imports a database driver.

Secrets never live in the file (DESIGN.md "Configuration file"): a key ending in `_env` holds the
NAME of an environment variable, and `AdapterConfig.env_value` reads it. A URL written in the
file may not carry credentials for the same reason.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field, field_validator

from pipelines.adapters.base import AdapterConfig


def _no_credentials(url: str) -> str:
    # `scheme://user:pass@host` would put a secret in the file, and in every log line naming the URL.
    if "@" in url.partition("://")[2].partition("/")[0]:
        raise ValueError("holds credentials (user:pass@); put the secret in the variable a *_env key names")
    return url


class GatewayApiConfig(AdapterConfig):
    """The contract API of DESIGN.md "Sources" (requests at /v1/usage/requests, events at /v1/fleet/events)."""

    adapter: Literal["gateway_api"] = "gateway_api"
    url_env: str = Field("GATEWAY_API_URL", description="Variable holding the gateway API's base URL.")
    token_env: str = Field("GATEWAY_API_TOKEN", description="Variable holding its bearer token.")


class SnapshotsApiConfig(AdapterConfig):
    """The contract API's billing snapshots (/v1/billing/snapshots)."""

    adapter: Literal["snapshots_api"] = "snapshots_api"
    url_env: str = Field("BILLING_API_URL", description="Variable holding the billing API's base URL.")
    token_env: str = Field("BILLING_API_TOKEN", description="Variable holding its bearer token.")


class NoEventsConfig(AdapterConfig):
    """No fleet events: nothing is waking (DESIGN.md "Sources")."""

    adapter: Literal["none"] = "none"


class LiteLLMPostgresConfig(AdapterConfig):
    """LiteLLM proxy's `LiteLLM_SpendLogs` table, read-only from its PostgreSQL."""

    adapter: Literal["litellm_postgres"] = "litellm_postgres"
    dsn_env: str = Field(description="Variable holding the DSN, postgresql://user:pass@host:5432/litellm.")
    model_field: Literal["model_group", "model"] = Field(
        "model_group", description="The column naming the public model (model_group, else the deployment's model)."
    )
    max_request_s: int = Field(
        3600, gt=0, description="Longest request expected: rows are selected on startTime this far before the window."
    )


class LiteLLMApiConfig(AdapterConfig):
    """LiteLLM proxy's `GET /spend/logs/v2`, paged."""

    adapter: Literal["litellm_api"] = "litellm_api"
    url: str = Field(description="The proxy's base URL, e.g. http://litellm:4000.")
    token_env: str = Field(description="Variable holding a master or proxy-admin key (others see a subset).")
    # LiteLLM ≥ 1.95 accepts 1000; 1.81–1.94 answer 422 above 100 (notes/litellm.md §3.1).
    page_size: int = Field(100, ge=1, le=1000, description="Rows per page.")
    max_request_s: int = Field(3600, gt=0, description="Longest request expected (the filter is on startTime).")

    @field_validator("url")
    @classmethod
    def _url_without_credentials(cls, url: str) -> str:
        return _no_credentials(url)


class OtlpFilesConfig(AdapterConfig):
    """vLLM `llm_request` spans as the OpenTelemetry Collector's file exporter writes them (OTLP/JSON lines)."""

    adapter: Literal["otlp_files"] = "otlp_files"
    path: str = Field(description="A file, a folder or a glob of the exporter's files.")
    resource_attribute: str = Field(description="The resource attribute naming the replica (vLLM sets none itself).")
    model_attribute: str = Field(description="The resource attribute naming the served model (vLLM sets none).")


class FocusCostRowsConfig(AdapterConfig):
    """A cloud's FOCUS cost-and-usage export (CSV or Parquet), spend from cost rows (rule 11)."""

    adapter: Literal["focus_cost_rows"] = "focus_cost_rows"
    path: str = Field(description="A file, a folder or a glob of the export's files.")
    # Rule 11: where several deliveries hold one billing account and period, only the newest is read.
    # A manifest (AWS, Azure) names a delivery's files; without one, a delivery is a file, or, for an
    # export sharded without a manifest (BigQuery EXPORT DATA to a wildcard URI), a folder.
    delivery: Literal["file", "folder"] = Field(
        "file", description="Without a manifest, what one delivery is: a file, or every file of one folder."
    )


class PrometheusConfig(AdapterConfig):
    """A Prometheus server's HTTP API over vLLM's `vllm:generation_tokens_total` (the token cross-check)."""

    adapter: Literal["prometheus"] = "prometheus"
    url: str = Field(description="The server's base URL, e.g. http://prometheus:9090.")
    token_env: str | None = Field(None, description="Variable holding a bearer token, where the server wants one.")
    resource_label: str = Field("instance", description="The label naming the replica (mapped by [[resource_map]]).")
    max_miss_pct: Decimal = Field(
        Decimal("1.0"), ge=0, description="The check warns where the logs miss more than this % of what engines counted."
    )

    @field_validator("url")
    @classmethod
    def _url_without_credentials(cls, url: str) -> str:
        return _no_credentials(url)
