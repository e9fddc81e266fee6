"""Crash safety: `invoice-true run` killed with SIGKILL at seeded points (during ingest, during the marts,
during publish, at a random time), again and again. Every time the published file opens and is exactly
the old version or the new one, never a mix; the working file (and its WAL, replayed on the next open)
holds whole source-days; no stale lock blocks the next run; the next run completes and equals a clean run."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import orjson
import pytest

from fixtures.faults import FaultPlan
from fixtures.fleet import simulate_fleet
from fixtures.rows import Fleet
from fixtures.server import FixtureServer
from pipelines.warehouse import work_path_for
from tests.test_faults import FAST_HTTP, TOKEN, dump_tables, fast_env, lake_root, landed_days, run_through

DAY = date(2026, 10, 26)
NEXT = DAY + timedelta(days=1)
KILLS = 10
SEED = 8
DATA_PATHS = {"/v1/billing/snapshots", "/v1/usage/requests", "/v1/fleet/events"}
# The tables the daily job writes: identical in both publishes of a run (the invoice job refreshes the file).
DAILY = ("raw.billing_snapshots", "raw.requests", "raw.fleet_events", "quarantine.billing_snapshots",
         "quarantine.requests", "quarantine.fleet_events", "marts.resource_hourly", "marts.cost_per_mtok_daily",
         "marts.cost_by_idle_fraction", "marts.band_check", "marts.observability_gaps", "marts.billing_resets")


def daily_tables(path: Path) -> dict[str, list[tuple]]:
    tables = dump_tables(path)
    return {t: tables[t] for t in DAILY}


def totals(path: Path) -> tuple:
    """(Σ resource_hourly.spend, Σ spend of the model rows, Σ spend of the '*' rows) of a published file."""
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(
            "SELECT (SELECT sum(spend) FROM marts.resource_hourly),"
            " (SELECT sum(spend) FROM marts.cost_per_mtok_daily WHERE model <> '*'),"
            " (SELECT sum(spend) FROM marts.cost_per_mtok_daily WHERE model = '*')"
        ).fetchall()[0]


def restated(fleet) -> Fleet:
    """The same fleet, every source restated: bills 25 % higher, one more token per request, events a
    second later. (Same resources and gaps: see test_faults' stale-gap test for why that matters.)"""
    def rows(source) -> list[dict]:
        return [orjson.loads(text) for text in source.frame()["json"].to_list()]

    snapshots = [{**r, "cumulative_cost": str((Decimal(r["cumulative_cost"]) * Decimal("1.25")).quantize(Decimal("1e-9")))}
                 for r in rows(fleet.snapshots)]
    requests = [{**r, "completion_tokens": r["completion_tokens"] + 1} for r in rows(fleet.requests)]
    events = [{**r, "at": (datetime.fromisoformat(r["at"]) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
              for r in rows(fleet.events)]
    return Fleet.from_rows(snapshots, requests, events, description="restated " + fleet.description)


class Reference:
    def __init__(self, name: str, fleet, folder: Path) -> None:
        self.name, self.fleet = name, fleet
        self.published = folder / "invoice_true.duckdb"
        outcome, self.seconds = run_through(FaultPlan(), fleet, self.published, DAY, NEXT)
        assert outcome.exit_code in (0, 2), outcome.lines
        self.exit_code = outcome.exit_code
        self.tables = dump_tables(self.published)
        self.daily = {t: self.tables[t] for t in DAILY}
        self.totals = totals(self.published)
        assert self.totals[0] == self.totals[1] == self.totals[2] and self.totals[0] > 0

    @property
    def work(self) -> Path:
        return work_path_for(self.published)


class Watch:
    """Times what a run does: each data request the server answers, each publish staging file."""

    def __init__(self, published: Path) -> None:
        self.published, self.t0 = published, time.monotonic()
        self.requests: list[float] = []
        self.staging_seen: list[float] = []
        self.staging_gone: list[float] = []
        self.on_request = None  # callback(n) on the n-th data request
        self.on_staging = None  # callback(k) when the k-th publish staging file appears
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, daemon=True)
        self._poller.start()

    def hook(self, path: str, params: dict) -> None:
        if path in DATA_PATHS:
            self.requests.append(time.monotonic() - self.t0)
            if self.on_request:
                self.on_request(len(self.requests))
        return None

    def _poll(self) -> None:
        present = False
        while not self._stop.is_set():
            now = any(p.name.startswith(f".{self.published.name}.") and p.name.endswith(".tmp")
                      for p in self.published.parent.iterdir())
            if now and not present:
                self.staging_seen.append(time.monotonic() - self.t0)
                if self.on_staging:
                    self.on_staging(len(self.staging_seen))
            elif present and not now:
                self.staging_gone.append(time.monotonic() - self.t0)
            present = now
            time.sleep(0.002)

    def stop(self) -> None:
        self._stop.set()
        self._poller.join(timeout=5)


def start_cli(url: str, published: Path, scratch: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, **FAST_HTTP, "BILLING_API_URL": url, "GATEWAY_API_URL": url,
           "BILLING_API_TOKEN": TOKEN, "GATEWAY_API_TOKEN": TOKEN, "WAREHOUSE_PATH": str(published),
           "INVOICE_TRUE_STEP_RETRIES": "0", "TMPDIR": str(scratch)}
    env.pop("DAGSTER_HOME", None)
    with open(log, "w") as err:
        return subprocess.Popen([sys.executable, "-m", "pipelines.cli", "run", "--start", str(DAY),
                                 "--end", str(NEXT)], env=env, stdout=subprocess.DEVNULL, stderr=err)


@pytest.mark.slow
def test_killing_a_run_anywhere_never_tears_the_published_file_nor_blocks_the_next_run(
    tmp_path, tmp_path_factory, monkeypatch, capsys
):
    fleet_a = simulate_fleet(seed=21, start=DAY, days=1, requests_per_day=1_500)
    fleets = {"A": fleet_a, "B": restated(fleet_a)}
    refs = {name: Reference(name, fleet, tmp_path_factory.mktemp(f"ref_{name}")) for name, fleet in fleets.items()}
    assert refs["A"].totals != refs["B"].totals  # the two versions are told apart by their totals
    folder, scratch = tmp_path / "warehouse", tmp_path / "scratch"
    folder.mkdir()
    scratch.mkdir()
    published = folder / "invoice_true.duckdb"
    shutil.copy2(refs["A"].published, published)
    shutil.copy2(refs["A"].work, work_path_for(published))
    shutil.copytree(lake_root(refs["A"].published), lake_root(published))

    # Calibrate: one whole CLI run of fleet B over A's warehouse, timed.
    watch = Watch(published)
    with FixtureServer(fleets["B"], token=TOKEN, faults=watch.hook) as server:
        proc = start_cli(server.url, published, scratch, tmp_path / "calibrate.log")
        assert proc.wait(timeout=600) == refs["B"].exit_code, (tmp_path / "calibrate.log").read_text()
        total_s = time.monotonic() - watch.t0
    watch.stop()
    assert daily_tables(published) == refs["B"].daily
    n_data = len(watch.requests)
    marts_s = watch.staging_seen[0] - watch.requests[-1]
    publish_s = max(0.05, watch.staging_gone[0] - watch.staging_seen[0])
    print(f"\ncalibration: {total_s:.1f} s, {n_data} data requests by {watch.requests[-1]:.1f} s, marts "
          f"{marts_s:.1f} s, publishes at {[round(t, 2) for t in watch.staging_seen]} s taking {publish_s:.2f} s")

    rng = random.Random(SEED)
    phases = ["ingest", "marts", "publish", "any time"]
    current, kills, attempts, records = "B", 0, 0, []
    while kills < KILLS:
        attempts += 1
        assert attempts <= KILLS + 8, "too many runs finished before their kill point"
        old, new = refs[current], refs["A" if current == "B" else "B"]
        phase = phases[attempts % len(phases)]
        watch = Watch(published)
        killed_at: list[float] = []
        proc_box: list[subprocess.Popen] = []

        def kill_after(delay: float) -> None:
            def fire() -> None:
                if proc_box and proc_box[0].poll() is None:
                    proc_box[0].send_signal(signal.SIGKILL)
                    killed_at.append(time.monotonic() - watch.t0)
            threading.Timer(delay, fire).start()

        if phase == "ingest":
            at_request = rng.randint(1, n_data)
            delay = rng.uniform(0, 0.2)
            watch.on_request = lambda n: n == at_request and kill_after(delay)
            point = f"data request {at_request}/{n_data} + {delay:.2f} s"
        elif phase == "marts":
            delay = rng.uniform(0.1, max(0.2, marts_s))
            watch.on_request = lambda n: n == n_data and kill_after(delay)
            point = f"last data request + {delay:.2f} s"
        elif phase == "publish":
            which, delay = rng.choice([1, 2]), rng.uniform(0, publish_s)
            watch.on_staging = lambda k: k == which and kill_after(delay)
            point = f"publish {which} + {delay:.3f} s"
        else:
            delay = rng.uniform(0.5, total_s)
            kill_after(delay)
            point = f"{delay:.2f} s after start"

        with FixtureServer(new.fleet, token=TOKEN, faults=watch.hook) as server:
            proc = start_cli(server.url, published, scratch, tmp_path / f"run{attempts}.log")
            proc_box.append(proc)
            code = proc.wait(timeout=600)
        watch.stop()
        if not killed_at:  # it finished before its kill point: it is simply the new version
            assert code == new.exit_code
            current = new.name
            records.append((phase, point, "finished first", "-", "-"))
            continue
        assert code == -signal.SIGKILL
        kills += 1

        # 1. The published file opens and is the old version or the new one, exactly; never a mix.
        hourly, models, tiers = totals(published)
        assert hourly == models == tiers
        assert hourly in (old.totals[0], new.totals[0])
        shown = daily_tables(published)
        version = "old" if shown == old.daily else "new" if shown == new.daily else "MIX"
        assert version != "MIX", f"kill at {point}: the published file is neither version"

        # 2. The working file: a killed writer may leave its WAL; a copy of both opens (replaying the
        #    WAL). The lake holds, per source, either the old day or the new day whole.
        work = work_path_for(published)
        wal = work.with_name(work.name + ".wal")
        had_wal = wal.exists()
        probe = tmp_path / f"probe{attempts}" / work.name
        probe.parent.mkdir()
        shutil.copy2(work, probe)
        if had_wal:
            shutil.copy2(wal, probe.with_name(probe.name + ".wal"))
        with duckdb.connect(str(probe)) as con:  # replays the WAL, then checkpoints the copy
            con.execute("CHECKPOINT")
        landed = landed_days(lake_root(old.published), lake_root(new.published), lake_root(published), days=[DAY])
        leftovers = sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))

        # 3. The next run takes the lock at once, replays the WAL, completes, and equals a clean run.
        capsys.readouterr()
        with monkeypatch.context() as mp, FixtureServer(new.fleet, token=TOKEN) as server:
            fast_env(mp, server.url, published)
            from pipelines.runner import run_days

            began = time.monotonic()
            outcome = run_days(DAY, NEXT)
            recovery_s = time.monotonic() - began
        assert "another run" not in capsys.readouterr().err  # no stale lock to wait for
        assert outcome.exit_code == new.exit_code, outcome.lines
        assert dump_tables(published) == new.tables
        assert not wal.exists()
        records.append((phase, point, f"killed at {killed_at[0]:.2f} s", version,
                        f"wal={'yes' if had_wal else 'no'} raw={landed} staging_left={len(leftovers)} "
                        f"recovered in {recovery_s:.1f} s"))
        current = new.name

    scratch_left = sorted(p.name for p in scratch.iterdir())
    print("\n".join(" | ".join(map(str, r)) for r in records))
    print(f"{kills} kills in {attempts} runs; ingest scratch folders left in TMPDIR by killed runs: {len(scratch_left)}")
    # A killed publish must not leave its staging copy (a whole warehouse) behind for good.
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]
