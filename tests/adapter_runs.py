"""End-to-end runs of one fleet through an adapter, beside the contract API's run of it.

`configured(folder, sections)` writes an invoice-true.toml (TOML from plain data) and returns its
path; `run_configured(pipeline, fleet, start, end, config)` runs the real pipeline with it, the
billing and events contract APIs served by the fixture server; `marts(path)` is every mart of a
published file, whole, for cell-for-cell comparisons.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb

from fixtures.rows import Fleet
from fixtures.server import FixtureServer
from pipelines.runner import RunOutcome, run_days
from tests.conftest import TOKEN, PipelineRun, point_at

COMPARED = ("resource_hourly", "cost_per_mtok_daily", "observability_gaps", "billing_resets", "cost_by_idle_fraction",
            "band_check", "demand_profile", "crossover")


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(str(value))  # a TOML basic string takes JSON's escapes


def toml(sections: dict) -> str:
    """Tables of key = value, `models` as a table of quoted keys, `resource_map` as an array of tables."""
    lines = []
    for name, body in sections.items():
        if name == "resource_map":
            for entry in body:
                lines.append("[[resource_map]]")
                lines += [f"{k} = {toml_value(v)}" for k, v in entry.items() if v is not None]
        elif name == "models":
            lines.append("[models]")
            lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in body.items()]
        else:
            lines.append(f"[{name}]")
            lines += [f"{k} = {toml_value(v)}" for k, v in body.items()]
        lines.append("")
    return "\n".join(lines)


def configured(folder: Path, sections: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "invoice-true.toml"
    path.write_text(toml(sections))
    return path


def run_configured(pipeline: PipelineRun, fleet: Fleet, start: date, end: date, config: Path) -> RunOutcome:
    """The pipeline with the configuration file `config`; whatever it leaves to the contract APIs
    (billing, events) is the fixture server's `fleet`."""
    from pipelines.config import load_config

    with FixtureServer(fleet, token=TOKEN) as server:
        point_at(pipeline.monkeypatch, server.url, pipeline.published)
        pipeline.monkeypatch.setenv("INVOICE_TRUE_CONFIG", str(config))
        load_config.cache_clear()
        try:
            return run_days(start, end)
        finally:
            pipeline.monkeypatch.delenv("INVOICE_TRUE_CONFIG")
            load_config.cache_clear()


def marts(path: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(path), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        return {t: con.execute(f"SELECT * FROM marts.{t} ORDER BY ALL").fetchall() for t in COMPARED}
