"""The run ledger: each check's finding and each run's milestones as small Parquet files beside
the lake, read by the published file as `marts.check_results` and `marts.runs`.

Why files, not rows copied by the publish step: Dagster orders a check step after the asset it
checks, but not before other steps. The publish step depends on the marts, not on their checks,
so in the UI's multiprocess run (and in any in-process order) a check may finish after the file
was published. A check therefore writes its own row when it has its result, as one file renamed
into place (`<lake>/_ledger/check_results/<run_id>.<asset>.<check>.parquet`), and the published
file's view reads every such file whenever it is queried: a finding is there as soon as its check
has run, whatever the order of steps and whichever executor ran them.

Runs leave one file per milestone (`_ledger/runs/<run_id>.<event>.parquet`): `published` (the
publish step), `failed` (a step failed; a job hook), `finished` (the command line, with its exit
status). `marts.runs` folds them into one row per run. Each writer writes its own file, so no two
processes ever rewrite the same one.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.findings import Finding
from pipelines.sql_files import render, statements

CHECK_RESULTS_SCHEMA = pa.schema([
    ("run_id", pa.string()), ("checked_at", pa.timestamp("us", tz="UTC")), ("asset", pa.string()),
    ("check_name", pa.string()), ("severity", pa.string()), ("passed", pa.bool_()), ("expectation", pa.string()),
    ("failing_rows", pa.int64()), ("examples", pa.string()), ("query", pa.string()), ("finding", pa.string()),
])
RUN_EVENTS_SCHEMA = pa.schema([
    ("run_id", pa.string()), ("event", pa.string()), ("at", pa.timestamp("us", tz="UTC")), ("job", pa.string()),
    ("started_at", pa.timestamp("us", tz="UTC")), ("first_day", pa.date32()), ("last_day", pa.date32()),
    ("exit_code", pa.int32()), ("failure", pa.string()), ("note", pa.string()),
])
EMPTY = "_schema.parquet"  # a file with no rows, so a view over the folder never matches nothing
EVENTS = ("published", "failed", "finished")


@dataclass(frozen=True)
class Ledger:
    """`_ledger/` of a lake root: a folder, or an object-store URL written through fsspec."""

    root: Path | str

    @property
    def _fs(self):
        return fsspec.core.url_to_fs(str(self.root))[0]

    @property
    def local(self) -> bool:
        return "://" not in str(self.root)

    @property
    def check_results(self) -> str:
        return f"{self.root}/check_results"

    @property
    def runs(self) -> str:
        return f"{self.root}/runs"

    def ensure(self) -> None:
        for folder, schema in ((self.check_results, CHECK_RESULTS_SCHEMA), (self.runs, RUN_EVENTS_SCHEMA)):
            if self.local:
                Path(folder).mkdir(parents=True, exist_ok=True)
            if not self._fs.exists(f"{folder}/{EMPTY}"):
                self._write(f"{folder}/{EMPTY}", pa.Table.from_batches([], schema=schema))

    def _write(self, path: str, table: pa.Table) -> str:
        if not self.local:  # an object store replaces an object whole: one PUT
            with self._fs.open(path, "wb") as handle:
                pq.write_table(table, handle)
            return path
        target = Path(path)
        staging = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")  # not *.parquet: views never read it
        pq.write_table(table, staging)
        os.replace(staging, target)
        return path

    def record_finding(self, run_id: str, finding: Finding, checked_at: datetime | None = None) -> Path:
        """One check's row of this run; a re-run of the step (a retry) replaces it."""
        self.ensure()
        row = finding.row(run_id, checked_at or datetime.now(timezone.utc))
        name = f"{_safe(run_id)}.{_safe(finding.asset)}.{_safe(finding.check_name)}.parquet"
        return self._write(f"{self.check_results}/{name}", _one_row(row, CHECK_RESULTS_SCHEMA))

    def record_run(self, run_id: str, event: str, *, job: str | None = None, started_at: datetime | None = None,
                   first_day: date | None = None, last_day: date | None = None, exit_code: int | None = None,
                   failure: str | None = None, note: str | None = None, at: datetime | None = None) -> Path:
        if event not in EVENTS:
            raise ValueError(f"unknown run event {event!r}")
        self.ensure()
        row = {"run_id": run_id, "event": event, "at": at or datetime.now(timezone.utc), "job": job,
               "started_at": started_at, "first_day": first_day, "last_day": last_day, "exit_code": exit_code,
               "failure": failure, "note": note}
        return self._write(f"{self.runs}/{_safe(run_id)}.{event}.parquet",
                           _one_row(row, RUN_EVENTS_SCHEMA))

    def create_views(self, con) -> None:
        """`marts.check_results` and `marts.runs` over the ledger's files, with their COMMENTs."""
        self.ensure()
        names = {"check_results_files": _literal(f"{self.check_results}/*.parquet"),
                 "run_event_files": _literal(f"{self.runs}/*.parquet")}
        con.execute("CREATE SCHEMA IF NOT EXISTS marts")
        for statement in statements("schema/ledger.sql"):
            con.execute(render(statement, names, "schema/ledger.sql"))


def ledger_for(lake) -> Ledger:
    return Ledger(f"{lake.url}/_ledger" if not lake.local else Path(lake.root) / "_ledger")


def record_findings(lake, run_id: str, findings: Iterable[Finding]) -> None:
    ledger = ledger_for(lake)
    for finding in findings:
        ledger.record_finding(run_id, finding)


def run_started_at(instance, run_id: str) -> datetime | None:
    record = instance.get_run_record_by_id(run_id)
    started = record.start_time if record is not None else None
    return datetime.fromtimestamp(started, timezone.utc) if started else None


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _one_row(row: dict, schema: pa.Schema) -> pa.Table:
    """A one-row table built through polars: pyarrow converting Python values imports pandas
    first (0.3 s, most of what a run's first check result cost)."""
    import polars as pl

    columns = pl.from_arrow(pa.Table.from_batches([], schema=schema)).schema
    return pl.DataFrame([row], schema=columns).to_arrow().cast(schema)
