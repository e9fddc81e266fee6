"""Nights that cost the same on day 30 as on day 2 (issue 13): `invoice-true run` for one day a night,
as the schedule runs it, over a growing history; each night's time and the disk kept.

    python -m bench.history --nights 30 --requests-per-day 1000000

The fleet (all nights, simulated once and cached as parquet) is served a night at a time by
`bench.serve` in a process of its own, holding only that night's day and its neighbours. Each
night is one `invoice-true run --start D --end D+1` over the same warehouse and lake. Disk: the
lake (every file), the working file and the published file, beside the data they hold (the lake's
current day files and one copy of the marts). Writes bench/history.json, a table in
bench/history.md and bench/history.svg.
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
from pipelines.lake import Lake
from pipelines.warehouse import work_path_for

HERE = Path(__file__).resolve().parent
MB = 1 << 20


def data_bytes(lake: Lake) -> int:
    """The bytes of the lake's current files (the manifests' rows, quarantine and edges)."""
    total = 0
    for source in ("billing_snapshots", "requests", "fleet_events", "engine_token_samples", "cost_rows"):
        for manifest in lake.manifests(source).values():
            total += sum(os.path.getsize(lake.path(source, f)) for f in manifest.files())
    return total


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.history", description=__doc__.split("\n")[0])
    ap.add_argument("--nights", type=int, default=30)
    ap.add_argument("--requests-per-day", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--start", type=date.fromisoformat, default=DEFAULT_START)
    ap.add_argument("--work", default=os.environ.get("BENCH_WORK", "/tmp/invoice-true-history"))
    ap.add_argument("--out", type=Path, default=HERE)
    args = ap.parse_args(argv)

    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    published = work / "invoice_true.duckdb"
    lake = Lake(work / "invoice_true.lake")
    nights = []
    for night in range(args.nights):
        day = args.start + timedelta(days=night)
        server = Server(args.requests_per_day, args.nights, args.seed, args.start, 100_000, serve_from=day, serve_days=1)
        try:
            run = measured_run(server.url, day, day + timedelta(days=1), published)
        finally:
            server.close()
        if run["exit"] not in (0, 2):
            raise SystemExit(f"night {night + 1} ({day}) failed: {run['stderr']}")
        kept = lake.stored_bytes() + work_path_for(published).stat().st_size + published.stat().st_size
        held = data_bytes(lake) + published.stat().st_size
        nights.append({"night": night + 1, "day": day.isoformat(), "seconds": run["seconds"],
                       "peak_rss": run["peak_rss"], "exit": run["exit"], "disk_bytes": kept, "data_bytes": held,
                       "lake_bytes": lake.stored_bytes(), "published_bytes": published.stat().st_size,
                       "work_bytes": work_path_for(published).stat().st_size, "load": os.getloadavg()[0]})
        print(f"night {night + 1:2d} {day}: {run['seconds']:.1f} s, disk {kept / MB:.0f} MB for {held / MB:.0f} MB "
              f"of data ({kept / held:.2f}x)", flush=True)
        (work / "partial.json").write_text(json.dumps(nights))
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {"requests_per_day": args.requests_per_day, "nights": args.nights,
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cores": os.cpu_count()}
    (args.out / "history.json").write_text(json.dumps({"meta": meta, "nights": nights}, indent=1) + "\n")
    (args.out / "history.svg").write_text(plot(nights))
    (args.out / "history.md").write_text(table(nights, meta))
    print(f"wrote {args.out / 'history.md'}")


def table(nights: list[dict], meta: dict) -> str:
    second = nights[1]["seconds"] if len(nights) > 1 else nights[0]["seconds"]
    last = nights[-1]
    lines = [
        f"## History: {meta['nights']} nights at {meta['requests_per_day']:,} requests a day",
        "",
        f"Run {meta['when']} on {meta['cores']} cores: one `invoice-true run` a night (process start to exit, "
        "checks, publish and dashboard included) over the same warehouse and lake.",
        f"Night {last['night']} took **{last['seconds']:.1f} s**, {last['seconds'] / second:.2f}x night 2 "
        f"({second:.1f} s); the disk kept is **{last['disk_bytes'] / last['data_bytes']:.2f}x** the data it holds.",
        "",
        "![seconds and disk per night](history.svg)",
        "",
        "| night | day | seconds | peak RSS GiB | lake MB | working file MB | published MB | disk / data | load |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in nights:
        lines.append(f"| {n['night']} | {n['day']} | {n['seconds']:.1f} | {n['peak_rss'] / (1 << 30):.2f} | "
                     f"{n['lake_bytes'] / MB:.0f} | {n['work_bytes'] / MB:.1f} | {n['published_bytes'] / MB:.1f} | "
                     f"{n['disk_bytes'] / n['data_bytes']:.2f} | {n['load']:.1f} |")
    return "\n".join(lines) + "\n"


def plot(nights: list[dict]) -> str:
    """Seconds per night (line) and disk kept in GB (bars), one SVG, no dependency."""
    width, height, pad = 720, 260, 40
    n = len(nights)
    top_s = max(x["seconds"] for x in nights) * 1.2
    top_gb = max(x["disk_bytes"] for x in nights) / 1e9 * 1.2
    step = (width - 2 * pad) / max(1, n)
    bars, points = [], []
    for i, x in enumerate(nights):
        left = pad + i * step
        bar = (height - 2 * pad) * (x["disk_bytes"] / 1e9) / top_gb
        bars.append(f'<rect x="{left + step * 0.15:.1f}" y="{height - pad - bar:.1f}" width="{step * 0.7:.1f}" '
                    f'height="{bar:.1f}" fill="#c7d7ea"><title>night {x["night"]}: {x["disk_bytes"] / 1e9:.2f} GB '
                    f'kept</title></rect>')
        y = height - pad - (height - 2 * pad) * x["seconds"] / top_s
        points.append((left + step / 2, y, x))
    line = " ".join(f"{px:.1f},{py:.1f}" for px, py, _ in points)
    dots = "".join(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="#1f4e99"><title>night {x["night"]}: '
                   f'{x["seconds"]:.1f} s</title></circle>' for px, py, x in points)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
            f'font-size="11">{"".join(bars)}<polyline points="{line}" fill="none" stroke="#1f4e99" stroke-width="2"/>'
            f'{dots}<text x="{pad}" y="{pad - 12}">seconds a night (line, 0-{top_s:.0f} s) and disk kept '
            f'(bars, 0-{top_gb:.1f} GB)</text><text x="{width / 2:.0f}" y="{height - 8}" text-anchor="middle">'
            f'night</text></svg>\n')


if __name__ == "__main__":
    main()
