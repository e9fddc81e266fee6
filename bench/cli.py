"""`invoice-true run` timed as a user runs it: a process of its own, from start to exit, with checks,
publish and dashboard; wall seconds and the peak resident memory of its largest process."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

TOKEN = "bench-token"

# Runs the command, then prints wall seconds, the peak RSS of the largest process of its tree
# (RUSAGE_CHILDREN covers every descendant waited for: the CLI and its day workers) and the exit code.
_PROBE = """
import resource, subprocess, sys, time
t0 = time.perf_counter()
code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=sys.stderr)
print(time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024, code)
"""


def measured_run(url: str, start: date, end: date, published: Path, **env: str) -> dict:
    """One `invoice-true run --start --end` against the fixture server at `url`, in a fresh process."""
    environ = {**os.environ, "BILLING_API_URL": url, "GATEWAY_API_URL": url, "BILLING_API_TOKEN": TOKEN,
               "GATEWAY_API_TOKEN": TOKEN, "WAREHOUSE_PATH": str(published), **env}
    environ.pop("DAGSTER_HOME", None)
    environ.pop("INVOICE_TRUE_CONFIG", None)
    command = [sys.executable, "-m", "pipelines.cli", "run", "--start", start.isoformat(), "--end", end.isoformat()]
    published.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, "-c", _PROBE, *command], env=environ, cwd=published.parent,
                          capture_output=True, text=True)
    seconds, rss, code = done.stdout.strip().splitlines()[-1].split()
    return {"seconds": float(seconds), "peak_rss": int(rss), "exit": int(code), "stderr": done.stderr[-2000:]}
