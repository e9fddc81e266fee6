"""Hostile input: model names, resource ids and API key ids with quotes, semicolons, SQL, template markers,
unicode and 10 KB lengths flow through to raw and the marts unchanged (exact equality), and never reach
SQL as text (every statement the run executes is recorded and searched); a FOCUS import path that is not
a readable file is refused clearly."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import duckdb
import pytest

from fixtures.rows import Fleet
from pipelines.invoices import InvoiceImportError, import_focus_files
from tests.conftest import DATA

DAY, NEXT = date(2026, 10, 10), date(2026, 10, 11)
MARK = "ZQX"  # in every hostile value, so a statement that holds one is found
HOSTILE = {
    "llama-3.1-70b-instruct-awq": "llama'); DROP TABLE raw.requests; --ZQX1 \"q\" \\ ü 模型 🚀\t' OR '1'='1",
    "qwen2.5-32b-instruct-awq": "ZQX2 " + "x" * 10_240 + " '\";",  # 10 KB
    "gpu-r1": "gpu-r1'; DELETE FROM marts.resource_hourly; --ZQX3 ä\u202e",
    "gpu-r2": "ZQX4 {{source}} $window_start ? %s " + "é" * 5_120,  # 10 KB of UTF-8, template and parameter markers
}
KEY_IDS = ["key'ZQX5;\"", "ZQX6" + "k" * 10_240, "ZQX7 🔑 ключ ' --", None, "ZQX8 \\' \\\" ;; /* */"]


def hostile_fleet() -> tuple[Fleet, Fleet]:
    folder = DATA / "tiny_fleet" / "input"
    snapshots, requests, events = (json.loads((folder / f"{n}.json").read_text())
                                   for n in ("snapshots", "requests", "events"))
    ids = sorted({r["request_id"] for r in requests})  # a re-delivered row keeps its key id
    key_of = {rid: KEY_IDS[i % len(KEY_IDS)] for i, rid in enumerate(ids)}
    plain_requests = [{**r, "api_key_id": f"plain-key-{KEY_IDS.index(key_of[r['request_id']])}"
                       if key_of[r["request_id"]] else None} for r in requests]
    plain = Fleet.from_rows(snapshots, plain_requests, events)

    def swap(row: dict) -> dict:
        return {k: HOSTILE.get(v, v) if k in ("model", "resource_id") else v for k, v in row.items()}

    hostile_requests = [{**swap(r), "api_key_id": key_of[r["request_id"]]} for r in requests]
    return plain, Fleet.from_rows([swap(r) for r in snapshots], hostile_requests, [swap(r) for r in events])


class RecordingConnection:
    """A DuckDB connection that records the text of every statement it is given."""

    def __init__(self, con: duckdb.DuckDBPyConnection, log: list[str]) -> None:
        self._con, self._log = con, log

    def __getattr__(self, name):
        attr = getattr(self._con, name)
        if name in ("execute", "sql", "query", "executemany"):
            def recorded(query, *args, **kwargs):
                self._log.append(str(query))
                return attr(query, *args, **kwargs)
            return recorded
        return attr

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._con.close()


def unhostile(tables: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    back = {v: k for k, v in HOSTILE.items()}
    keys = {k: f"plain-key-{i}" for i, k in enumerate(KEY_IDS) if k}
    return {t: sorted((tuple(back.get(v, keys.get(v, v)) if isinstance(v, str) else v for v in row) for row in rows),
                      key=repr) for t, rows in tables.items()}


def test_hostile_names_flow_through_unchanged_and_never_reach_sql_as_text(pipeline, monkeypatch):
    from tests.test_faults import dump_tables

    plain, hostile = hostile_fleet()
    statements: list[str] = []
    real_connect = duckdb.connect
    monkeypatch.setattr(duckdb, "connect", lambda *a, **k: RecordingConnection(real_connect(*a, **k), statements))
    outcome = pipeline.run(hostile, DAY, NEXT)
    monkeypatch.setattr(duckdb, "connect", real_connect)
    assert outcome.exit_code in (0, 2), outcome.lines
    assert len(statements) > 100
    assert [s[:200] for s in statements if MARK in s] == []  # values went as parameters or in files, never as SQL

    shown = dump_tables(pipeline.published)
    # Exact values in raw: every byte of every hostile name and key id.
    assert {r[4] for r in shown["raw.requests"]} == {HOSTILE["llama-3.1-70b-instruct-awq"],
                                                    HOSTILE["qwen2.5-32b-instruct-awq"]}
    assert {r[12] for r in shown["raw.requests"]} == set(KEY_IDS)
    assert {r[1] for r in shown["raw.billing_snapshots"]} == {HOSTILE["gpu-r1"], HOSTILE["gpu-r2"]}
    assert not shown["quarantine.requests"] and not shown["quarantine.billing_snapshots"]
    # ... and in the marts: the same tables, every row, as the same fleet with plain names gives.
    plain_run = pipeline.folder / "plain" / "invoice_true.duckdb"
    pipeline.published, hostile_published = plain_run, pipeline.published
    assert pipeline.run(plain, DAY, NEXT).exit_code == outcome.exit_code
    assert unhostile(dump_tables(hostile_published)) == unhostile(dump_tables(plain_run))
    marts = dump_tables(hostile_published, ("marts",))
    assert {r[1] for r in marts["marts.resource_hourly"]} == {HOSTILE["gpu-r1"], HOSTILE["gpu-r2"]}
    assert {HOSTILE["llama-3.1-70b-instruct-awq"], HOSTILE["qwen2.5-32b-instruct-awq"]} <= {
        r[2] for r in marts["marts.cost_per_mtok_daily"]}


def test_a_focus_path_that_is_not_a_readable_file_is_refused_clearly(tmp_path):
    unreadable = tmp_path / "locked.csv"
    unreadable.write_text("BillingPeriodStart\n")
    unreadable.chmod(0)
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to(tmp_path / "gone.csv")
    quoted = tmp_path / "it's; DROP TABLE raw.invoice_rows; --.csv"
    cases = [tmp_path / "nowhere" / "invoice.csv", tmp_path, fifo, dangling, quoted, Path("/dev/null")]
    if os.geteuid() != 0:  # root reads anything
        cases.append(unreadable)
    with duckdb.connect() as con:
        for path in cases:
            with pytest.raises(InvoiceImportError) as raised:
                import_focus_files(con, [path])
            message = str(raised.value)
            assert "\n" not in message and "Traceback" not in message
            assert "is not a readable file" in message or "is not a FOCUS export" in message or (
                "cannot be read" in message), message
            assert str(path) in message or str(path.resolve()) in message, message
