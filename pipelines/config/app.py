"""The configuration: one typed settings object, read once per process (DESIGN.md "Configuration file").

Where it comes from, first match wins:
1. the TOML file `INVOICE_TRUE_CONFIG` names (it must exist);
2. `invoice-true.toml` in the working folder, if there is one;
3. the environment alone: the contract APIs at BILLING_API_URL / GATEWAY_API_URL with their
   tokens, as before the file existed (no URLs: the bundled demo fleet is served).

With a file, every environment variable a `*_env` key names (defaults included) must be set at
load: a run stops before any fetch, with one line naming the key. `[checks]` fields can still be
overridden one by one as `INVOICE_TRUE_<FIELD>` (e.g. INVOICE_TRUE_MAX_QUARANTINE_SHARE=0.05),
and those win over the file.
"""

from __future__ import annotations

import functools
import os
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import Field, PrivateAttr, ValidationError, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from pipelines.adapters import CONFIGS, DEFAULTS, ROLES, adapter_name
from pipelines.adapters.base import AdapterConfig
from pipelines.config.errors import ConfigError, word_validation_error
from pipelines.config.map_entries import ResourceMapEntry, overlapping_windows
from pipelines.contracts.settings import ENV_PREFIX, CheckSettings
from pipelines.settings import AccountingSettings

CONFIG_ENV = "INVOICE_TRUE_CONFIG"
LOCAL_FILE = "invoice-true.toml"
ENVIRONMENT = "environment"


def _section(role: str) -> Any:
    """The type of a section: a union of the registered adapters' configs, told apart by `adapter`."""
    members = tuple(CONFIGS[role])
    if len(members) == 1:
        return members[0]
    return Annotated[Union[members], Field(discriminator="adapter")]  # noqa: UP007 - built at run time


RequestsSection = _section("requests")
BillingSection = _section("billing")
EventsSection = _section("events")
CrosscheckSection = _section("crosscheck")


class AppConfig(BaseSettings):
    """Sources, the resource map, the models' tiers of unrouted requests, accounting and checks."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True)

    requests: RequestsSection = Field(default_factory=DEFAULTS["requests"])
    billing: BillingSection = Field(default_factory=DEFAULTS["billing"])
    events: EventsSection = Field(default_factory=DEFAULTS["events"])
    crosscheck: CrosscheckSection | None = None
    models: dict[str, Annotated[str, Field(min_length=1)]] = Field(
        default_factory=dict, description="Public model name → tier, for requests that were never routed."
    )
    resource_map: list[ResourceMapEntry] = Field(default_factory=list)
    accounting: AccountingSettings = Field(default_factory=AccountingSettings)
    checks: CheckSettings = Field(default_factory=CheckSettings)

    _origin: str = PrivateAttr(ENVIRONMENT)

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource, *_: Any, **__: Any
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only the file (passed in as init values) and the [checks] overrides: no other variable of
        # the environment is read into the settings, so a stray BILLING or CHECKS variable is harmless.
        return (CheckOverrides(settings_cls), init_settings)

    @model_validator(mode="before")
    @classmethod
    def _checks_follow_accounting(cls, data: Any) -> Any:
        # [checks] currency and day-edge margin are the accounting ones unless set apart.
        if isinstance(data, dict) and isinstance(data.get("accounting"), dict):
            checks = data.get("checks", {})
            if isinstance(checks, dict):
                shared = {k: data["accounting"][k] for k in ("currency", "day_edge_margin_s") if k in data["accounting"]}
                data = {**data, "checks": shared | checks}
        return data

    @model_validator(mode="after")
    def _windows_do_not_overlap(self) -> AppConfig:
        problem = overlapping_windows(self.resource_map)
        if problem:
            raise ValueError(problem)
        return self

    @property
    def origin(self) -> str:
        """The file it was read from, or "environment"."""
        return self._origin

    @property
    def from_file(self) -> bool:
        return self._origin != ENVIRONMENT

    def sources(self) -> dict[str, AdapterConfig]:
        """{role: its section} of the sources configured (crosscheck only when there is one)."""
        return {role: section for role in ROLES if (section := getattr(self, role)) is not None}


def check_overrides() -> dict[str, str | None]:
    """{[checks] field: value} of the INVOICE_TRUE_<FIELD> variables that are set."""
    values: dict[str, str | None] = {}
    for name in CheckSettings.model_fields:
        raw = os.environ.get(ENV_PREFIX + name.upper())
        if raw is not None:
            values[name] = None if raw == "" and name == "currency" else raw
    return values


class CheckOverrides(PydanticBaseSettingsSource):
    """The INVOICE_TRUE_<FIELD> overrides of [checks], as a settings source that wins over the file."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # everything is in __call__

    def __call__(self) -> dict[str, Any]:
        overrides = check_overrides()
        return {"checks": overrides} if overrides else {}


def config_path() -> Path | None:
    """The configuration file in use, or None: the environment alone."""
    named = os.environ.get(CONFIG_ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigError(f"{CONFIG_ENV} names {named}, which is not a file")
        return path
    local = Path(LOCAL_FILE)
    return local if local.is_file() else None


@functools.cache
def load_config() -> AppConfig:
    """The configuration of this process, read once. Tests call `load_config.cache_clear()`."""
    return read_config(config_path())


def read_config(path: Path | None) -> AppConfig:
    """The configuration in `path` (None: from the environment alone), checked; ConfigError if unusable."""
    where = str(path) if path is not None else ENVIRONMENT
    data: dict[str, Any] = {}
    if path is not None:
        try:
            # Decimals exactly as written: `band_low_usd_per_mtok = 0.30` must not pass through a float.
            data = tomllib.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{where}: not valid TOML: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{where}: cannot be read ({exc.__class__.__name__})") from None
    try:
        config = AppConfig(**data)
    except ValidationError as exc:
        adapters = {role: [adapter_name(c) for c in CONFIGS[role]] for role in ROLES}
        env_names = {name: ENV_PREFIX + name.upper() for name in check_overrides()}
        raise ConfigError(f"{where}: {word_validation_error(exc, data, adapters, env_names)}") from None
    config._origin = where
    if path is not None:
        _require_variables(config, data, where)
    return config


def _require_variables(config: AppConfig, data: dict[str, Any], where: str) -> None:
    # Only with a file: with the environment alone, unset URLs mean the bundled demo fleet.
    for role, section in config.sources().items():
        for key, name in section.env_keys().items():
            value = os.environ.get(name)
            if value:
                continue
            state = "which is not set" if value is None else "which is empty"
            default = "" if role in data else f" ([{role}] is not in the file, so it is {section.adapter})"
            raise ConfigError(f"{where}: [{role}] {key} names {name}, {state}{default}")
