"""LiteLLM PostgreSQL read at fleet scale, beside the contract-API ingest of the same day (issue 11, point 10).

    .venv/bin/python -m bench.litellm --requests-per-day 10000000 --contract
    make bench-litellm

One simulated day (the same fleet `make bench` serves: seed 11, 2026-10-26) is written as
`LiteLLM_SpendLogs` rows into a scratch PostgreSQL (tests/servers/postgres.py; loading is not
timed), then:
- **litellm_postgres**: `LiteLLMPostgres.read` over the day's window (the day widened by the
  day-edge margin, the startTime lookback on top) to canonical frames, each written to a Parquet
  file as landing will (`--no-parquet` to skip): wall and CPU seconds, rows/s, peak RSS;
- **contract** (`--contract`): the same day served by `bench.serve` in a process of its own and
  landed by the pipeline's requests ingest (`SourceClient` pages → `ingest.land_source` into
  DuckDB), timed the same way.
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
from pipelines.resource_map import ResourceMap
from tests.servers.postgres import PostgresServer

HERE = Path(__file__).resolve().parent


def read_postgres(pg: PostgresServer, fleet, day: date, parquet_dir: Path | None, batch_rows: int) -> dict:
    mapping = SpendLogMapping(ResourceMap(wire.resource_map(fleet)), wire.models_map(fleet))
    start, end = day_window(day)
    adapter = LiteLLMPostgres(LiteLLMPostgresConfig(batch_rows=batch_rows), mapping, dsn=pg.dsn())
    sampler = RssSampler()
    sampler.reset()
    t0 = time.perf_counter()
    rows = frames = rejected = 0
    for frame in adapter.read(Window(day, start, end)):
        rows += frame.height
        rejected += frame["_problem_field"].is_not_null().sum()
        if parquet_dir is not None:
            frame.write_parquet(parquet_dir / f"part-{frames:05d}.parquet", compression="zstd")
        frames += 1
    seconds = time.perf_counter() - t0
    return {"seconds": round(seconds, 2), "cpu_s": round(sampler.cpu(), 2), "rows": rows, "frames": frames,
            "rejected": int(rejected), "rows_per_s": round(rows / seconds), "peak_rss_gib": round(sampler.peak / 2**30, 2),
            "load_before": sampler.load0, "load_after": os.getloadavg()[0]}


def contract_ingest(args, day: date, work: Path) -> dict:
    """The pipeline's requests ingest of the same day over HTTP, as bench/pipeline.py runs it."""
    from bench.run import TOKEN, Server
    from pipelines import ingest, warehouse
    from pipelines.client import SourceClient

    server = Server(args.requests_per_day, 1, args.seed, args.start, 100_000)
    try:
        start, end = day_window(day)
        params = {"start": start.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "end": end.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
        sampler = RssSampler()
        with warehouse.connect(warehouse.work_path_for(work / "contract.duckdb")) as con:
            sampler.reset()
            t0 = time.perf_counter()
            with SourceClient(server.url, TOKEN, source="bench", page_limit=100_000, timeout_s=120) as client:
                landed = ingest.land_source(con, "requests", client.iter_pages("/v1/usage/requests", params),
                                            day=day, window=(start, end))
            seconds = time.perf_counter() - t0
    finally:
        server.close()
    return {"seconds": round(seconds, 2), "cpu_s": round(sampler.cpu(), 2), "rows": landed.fetched,
            "rows_per_s": round(landed.fetched / seconds), "peak_rss_gib": round(sampler.peak / 2**30, 2),
            "load_before": sampler.load0, "load_after": os.getloadavg()[0]}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.litellm")
    ap.add_argument("--requests-per-day", type=int, default=10_000_000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--start", type=date.fromisoformat, default=DEFAULT_START)
    ap.add_argument("--batch-rows", type=int, default=500_000)
    ap.add_argument("--contract", action="store_true", help="also time the contract-API ingest of the same day")
    ap.add_argument("--no-parquet", action="store_true", help="stop at canonical frames (no Parquet writes)")
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
        parquet = None if args.no_parquet else work / "parquet"
        if parquet is not None:
            parquet.mkdir()
        result["litellm_postgres"] = read_postgres(pg, fleet, day, parquet, args.batch_rows)
    if args.contract:
        with tempfile.TemporaryDirectory(prefix="bench-contract-") as tmp:
            result["contract"] = contract_ingest(args, day, Path(tmp))
        result["ratio"] = round(result["litellm_postgres"]["seconds"] / result["contract"]["seconds"], 2)
    print(json.dumps(result), flush=True)
    (HERE / "litellm_results.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
