"""Times `ResourceMap.apply` (pipelines/sources/resource_map.py) on a synthetic day of requests.

    .venv/bin/python -m bench.resource_map --rows 10000000

64 LiteLLM `api_base` ids over one day; a third of them are spot replicas relaunched at noon on
the same address (two validity windows each, 86 entries in all); 1 % of rows name an unmapped
address and 1 % are blank (unrouted). Prints the best of three runs and what was mapped.
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl

from pipelines.config.map_entries import ResourceMapEntry
from pipelines.sources.resource_map import ResourceMap

DAY = datetime(2026, 10, 28, tzinfo=timezone.utc)


def entries() -> list[ResourceMapEntry]:
    noon, out = DAY + timedelta(hours=12), []
    for i in range(64):
        url = f"http://10.0.4.{i}:8000/v1"
        if i % 3 == 0:
            out.append(ResourceMapEntry(source="litellm", source_id=url, resource_id=f"gpu-{i}-a",
                                        tier="h100-class", valid_to=noon))
            out.append(ResourceMapEntry(source="litellm", source_id=url, resource_id=f"gpu-{i}-b",
                                        tier="h100-class", valid_from=noon))
        else:
            out.append(ResourceMapEntry(source="litellm", source_id=url, resource_id=f"gpu-{i}", tier="h100-class"))
    return out


def requests(rows: int, seed: int = 1) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    ids = np.array([f"http://10.0.4.{i}:8000/v1" for i in range(65)] + [""], dtype=object)  # .64 is unmapped
    pick = rng.integers(0, 64, rows)
    pick[rng.random(rows) < 0.01] = 64
    pick[rng.random(rows) < 0.01] = 65
    at_us = int(DAY.timestamp() * 1_000_000) + rng.integers(0, 86_400_000_000, rows)
    return pl.DataFrame({
        "api_base": pl.Series(ids[pick], dtype=pl.String),
        "received_at": pl.Series(at_us).cast(pl.Datetime("us", "UTC")),
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    rows = parser.parse_args().rows
    frame, resource_map = requests(rows), ResourceMap(entries())
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        out = resource_map.apply(frame, source="litellm", id_column="api_base", at_column="received_at")
        timings.append(time.perf_counter() - start)
    print(f"{rows:,} rows: best {min(timings):.2f} s of {', '.join(f'{t:.2f}' for t in timings)}; "
          f"mapped {out['resource_id'].is_not_null().sum():,}, unmapped {out['_problem_reason'].is_not_null().sum():,}")


if __name__ == "__main__":
    main()
