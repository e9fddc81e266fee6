"""The configuration section of every adapter: the keys DESIGN.md gives it, typed, with defaults.

One model per adapter, parsed from its section of the configuration file (`[requests]`,
`[billing]`, `[events]`, `[crosscheck]`); the `adapter` key picks the model. They live together
here, apart from the adapters' code, so reading the file never imports a database driver.

Secrets never live in the file (DESIGN.md "Configuration file"): a key ending in `_env` holds the
NAME of an environment variable, and `AdapterConfig.env_value` reads it. A URL written in the
file may not carry credentials for the same reason.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Literal

from pydantic import Field, field_validator

from pipelines.adapters.base import AdapterConfig


# a metric name with optional matchers; braces only where quoted (so no `{...} or other{...}`)
_SELECTOR = re.compile(r'[A-Za-z_:][A-Za-z0-9_:]*(\{(?:[^{}"]|"(?:[^"\\]|\\.)*")*\})?')


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
    dsn_env: str = Field("LITELLM_DATABASE_URL",
                         description="Variable holding the DSN, postgresql://user:pass@host:5432/litellm.")
    model_field: Literal["model_group", "model"] = Field(
        "model_group", description="The column naming the public model (model_group, else the deployment's model)."
    )
    max_request_s: int = Field(
        3600, gt=0, description="Longest request expected: rows are selected on startTime this far before the window."
    )
    batch_rows: int = Field(500_000, gt=0, description="Rows per frame read (bounds memory).")
    connect_timeout_s: int = Field(10, gt=0, description="Seconds to wait for the server before failing.")


class LiteLLMApiConfig(AdapterConfig):
    """LiteLLM proxy's `GET /spend/logs/v2`, paged."""

    adapter: Literal["litellm_api"] = "litellm_api"
    url: str = Field(description="The proxy's base URL, e.g. http://litellm:4000.")
    token_env: str = Field("LITELLM_API_KEY",
                           description="Variable holding a master or proxy-admin key (others see a subset).")
    model_field: Literal["model_group", "model"] = Field("model_group", description="As for litellm_postgres.")
    # LiteLLM >= 1.95 accepts 1000; 1.81-1.94 answer 422 above 100 (notes/litellm.md 3.1).
    page_size: int = Field(1000, ge=1, le=1000, description="Rows per page (at most 100 before LiteLLM 1.95).")
    max_request_s: int = Field(3600, gt=0, description="Longest request expected (the filter is on startTime).")
    batch_rows: int = Field(100_000, gt=0, description="Rows per frame (pages are gathered).")
    timeout_s: float = Field(60.0, gt=0, description="Per page; LiteLLM itself gives up a read after 30 s (503).")
    max_attempts: int = Field(6, ge=1, description="Attempts per page before the source is called unavailable.")
    backoff_base_s: float = Field(0.5, gt=0, description="First backoff, doubled per attempt, with full jitter.")
    backoff_max_s: float = Field(30.0, gt=0, description="Longest backoff.")

    @field_validator("url")
    @classmethod
    def _url_without_credentials(cls, url: str) -> str:
        return _no_credentials(url)


class OtlpFilesConfig(AdapterConfig):
    """`[requests]` with `adapter = "otlp_files"`."""

    adapter: Literal["otlp_files"] = "otlp_files"
    path: str = Field(min_length=1, description="A file, a folder (every file in it), or a glob such as "
                      "`/var/otel/traces*.json` that matches the file exporter's rotated files.")
    resource_attribute: str = Field(min_length=1, description="The resource attribute naming the replica, "
                                    "mapped by the `otel` entries of the resource map.")
    model_attribute: str = Field(min_length=1, description="The resource attribute naming the served model.")
    skip_stale_files: bool = Field(
        default=True, description="Skip a file last written more than `mtime_slack_minutes` before a read's "
        "window starts: each line is written after its spans ended, so such a file holds no span of the window. "
        "Turn off where modification times do not follow the content (files restored with older times).")
    mtime_slack_minutes: int = Field(
        default=60, ge=0, description="Clock skew allowed between the vLLM hosts and the collector's host.")


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
    url: str = Field(description="Base URL of the Prometheus HTTP API, e.g. http://prometheus:9090.")
    token_env: str | None = Field(None, description="Variable holding a bearer token, where the server wants one.")
    instance_label: str = Field("instance", description="The label naming the replica (mapped by [[resource_map]]).")
    metric: str = Field("vllm:generation_tokens_total",
                        description='The counter, optionally with label matchers, e.g. vllm:generation_tokens_total{job="vllm"}.')
    max_miss_pct: Decimal = Field(
        Decimal("1.0"), ge=0, description="The check warns where the logs miss more than this % of what engines counted."
    )
    step_s: int = Field(60, gt=0, description="Seconds between evaluations; must divide an hour.")
    timeout_s: float = Field(60.0, gt=0, description="Per-request timeout.")

    @field_validator("url")
    @classmethod
    def _url_without_credentials(cls, url: str) -> str:
        return _no_credentials(url)

    @field_validator("step_s")
    @classmethod
    def _step_divides_an_hour(cls, step_s: int) -> int:
        if 3600 % step_s:
            raise ValueError(f"step_s {step_s} does not divide 3600: every hour boundary must be an evaluation step")
        return step_s

    @field_validator("instance_label")
    @classmethod
    def _label_name(cls, label: str) -> str:
        if not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", label):
            raise ValueError(f"{label!r} is not a Prometheus label name")
        return label

    @field_validator("metric")
    @classmethod
    def _plain_selector(cls, metric: str) -> str:
        # the raw counter, never a function of it: increase()/rate() would extrapolate
        if not _SELECTOR.fullmatch(metric.strip()):
            raise ValueError(f"{metric!r} is not a plain series selector (a name with optional {{matchers}})")
        return metric.strip()
