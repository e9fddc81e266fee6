"""LiteLLM PostgreSQL read at fleet scale, beside the contract-API ingest of the same day (issue 11, point 10).

    .venv/bin/python -m bench.litellm --requests-per-day 10000000 --contract
    make bench-litellm

One simulated day (the same fleet `make bench` serves: seed 11, 2026-10-26) is written as
`LiteLLM_SpendLogs` rows into a scratch PostgreSQL (tests/servers/postgres.py; loading is not
timed), then:
- **litellm_postgres**: `LiteLLMPostgres.read` over the day's window (the day widened by the
  day-edge margin, the startTime lookback on top), landed into a lake as the raw asset lands it
  (pipelines/landing.py): wall and CPU seconds, rows/s, peak RSS;
- **contract** (`--contract`): the same day served by `bench.serve` in a process of its own, read
  by the contract adapter and landed the same way.
Target: the first at most 1.5× the second. PostgreSQL runs on the same cores as the reader, as a
co-located database would. Prints one JSON object and writes bench/litellm_results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import date
from pathlib import Path

from bench.pipeline import RssSampler
from bench.serve import day_window
from fixtures.fleet import DEFAULT_START, load_fleet
from fixtures.wires import litellm as wire
from pipelines.adapters.base import Window
from pipelines.adapters.litellm_postgres import LiteLLMPostgres, LiteLLMPostgresConfig
from pipelines.adapters.litellm_rows import SpendLogMapping
from pipelines.sources.resource_map import ResourceMap
from tests.servers.postgres import PostgresServer

HERE = Path(__file__).resolve().parent


def land(adapter, name: str, day: date, work: Path) -> dict:
    """Land one day of requests read by `adapter` into a fresh lake, as the raw asset does
    (pipelines/landing.py: dedupe, quarantine, Parquet), timed with the read."""
    from pipelines import landing
    from pipelines.lake import Lake
    from pipelines.sources.registry import SOURCES

    start, end = day_window(day)
    window = Window(day, start, end)
    sampler = RssSampler()
    sampler.reset()
    t0 = time.perf_counter()
    landed = landing.land(Lake(work / f"{name}.lake"), SOURCES["requests"], adapter.read(window), window=window,
                          adapter=name, payloads=adapter.payloads, scratch=work / "scratch")
    seconds = time.perf_counter() - t0
    return {"seconds": round(seconds, 2), "cpu_s": round(sampler.cpu(), 2), "rows": landed.fetched,
            "kept": landed.kept, "quarantined": landed.quarantined, "rows_per_s": round(landed.fetched / seconds),
            "peak_rss_gib": round(sampler.peak / 2**30, 2), "load_before": sampler.load0,
            "load_after": os.getloadavg()[0]}


def litellm_postgres(pg: PostgresServer, fleet, day: date, work: Path, batch_rows: int) -> dict:
    mapping = SpendLogMapping(ResourceMap(wire.resource_map(fleet)), wire.models_map(fleet))
    return land(LiteLLMPostgres(LiteLLMPostgresConfig(batch_rows=batch_rows), mapping, dsn=pg.dsn()),
                "litellm_postgres", day, work)


def contract_ingest(args, day: date, work: Path) -> dict:
    """The same day served over HTTP (bench.serve) and read by the contract adapter, as bench/pipeline.py does."""
    from bench.run import TOKEN, Server
    from pipelines.adapters.contract_api import ContractApiAdapter
    from pipelines.client import SourceClient
    from pipelines.sources.registry import SOURCES

    server = Server(args.requests_per_day, 1, args.seed, args.start, 100_000)
    try:
        def client():
            return SourceClient(server.url, TOKEN, source="bench", page_limit=100_000, timeout_s=120)

        adapter = ContractApiAdapter(SOURCES["requests"], client, label="bench", scratch=work)
        try:
            return land(adapter, "gateway_api", day, work)
        finally:
            adapter.close()
    finally:
        server.close()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.litellm")
    ap.add_argument("--requests-per-day", type=int, default=10_000_000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--start", type=date.fromisoformat, default=DEFAULT_START)
    ap.add_argument("--batch-rows", type=int, default=500_000)
    ap.add_argument("--contract", action="store_true", help="also time the contract-API ingest of the same day")
    args = ap.parse_args(argv)

    day = args.start
    fleet = load_fleet(args.seed, args.start, 1, args.requests_per_day)
    result: dict = {"requests_per_day": args.requests_per_day, "cores": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="bench-litellm-") as tmp, PostgresServer(timezone="UTC") as pg:
        work = Path(tmp)
        t0 = time.perf_counter()
        with pg.connect() as con:
            loaded = wire.load_spend_logs(con, fleet)
        pg.grant_reader()
        result["load"] = {"rows": loaded, "seconds": round(time.perf_counter() - t0, 1)}
        result["litellm_postgres"] = litellm_postgres(pg, fleet, day, work, args.batch_rows)
    if args.contract:
        with tempfile.TemporaryDirectory(prefix="bench-contract-") as tmp:
            result["contract"] = contract_ingest(args, day, Path(tmp))
        result["ratio"] = round(result["litellm_postgres"]["seconds"] / result["contract"]["seconds"], 2)
    print(json.dumps(result), flush=True)
    (HERE / "litellm_results.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
