"""A fleet held in LiteLLM's PostgreSQL yields the same marts as the same fleet served by the contract
API (issue 11 "Done when"), cell for cell: the contract run serves the fleet's requests truncated
to milliseconds, LiteLLM's precision; billing and events come from the contract API in both."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from fixtures.fleet import simulate_fleet
from fixtures.wires import litellm as wire
from tests.adapter_runs import configured, marts, run_configured
from tests.conftest import PipelineRun
from tests.servers.postgres import postgres  # noqa: F401 - the session fixture

DAY = date(2026, 10, 26)


@pytest.fixture(scope="module")
def fleet():
    return simulate_fleet(seed=17, start=DAY, days=1, requests_per_day=4000)


def test_litellm_postgres_publishes_the_contract_runs_marts(postgres, fleet, monkeypatch, tmp_path):  # noqa: F811
    with postgres.connect() as con:
        con.cursor().execute('DROP TABLE IF EXISTS "LiteLLM_SpendLogs"')
        con.commit()
        loaded = wire.load_spend_logs(con, fleet)
    postgres.grant_reader()
    assert loaded > 3000

    contract = PipelineRun(monkeypatch, tmp_path / "contract")
    assert contract.run(wire.truncated_to_ms(fleet), DAY, DAY + timedelta(days=1)).exit_code in (0, 2)

    monkeypatch.setenv("LITELLM_TEST_DSN", postgres.dsn(postgres.reader))
    config = configured(tmp_path / "litellm", {
        "requests": {"adapter": "litellm_postgres", "dsn_env": "LITELLM_TEST_DSN"},
        "models": wire.models_map(fleet),
        "resource_map": wire.resource_map(fleet),
    })
    litellm = PipelineRun(monkeypatch, tmp_path / "litellm")
    outcome = run_configured(litellm, fleet, DAY, DAY + timedelta(days=1), config)
    assert outcome.exit_code in (0, 2), outcome.lines

    got, want = marts(litellm.published), marts(contract.published)
    assert got["resource_hourly"] and got["cost_per_mtok_daily"]
    for table in want:
        assert got[table] == want[table], table
    assert litellm.query("SELECT count(*) AS n FROM quarantine.requests") == [{"n": 0}]


def test_litellm_api_publishes_the_contract_runs_marts(fleet, monkeypatch, tmp_path):
    from fixtures.wires.litellm_api_server import LiteLLMApiServer

    contract = PipelineRun(monkeypatch, tmp_path / "contract")
    assert contract.run(wire.truncated_to_ms(fleet), DAY, DAY + timedelta(days=1)).exit_code in (0, 2)

    with LiteLLMApiServer(wire.spend_log_rows(fleet), "sk-test-master") as server:
        monkeypatch.setenv("LITELLM_TEST_KEY", "sk-test-master")
        config = configured(tmp_path / "litellm_api", {
            "requests": {"adapter": "litellm_api", "url": server.url, "token_env": "LITELLM_TEST_KEY"},
            "models": wire.models_map(fleet),
            "resource_map": wire.resource_map(fleet),
        })
        litellm = PipelineRun(monkeypatch, tmp_path / "litellm_api")
        outcome = run_configured(litellm, fleet, DAY, DAY + timedelta(days=1), config)
    assert outcome.exit_code in (0, 2), outcome.lines
    got, want = marts(litellm.published), marts(contract.published)
    for table in want:
        assert got[table] == want[table], table
