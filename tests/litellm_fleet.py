"""A fleet served as LiteLLM would hold it, for end-to-end tests: PostgreSQL or the spend-logs API.

    with litellm_postgres_fleet(fleet) as (server, adapter):   # adapter: LiteLLMPostgres
        frames = adapter.read(window)
    with litellm_api_fleet(fleet) as (server, adapter):        # adapter: LiteLLMApi
        ...

`config_sections(fleet)` is the `[models]` and `[[resource_map]]` a configuration file would
hold for it (plain data, for the configuration layer).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fixtures.rows import Fleet
from fixtures.wires import litellm as wire
from fixtures.wires.litellm_api_server import LiteLLMApiServer
from pipelines.adapters.litellm_api import LiteLLMApi, LiteLLMApiConfig
from pipelines.adapters.litellm_postgres import LiteLLMPostgres, LiteLLMPostgresConfig
from pipelines.adapters.litellm_rows import SpendLogMapping
from pipelines.sources.resource_map import ResourceMap
from tests.servers.postgres import PostgresServer

API_KEY = "sk-litellm-fixture-master"


def config_sections(fleet: Fleet) -> dict:
    return {"models": wire.models_map(fleet), "resource_map": wire.resource_map(fleet)}


def fleet_mapping(fleet: Fleet, model_field: str = "model_group") -> SpendLogMapping:
    sections = config_sections(fleet)
    return SpendLogMapping(ResourceMap(sections["resource_map"]), sections["models"], model_field)


@contextmanager
def litellm_postgres_fleet(fleet: Fleet, **config) -> Iterator[tuple[PostgresServer, LiteLLMPostgres]]:
    """A scratch PostgreSQL holding `fleet` in LiteLLM_SpendLogs, and the adapter reading it as
    the SELECT-only reader role."""
    with PostgresServer() as server:
        with server.connect() as con:
            wire.load_spend_logs(con, fleet)
        server.grant_reader()
        yield server, LiteLLMPostgres(LiteLLMPostgresConfig(**config), fleet_mapping(fleet), dsn=server.dsn())


@contextmanager
def litellm_api_fleet(fleet: Fleet, **config) -> Iterator[tuple[LiteLLMApiServer, LiteLLMApi]]:
    """A loopback /spend/logs/v2 serving `fleet`, and the adapter paging it."""
    with LiteLLMApiServer(wire.spend_log_rows(fleet), API_KEY) as server:
        adapter = LiteLLMApi(LiteLLMApiConfig(url=server.url, **config), fleet_mapping(fleet), token=API_KEY)
        try:
            yield server, adapter
        finally:
            adapter.close()
