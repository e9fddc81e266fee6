"""A fleet read from vLLM's own spans (OTLP/JSON files of the collector's file exporter) yields the
same marts as the contract API serving the same requests, cell for cell. Spans exist only for
requests a vLLM served, so the contract run serves the fleet's routed requests (`routed_only`);
billing and events come from the contract API in both."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from fixtures.fleet import simulate_fleet
from fixtures.wires.otlp import MODEL_ATTRIBUTE, RESOURCE_ATTRIBUTE, resource_map_entries, routed_only, write_otlp_files
from tests.adapter_runs import configured, marts, run_configured
from tests.conftest import PipelineRun

DAY = date(2026, 10, 26)


def test_otlp_files_publish_the_contract_runs_marts(monkeypatch, tmp_path):
    fleet = simulate_fleet(seed=19, start=DAY, days=1, requests_per_day=4000)
    start = datetime(2026, 10, 25, 23, tzinfo=timezone.utc)
    written = write_otlp_files(fleet, tmp_path / "otel", start=start, end=start + timedelta(days=2), max_megabytes=1)
    assert len(written.files) >= 2 and written.requests > 3000

    contract = PipelineRun(monkeypatch, tmp_path / "contract")
    assert contract.run(routed_only(fleet), DAY, DAY + timedelta(days=1)).exit_code in (0, 2)

    config = configured(tmp_path / "otlp", {
        "requests": {"adapter": "otlp_files", "path": str(tmp_path / "otel" / "traces*.json"),
                     "resource_attribute": RESOURCE_ATTRIBUTE, "model_attribute": MODEL_ATTRIBUTE,
                     "skip_stale_files": False},  # the files were all written just now
        "resource_map": resource_map_entries(fleet),
    })
    spans = PipelineRun(monkeypatch, tmp_path / "otlp")
    outcome = run_configured(spans, fleet, DAY, DAY + timedelta(days=1), config)
    assert outcome.exit_code in (0, 2), outcome.lines

    got, want = marts(spans.published), marts(contract.published)
    assert got["resource_hourly"] and got["cost_per_mtok_daily"]
    for table in want:
        assert got[table] == want[table], table
    assert spans.query("SELECT count(*) AS n FROM quarantine.requests") == [{"n": 0}]
