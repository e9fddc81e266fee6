"""Adapters: each reads one real wire into canonical frames (see base.py). One module per adapter.

The registry below is the one place an adapter is declared. Each line says which section of the
configuration file (its role) it may fill, the model of its keys (configs.py), and where its code
is, as "module:callable". The configuration file's sections are unions built from these lines,
and the code is imported only when an adapter is built, so a run that reads LiteLLM's PostgreSQL
never imports the Prometheus client. Adding an adapter is one module, one line here, one test file.

`build_adapter(role, section, app)` calls the named callable as `factory(section, app)`: the
adapter's own config section, and the whole `AppConfig` (resource map, models, accounting).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipelines.adapters.base import Adapter, AdapterConfig
from pipelines.adapters.configs import (
    FocusCostRowsConfig,
    GatewayApiConfig,
    LiteLLMApiConfig,
    LiteLLMPostgresConfig,
    NoEventsConfig,
    OtlpFilesConfig,
    PrometheusConfig,
    SnapshotsApiConfig,
)

if TYPE_CHECKING:
    from pipelines.config import AppConfig

ROLES = ("requests", "billing", "events", "crosscheck")


@dataclass(frozen=True)
class Registered:
    role: str  # the configuration file's section: requests, billing, events or crosscheck
    config: type[AdapterConfig]
    code: str  # "module:callable", imported when the adapter is built

    @property
    def name(self) -> str:
        return adapter_name(self.config)


REGISTRY: tuple[Registered, ...] = (
    Registered("requests", GatewayApiConfig, "pipelines.adapters.contract_api:GatewayRequests"),
    Registered("requests", LiteLLMPostgresConfig, "pipelines.adapters.litellm_postgres:from_config"),
    Registered("requests", LiteLLMApiConfig, "pipelines.adapters.litellm_api:from_config"),
    Registered("requests", OtlpFilesConfig, "pipelines.adapters.otlp_files:from_config"),
    Registered("billing", SnapshotsApiConfig, "pipelines.adapters.contract_api:BillingSnapshots"),
    Registered("billing", FocusCostRowsConfig, "pipelines.adapters.focus_cost_rows:FocusCostRowsAdapter"),
    Registered("events", GatewayApiConfig, "pipelines.adapters.contract_api:FleetEvents"),
    Registered("events", NoEventsConfig, "pipelines.adapters.no_events:NoEvents"),
    Registered("crosscheck", PrometheusConfig, "pipelines.adapters.prometheus:from_config"),
)

# The adapter of a section the file leaves out (DESIGN.md "Sources as they really come"); no
# crosscheck unless one is configured.
DEFAULTS: dict[str, type[AdapterConfig] | None] = {
    "requests": GatewayApiConfig,
    "billing": SnapshotsApiConfig,
    "events": GatewayApiConfig,
    "crosscheck": None,
}

CONFIGS: dict[str, list[type[AdapterConfig]]] = {
    role: [entry.config for entry in REGISTRY if entry.role == role] for role in ROLES
}


class AdapterUnavailable(Exception):
    """The adapter is configured, but its code is not in this build. One line."""


def adapter_name(config: type[AdapterConfig]) -> str:
    return config.model_fields["adapter"].default


def build_adapter(role: str, section: AdapterConfig, app: AppConfig) -> Adapter:
    """The adapter for `section` (the config of `role`), its module imported now."""
    entry = next((e for e in REGISTRY if e.role == role and e.name == section.adapter), None)
    if entry is None:
        raise AdapterUnavailable(f"[{role}] has no adapter {section.adapter!r}")
    module_name, _, attribute = entry.code.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise  # a dependency of the adapter is missing: that error says which
        raise AdapterUnavailable(f"adapter {section.adapter} ({role}) is not in this build: no {module_name}") from None
    return getattr(module, attribute)(section, app)
