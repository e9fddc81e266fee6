"""`invoice-true status`: is yesterday final and clean? Read from the published file alone.

It opens the published file read-only (never the Dagster instance, never the working file) and
prints, one section a line (or a few): the answer for the day asked about (yesterday, UTC, by
default); the days the file holds; the newest final day (DESIGN.md rule 3 and "Day edges": a
day is final once every watched resource has a sample after its end, so no open dark stretch
starts before the day ends); the last run and how it ended (`marts.runs`, `marts.check_results`);
days with incomplete billing and the open dark stretches; quarantined rows by reason; the token
cross-check's warnings.

The last run is the latest run of the daily job with the runs started after it (the months
`invoice-true run` reconciled). Exit status: 0 when each of them ended clean (published, every
check passed), 2 when not, 1 when there is no published file to read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb

from pipelines.sql_files import statements

CLEAN, NOT_CLEAN, NO_FILE = 0, 2, 1
DAILY_JOB = "invoice_true_daily"
WIDTH = 12  # the label column
SHOWN = 7  # days or stretches listed before "and N more"


@dataclass
class Report:
    lines: list[str]
    exit_code: int


def run_status(published: Path, day: date | None = None) -> int:
    """Print the report; `day` defaults to yesterday (UTC)."""
    if day is None:
        report = status_report(published, datetime.now(timezone.utc).date() - timedelta(days=1), "yesterday")
    else:
        report = status_report(published, day)
    for text in report.lines:
        print(text)
    return report.exit_code


def status_report(published: Path, day: date, named: str = "day") -> Report:
    """The lines and exit status; `named` is how the answer calls the day ("yesterday")."""
    if not published.exists():
        return Report([f"no published file at {published} (WAREHOUSE_PATH): nothing has been published yet"], NO_FILE)
    with duckdb.connect(str(published), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        return Status(con, published, day, named).report()


def _label(name: str, text: str) -> str:
    return f"{name:<{WIDTH}}{text}"


def _at(value: datetime | None) -> str:
    return "unknown" if value is None else value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _days(first: date | None, last: date | None) -> str:
    if first is None:
        return "no days"
    return str(first) if first == last else f"{first} to {last}"


def _unreadable(exc: Exception) -> str:
    said = str(exc).strip().splitlines()
    return f"cannot be read from here ({said[0] if said else type(exc).__name__})"


def _listed(items: list[str]) -> str:
    shown = items[-SHOWN:]
    more = f"; and {len(items) - len(shown)} earlier" if len(items) > len(shown) else ""
    return "; ".join(shown) + more


class Status:
    def __init__(self, con: duckdb.DuckDBPyConnection, published: Path, day: date, named: str) -> None:
        self.con, self.published, self.day, self.named = con, published, day, named
        self.relations = {r[0] for r in con.execute(
            "SELECT schema_name || '.' || table_name FROM duckdb_tables() UNION ALL "
            "SELECT schema_name || '.' || view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
        (self.held_sql, self.incomplete_sql, self.open_sql, self.last_runs_sql, self.findings_sql,
         self.quarantine_sql, self.crosscheck_sql) = statements("status/sections.sql")

    def rows(self, sql: str, params: dict | None = None) -> list[tuple]:
        return self.con.execute(sql, params).fetchall()

    def report(self) -> Report:
        first, last, days = self.rows(self.held_sql)[0]
        open_stretches = self.rows(self.open_sql)
        final = self.newest_final(first, last, open_stretches)
        try:
            runs_lines, clean = self.last_run()
        except duckdb.Error as exc:  # the ledger's files are beside the lake: elsewhere they are not
            runs_lines, clean = [_label("last run", _unreadable(exc))], False
        lines = [
            _label("published", str(self.published)),
            _label("answer", self.answer(first, last, final, clean)),
            _label("days", f"{_days(first, last)} ({days} day{'s' if days != 1 else ''})" if first else "none"),
            _label("final", f"{final} is the newest final day" if final else "no day is final yet"),
            *runs_lines,
            *self.incomplete(),
            _label("dark", _listed([f"{r} dark since {_at(s)}" for r, s in open_stretches])
                   if open_stretches else "no open dark stretch"),
            *self.readable("quarantine", self.quarantine),
            *self.readable("crosscheck", self.crosscheck),
        ]
        return Report(lines, CLEAN if clean else NOT_CLEAN)

    def readable(self, name: str, section) -> list[str]:
        """A section over files beside the lake (quarantine views, the ledger), or why it cannot be read."""
        try:
            return section()
        except duckdb.Error as exc:
            return [_label(name, _unreadable(exc))]

    def newest_final(self, first: date | None, last: date | None, open_stretches: list[tuple]) -> date | None:
        if first is None:
            return None
        final = last
        if open_stretches:
            earliest = min(s for _, s in open_stretches).astimezone(timezone.utc)
            final = min(last, earliest.date() - timedelta(days=1))  # the day ends before the stretch opens
        return final if final >= first else None

    def answer(self, first: date | None, last: date | None, final: date | None, clean: bool) -> str:
        held = first is not None and first <= self.day <= last
        if not held:
            state = "is not in the file"
        elif final is not None and self.day <= final:
            state = "is final"
        else:
            state = "is not final yet (billing after its end not stored for every resource)"
        run = "the last run was clean" if clean else "the last run was not clean"
        return f"{self.named} {self.day} {state}; {run}"

    def last_run(self) -> tuple[list[str], bool]:
        if "marts.runs" not in self.relations:
            return [_label("last run", "not recorded in this file (published before the run ledger)")], False
        runs = self.rows(self.last_runs_sql, {"daily_job": DAILY_JOB})
        if not runs:
            return [_label("last run", "none recorded")], False
        lines = []
        for index, (run_id, job, started, finished, first, last, published_at, checks, failed, failure, note, code) \
                in enumerate(runs):
            if code == 1 or published_at is None:
                ended = f"nothing published: {failure or 'no step recorded why'}"
            else:
                ended = (f"published {_at(published_at)}; "
                         + (f"{failed} of {checks} checks failed" if failed else
                            f"all {checks} checks passed" if checks != 1 else "its one check passed")
                         + "".join(f"; {text}" for text in (failure, note) if text))
            so_far = "" if finished is not None else " so far"
            lines.append(_label("last run" if index == 0 else "",
                                f"{job} {_days(first, last)}, run {run_id[:8]}, started {_at(started)}"))
            lines.append(_label("", f"  {ended} (exit {code if code is not None else 'unknown'}{so_far})"))
            if code:
                lines += [_label("", f"  {text}") for text in self.findings(run_id)]
        return lines, all(code == 0 for *_, code in runs)

    def findings(self, run_id: str) -> list[str]:
        return [line for (text,) in self.rows(self.findings_sql, {"run_id": run_id}) for line in text.splitlines()]

    def incomplete(self) -> list[str]:
        days = self.rows(self.incomplete_sql)
        if not days:
            return [_label("incomplete", "no day with incomplete billing")]
        listed = [f"{day} ({hours} resource-hour{'s' if hours != 1 else ''}: {', '.join(resources)})"
                  for day, hours, resources in days]
        return [_label("incomplete", f"{len(days)} day{'s' if len(days) != 1 else ''} with incomplete billing: "
                       + _listed(listed))]

    def quarantine(self) -> list[str]:
        sources = sorted(r.split(".")[1] for r in self.relations if r.startswith("quarantine."))
        counted = [(s, kind, rows) for s in sources
                   for kind, rows in self.rows(self.quarantine_sql.replace("{{table}}", s))]
        if not counted:
            return [_label("quarantine", "no rows quarantined")]
        width = max(len(s) for s, _, _ in counted)
        return [_label("quarantine" if i == 0 else "", f"{s:<{width}}  {rows:>7,}  {kind}")
                for i, (s, kind, rows) in enumerate(counted)]

    def crosscheck(self) -> list[str]:
        # the table is always there; it holds rows only where a [crosscheck] source counted tokens
        if "marts.token_crosscheck" not in self.relations or not self.rows(
                "SELECT 1 FROM marts.token_crosscheck LIMIT 1", {}):
            return [_label("crosscheck", "not configured (no [crosscheck] source)")]
        warned = [line for (text,) in self.rows(self.crosscheck_sql, {"daily_job": DAILY_JOB})
                  for line in text.splitlines()]
        return [_label("crosscheck" if i == 0 else "", text) for i, text in enumerate(warned)] or [
            _label("crosscheck", "no warnings in the last run")]
