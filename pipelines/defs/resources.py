"""Resources: the fleet's sources as the configuration chooses them, and the DuckDB warehouse.

`FleetSources` builds each role's adapter (pipelines/adapters) from the configuration file, or
from the environment when there is none (the contract APIs at BILLING_API_URL, GATEWAY_API_URL).
Secrets stay in the environment: the configuration names variables, never values, so what the
Dagster UI shows of these resources holds no secret. With no source URLs set, the contract
adapters serve the bundled fixture fleet on a loopback port and read it through the same HTTP
client: the demo exercises the real path.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb

from pipelines import warehouse
from pipelines.adapters.contract_api import DEMO_LABEL
from pipelines.config import config_path, load_config

__all__ = ["DEMO_LABEL", "FleetSources", "Warehouse", "resources_from_env"]


class FleetSources(dg.ConfigurableResource):
    """The adapters of the configured sources (DESIGN.md "Sources as they really come")."""

    config_file: str | None = None  # where the configuration came from; None: the environment
    # What reads each role, for a person in the UI: the adapter, URLs without credentials, and the
    # NAMES of the variables holding secrets ($NAME), never their values.
    requests: str = ""
    billing: str = ""
    events: str = ""
    crosscheck: str = ""

    def adapter(self, role: str, scratch: Path | None = None):
        from pipelines.adapters import build_adapter

        app = load_config()
        section = app.sources().get(role)
        if section is None:
            return None
        adapter = build_adapter(role, section, app)
        if scratch is not None and hasattr(adapter, "scratch_root"):
            adapter.scratch_root = scratch  # where an adapter stages what it fetches
        return adapter

    def label(self, adapter) -> str:
        where = adapter.describe()
        return DEMO_LABEL if where == "bundled demo fleet" else f"{adapter.name}: {where}"


class Warehouse(dg.ConfigurableResource):
    """The published DuckDB file (WAREHOUSE_PATH) and the pipeline's working file beside it."""

    path: str = warehouse.DEFAULT_PATH

    @property
    def published_path(self) -> Path:
        return Path(self.path).expanduser().resolve()

    @property
    def work_path(self) -> Path:
        return warehouse.work_path_for(self.published_path)

    @property
    def lake(self):
        from pipelines.lake import lake_for

        return lake_for(self.published_path)

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with warehouse.connect(self.work_path) as con:
            yield con

    @contextmanager
    def connect_for(self, first: date | None, last: date | None) -> Iterator[duckdb.DuckDBPyConnection]:
        """The working file with the lake's sources as views over days [first, last] (all stored
        days when both are None), each resource's edges brought up to date first."""
        with warehouse.connect(self.work_path) as con:
            self.attach_lake(con, first, last)
            yield con

    def attach_lake(self, con: duckdb.DuckDBPyConnection, first: date | None, last: date | None) -> None:
        from pipelines.lake_views import attach_views, sync_edges

        sync_edges(con, self.lake)
        attach_views(con, self.lake, (first, last) if first is not None else None,
                     made=warehouse.views_made(self.work_path))


def section_summary(section) -> str:
    parts = [section.adapter]
    for key, value in section.model_dump().items():
        if key == "adapter" or value is None:
            continue
        if key == "url_env":
            url = os.environ.get(value)
            parts.append(f"url={_without_credentials(url)}" if url else f"url=${value} (unset: demo fleet)")
        elif key.endswith("_env"):
            parts.append(f"{key[:-4]}=${value}")
        else:
            parts.append(f"{key}={value}")
    return " ".join(parts)


def _without_credentials(url: str) -> str:
    import httpx

    return str(httpx.URL(url).copy_with(userinfo=b"")) if "@" in url else url


def resources_from_env() -> dict[str, dg.ConfigurableResource]:
    path = config_path()
    sections = load_config().sources()
    return {
        "sources": FleetSources(
            config_file=str(path.resolve()) if path else None,
            **{role: section_summary(section) for role, section in sections.items()},
        ),
        "warehouse": Warehouse(path=str(warehouse.published_path_from_env())),
    }
