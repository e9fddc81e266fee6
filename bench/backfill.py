"""A backfill on every core (issue 13): one `invoice-true run` over 7 days, the days landed one after
another (INVOICE_TRUE_INGEST_WORKERS=1) and side by side (one process per core, the default).

    python -m bench.backfill --days 7 --requests-per-day 1000000

The fleet's days are served by `bench.serve` in a process of its own, every page pre-rendered before
any clock starts; each run is a fresh process over a fresh warehouse and lake (bench.cli). The two
runs are repeated `--repeat` times, alternating, and the best of each is kept. Writes
bench/backfill.json and bench/backfill.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from datetime import date, timedelta
from pathlib import Path

from bench.cli import measured_run
from bench.run import Server
from fixtures.fleet import DEFAULT_START

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.backfill", description=__doc__.split("\n")[0])
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--requests-per-day", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--start", type=date.fromisoformat, default=DEFAULT_START)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--work", default=os.environ.get("BENCH_WORK", "/tmp/invoice-true-backfill"))
    ap.add_argument("--out", type=Path, default=HERE)
    args = ap.parse_args(argv)

    work = Path(args.work)
    end = args.start + timedelta(days=args.days)
    server = Server(args.requests_per_day, args.days, args.seed, args.start, 100_000)
    runs: dict[str, list[dict]] = {"serial": [], "side_by_side": []}
    try:
        for attempt in range(args.repeat):
            for mode, workers in (("serial", "1"), ("side_by_side", "0")):
                shutil.rmtree(work, ignore_errors=True)
                run = measured_run(server.url, args.start, end, work / "invoice_true.duckdb",
                                   INVOICE_TRUE_INGEST_WORKERS=workers)
                if run["exit"] not in (0, 2):
                    raise SystemExit(f"{mode} backfill failed: {run['stderr']}")
                run["load"] = os.getloadavg()[0]
                runs[mode].append(run)
                print(f"{mode:13s} attempt {attempt + 1}: {run['seconds']:.1f} s, peak RSS "
                      f"{run['peak_rss'] / (1 << 30):.2f} GiB", flush=True)
    finally:
        server.close()
        shutil.rmtree(work, ignore_errors=True)
    best = {mode: min(r["seconds"] for r in rs) for mode, rs in runs.items()}
    meta = {"days": args.days, "requests_per_day": args.requests_per_day, "cores": os.cpu_count(),
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "requests_served": server.info["rows"]["requests"]}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "backfill.json").write_text(json.dumps({"meta": meta, "runs": runs, "best": best}, indent=1) + "\n")
    ratio = best["side_by_side"] / best["serial"]
    lines = [
        f"## A {args.days}-day backfill on every core",
        "",
        f"Run {meta['when']} on {meta['cores']} cores: `invoice-true run --start {args.start} --end {end}` over "
        f"{meta['requests_served']:,} requests ({args.requests_per_day:,} a day), process start to exit with checks, "
        "publish and dashboard, on a fresh warehouse and lake each time; best of "
        f"{args.repeat}. Days landed one after another: **{best['serial']:.1f} s**; side by side "
        f"(one process per core): **{best['side_by_side']:.1f} s**, **{ratio:.2f}x** the serial time.",
        "",
        "| run | seconds | peak RSS GiB (largest process) | load average after |",
        "|---|---:|---:|---:|",
    ]
    for mode, rs in runs.items():
        for r in rs:
            lines.append(f"| {mode} | {r['seconds']:.1f} | {r['peak_rss'] / (1 << 30):.2f} | {r['load']:.1f} |")
    (args.out / "backfill.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:3]))


if __name__ == "__main__":
    main()
