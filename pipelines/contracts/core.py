"""Data contracts as code: each expectation is declared once and runs two ways.

* **Great Expectations 1.x** on a pandas batch (the default): the rule becomes a GX
  expectation (``gx_expectation``) validated against the batch the table's SQL selects.
* **DuckDB SQL** (the "SQL twin") when a batch has more rows than ``max_pandas_rows``: the
  same rule becomes a predicate true on each violating row (``violation_sql``), and every
  rule of the batch is counted in one scan. GX's SQL datasource is not used: on duckdb 2.0 it
  reports false failures without raising (STACK-NOTES.md).

Window work (a sample's previous cumulative, falls per resource-day, duplicate keys) is
always done in the batch's DuckDB SQL, so both engines judge the same derived columns.
GX is imported only when a check runs (3-5 s), with analytics, progress bars and INFO
logging off.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Literal

import duckdb

Severity = Literal["ERROR", "WARN"]
WHOLE_TABLE = (datetime(1900, 1, 1, tzinfo=timezone.utc), datetime(9999, 1, 1, tzinfo=timezone.utc))
ROW = "_row"  # every batch numbers its rows; examples are looked up by it


# -- rules --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    """One expectation. ``where`` is a condition written so that both pandas ``query`` and
    DuckDB read it the same (``completion_tokens > 0``, ``is_closed == True``)."""

    name: str
    severity: Severity = field(default="ERROR", kw_only=True)
    where: str | None = field(default=None, kw_only=True)
    # How the command line words a failure, given (failing rows, distinct first-key values), and
    # where to look; by default "<name> fails on N <rows>" and the checked table (contracts/explain.py).
    says: Callable[[int, int], str] | None = field(default=None, kw_only=True, compare=False)
    see: str | None = field(default=None, kw_only=True)
    row_level = True

    def gx_expectation(self, gxe: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def violation_sql(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def _conditional(self) -> dict[str, str]:
        return {"row_condition": self.where, "condition_parser": "pandas"} if self.where else {}

    def _guarded(self, predicate: str) -> str:
        return f"(({self.where}) AND ({predicate}))" if self.where else f"({predicate})"

    @property
    def columns(self) -> tuple[str, ...]:
        return ()


@dataclass(frozen=True)
class NotNull(Rule):
    column: str = ""

    def gx_expectation(self, gxe):
        return gxe.ExpectColumnValuesToNotBeNull(column=self.column, **self._conditional())

    def violation_sql(self):
        return self._guarded(f'"{self.column}" IS NULL')

    @property
    def columns(self):
        return (self.column,)


@dataclass(frozen=True)
class IsNull(Rule):
    column: str = ""

    def gx_expectation(self, gxe):
        return gxe.ExpectColumnValuesToBeNull(column=self.column, **self._conditional())

    def violation_sql(self):
        return self._guarded(f'"{self.column}" IS NOT NULL')

    @property
    def columns(self):
        return (self.column,)


@dataclass(frozen=True)
class NonEmpty(Rule):
    """Text at least one character long (nulls are NotNull's business)."""

    column: str = ""

    def gx_expectation(self, gxe):
        return gxe.ExpectColumnValueLengthsToBeBetween(column=self.column, min_value=1, **self._conditional())

    def violation_sql(self):
        return self._guarded(f'length("{self.column}") < 1')

    @property
    def columns(self):
        return (self.column,)


@dataclass(frozen=True)
class Between(Rule):
    """min <= value <= max (either bound may be open); nulls are not judged."""

    column: str = ""
    min_value: float | int | None = None
    max_value: float | int | None = None

    def gx_expectation(self, gxe):
        return gxe.ExpectColumnValuesToBeBetween(
            column=self.column, min_value=self.min_value, max_value=self.max_value, **self._conditional()
        )

    def violation_sql(self):
        value = f'CAST("{self.column}" AS DOUBLE)'  # the same numbers pandas sees
        parts = []
        if self.min_value is not None:
            parts.append(f"{value} < {self.min_value!r}")
        if self.max_value is not None:
            parts.append(f"{value} > {self.max_value!r}")
        parts.append(f"isnan({value})")
        return self._guarded(f'"{self.column}" IS NOT NULL AND ({" OR ".join(parts)})')

    @property
    def columns(self):
        return (self.column,)


@dataclass(frozen=True)
class AtLeastColumn(Rule):
    """column_a >= column_b on every row where both are present."""

    column_a: str = ""
    column_b: str = ""

    def gx_expectation(self, gxe):
        return gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=self.column_a, column_B=self.column_b, or_equal=True,
            ignore_row_if="either_value_is_missing", **self._conditional(),
        )

    def violation_sql(self):
        return self._guarded(f'"{self.column_a}" < "{self.column_b}"')

    @property
    def columns(self):
        return (self.column_a, self.column_b)


@dataclass(frozen=True)
class InSet(Rule):
    column: str = ""
    values: tuple[str, ...] = ()

    def gx_expectation(self, gxe):
        return gxe.ExpectColumnValuesToBeInSet(column=self.column, value_set=list(self.values), **self._conditional())

    def violation_sql(self):
        listed = ", ".join("'" + v.replace("'", "''") + "'" for v in self.values)
        return self._guarded(f'"{self.column}" IS NOT NULL AND "{self.column}" NOT IN ({listed})')

    @property
    def columns(self):
        return (self.column,)


@dataclass(frozen=True)
class Unique(Rule):
    """No two rows share these columns; every row of a repeated key counts as unexpected."""

    key: tuple[str, ...] = ()

    def gx_expectation(self, gxe):
        if len(self.key) == 1:
            return gxe.ExpectColumnValuesToBeUnique(column=self.key[0], **self._conditional())
        return gxe.ExpectCompoundColumnsToBeUnique(column_list=list(self.key), **self._conditional())

    def violation_sql(self):
        names = ", ".join(f'"{c}"' for c in self.key)
        return self._guarded(f"count(*) OVER (PARTITION BY {names}) > 1")

    @property
    def columns(self):
        return self.key


@dataclass(frozen=True)
class DistinctAtMost(Rule):
    """A batch-level expectation: at most ``count`` distinct values in ``column``."""

    column: str = ""
    count: int = 1
    row_level = False

    def gx_expectation(self, gxe):
        return gxe.ExpectColumnUniqueValueCountToBeBetween(column=self.column, min_value=0, max_value=self.count)

    def violation_sql(self):
        return f'count(DISTINCT "{self.column}") > {self.count}'

    @property
    def columns(self):
        return (self.column,)


@dataclass(frozen=True)
class Batch:
    """A query over one table (``$scope_start``/``$scope_end`` bound) and the rules it must keep.
    The query must return a ``_row`` column numbering its rows; ``key`` names a row for a person
    (an example's key), ``noun`` says what a row is ("sample", "resource-day")."""

    name: str
    sql: str
    rules: tuple[Rule, ...]
    example_columns: tuple[str, ...]
    key: tuple[str, ...] = ()
    noun: str = "row"


@dataclass(frozen=True)
class Suite:
    table: str  # e.g. raw.requests
    scope_column: str  # what the scope selects on, for the reader
    batches: tuple[Batch, ...]


# -- outcomes -----------------------------------------------------------------------------------
@dataclass
class RuleOutcome:
    batch: str
    rule: str
    severity: Severity
    passed: bool
    checked_rows: int
    unexpected: int | None  # None for a batch-level rule
    observed: Any = None
    examples: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class SuiteOutcome:
    table: str
    engine: dict[str, str]  # batch -> which engine ran it and why
    rows: dict[str, int]  # batch -> rows in the batch
    outcomes: list[RuleOutcome]
    seconds: float

    @property
    def failed(self) -> list[RuleOutcome]:
        return [o for o in self.outcomes if not o.passed]

    @property
    def passed(self) -> bool:
        return not self.failed

    @property
    def severity(self) -> Severity:
        """WARN only when every failed expectation is a warning; ERROR otherwise (and when passed)."""
        failed = self.failed
        return "WARN" if failed and all(o.severity == "WARN" for o in failed) else "ERROR"


# -- running ------------------------------------------------------------------------------------
def run_suite(
    con: duckdb.DuckDBPyConnection,
    suite: Suite,
    scope: tuple[datetime, datetime] = WHOLE_TABLE,
    *,
    max_pandas_rows: int = 1_000_000,
    examples: int = 5,
    engine: Literal["auto", "gx", "sql"] = "auto",
) -> SuiteOutcome:
    started = time.perf_counter()
    outcomes: list[RuleOutcome] = []
    engines: dict[str, str] = {}
    sizes: dict[str, int] = {}
    for batch in suite.batches:
        sql = _bind_scope(batch.sql, scope)
        n = con.execute(f"SELECT count(*) FROM ({sql})").fetchall()[0][0]
        sizes[batch.name] = n
        use_sql = engine == "sql" or (engine == "auto" and n > max_pandas_rows)
        # The SQL twin reads a view (no copy of a 10 M-row batch); GX reads a pandas frame of it.
        kind = "VIEW" if use_sql else "TABLE"
        con.execute(f"CREATE OR REPLACE TEMP {kind} contract_batch AS {sql}")
        try:
            if use_sql:
                engines[batch.name] = (
                    f"duckdb sql ({n:,} rows > max_pandas_rows {max_pandas_rows:,})" if engine == "auto" else "duckdb sql"
                )
                outcomes += _run_sql(con, batch, n, examples)
            else:
                engines[batch.name] = f"great_expectations {_gx_version()} pandas batch ({n:,} rows)"
                outcomes += _run_gx(con, suite, batch, examples)
        finally:
            con.execute(f"DROP {kind} IF EXISTS contract_batch")
    return SuiteOutcome(suite.table, engines, sizes, outcomes, time.perf_counter() - started)


def _bind_scope(sql: str, scope: tuple[datetime, datetime]) -> str:
    """The scope as TIMESTAMPTZ literals (a view cannot hold parameters); both are datetimes
    formatted here, never text from outside."""
    for name, at in zip(("$scope_start", "$scope_end"), scope):
        if not isinstance(at, datetime) or at.tzinfo is None:
            raise ValueError(f"scope bounds must be aware datetimes, got {at!r}")
        literal = at.astimezone(timezone.utc).strftime("TIMESTAMPTZ '%Y-%m-%d %H:%M:%S.%f+00'")
        sql = sql.replace(name, literal)
    return sql


def _run_sql(con: duckdb.DuckDBPyConnection, batch: Batch, n: int, examples: int) -> list[RuleOutcome]:
    """Every row-level rule counted in one scan; examples read again only for the rules that failed."""
    row_rules = [(i, r) for i, r in enumerate(batch.rules) if r.row_level]
    counts: dict[int, tuple[int, int]] = {}
    if row_rules:
        flags = ", ".join(f"{r.violation_sql()} AS v{i}" for i, r in row_rules)
        judged = ", ".join(f"({r.where}) AS j{i}" for i, r in row_rules if r.where)
        counted = ", ".join(
            f"count(*) FILTER (WHERE v{i}), " + (f"count(*) FILTER (WHERE j{i})" if r.where else "count(*)")
            for i, r in row_rules
        )
        values = con.execute(
            f"SELECT {counted} FROM (SELECT {flags}{', ' + judged if judged else ''} FROM contract_batch)"
        ).fetchall()[0]
        counts = {i: (values[2 * j], values[2 * j + 1]) for j, (i, _) in enumerate(row_rules)}
    out = []
    for i, rule in enumerate(batch.rules):
        if rule.row_level:
            unexpected, judged_rows = counts[i]
            shown = []
            if unexpected:
                cols = ", ".join(f'"{c}"' for c in _example_columns(batch, rule))
                shown = _dicts(con.execute(
                    f"SELECT {cols} FROM (SELECT *, {rule.violation_sql()} AS violated FROM contract_batch) "
                    f"WHERE violated ORDER BY {ROW} LIMIT {examples}"
                ))
            out.append(RuleOutcome(batch.name, rule.name, rule.severity, unexpected == 0, judged_rows,
                                   unexpected, examples=shown))
        else:
            column = rule.columns[0]
            observed = _value_counts(con, column)
            failed = len(observed) > rule.count
            out.append(RuleOutcome(
                batch.name, rule.name, rule.severity, not failed, n, None, observed=len(observed),
                examples=[{column: _plain(v), "rows": c} for v, c in observed[:examples]] if failed else [],
            ))
    return out


def _rows_by_number(con: duckdb.DuckDBPyConnection, batch: Batch, rule: Rule, rows: list[int]) -> list[dict[str, Any]]:
    """Example rows read back from the DuckDB batch, so both engines show exact values alike."""
    if not rows:
        return []
    cols = ", ".join(f'"{c}"' for c in _example_columns(batch, rule))
    return _dicts(con.execute(f"SELECT {cols} FROM contract_batch WHERE {ROW} IN ? ORDER BY {ROW}", [rows]))


def _value_counts(con: duckdb.DuckDBPyConnection, column: str) -> list[tuple[Any, int]]:
    return con.execute(
        f'SELECT "{column}", count(*) FROM contract_batch WHERE "{column}" IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1'
    ).fetchall()


def _example_columns(batch: Batch, rule: Rule) -> list[str]:
    cols = [ROW] + list(batch.example_columns)
    cols += [c for c in rule.columns if c not in cols]
    return cols


def _dicts(cursor) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    return [{k: _plain(v) for k, v in zip(names, row)} for row in cursor.fetchall()]


def _plain(value: Any) -> Any:
    """A JSON-friendly value for metadata: timestamps and decimals as text."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return _plain(value.item())
    return str(value)


# -- Great Expectations -------------------------------------------------------------------------
_gx_state: dict[str, Any] = {}


def _gx():
    """Import GX once, quietly: no analytics, no progress bars, no INFO logging."""
    if not _gx_state:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        for name in ("great_expectations", "posthog"):
            logging.getLogger(name).setLevel(logging.WARNING)
        import great_expectations as gx
        import great_expectations.expectations as gxe
        from great_expectations.data_context.types.base import ProgressBarsConfig

        _quiet_gx_loggers()  # some GX modules set their own logger to INFO when imported
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(
            globally=False, metric_calculations=False
        )
        datasource = context.data_sources.add_pandas("invoice_true_contracts")
        batch_definition = datasource.add_dataframe_asset("batch").add_batch_definition_whole_dataframe("whole")
        _quiet_gx_loggers()
        _gx_state.update(gx=gx, gxe=gxe, context=context, batch_definition=batch_definition)
    return _gx_state


def _quiet_gx_loggers() -> None:
    for name in list(logging.root.manager.loggerDict):
        if name.split(".")[0] in ("great_expectations", "posthog"):
            logger = logging.getLogger(name)
            if logger.level < logging.WARNING:
                logger.setLevel(logging.WARNING)


def _gx_version() -> str:
    return _gx()["gx"].__version__


def _run_gx(con: duckdb.DuckDBPyConnection, suite: Suite, batch: Batch, examples: int) -> list[RuleOutcome]:
    state = _gx()
    gx, gxe = state["gx"], state["gxe"]
    frame = con.sql(f"SELECT * FROM contract_batch ORDER BY {ROW}").df()
    gx_suite = gx.ExpectationSuite(
        name=f"{suite.table}.{batch.name}", expectations=[_tagged(r.gx_expectation(gxe), i) for i, r in enumerate(batch.rules)]
    )
    result = state["batch_definition"].get_batch(batch_parameters={"dataframe": frame}).validate(
        gx_suite,
        result_format={
            "result_format": "SUMMARY",
            "unexpected_index_column_names": [ROW],
            "partial_unexpected_count": examples,
        },
    )
    out = []
    # GX does not return results in the suite's order: match them by the index each carries.
    by_index = {int(res.expectation_config.meta["rule_index"]): res for res in result.results}
    for index, rule in enumerate(batch.rules):
        res = by_index[index]
        info = res.exception_info or {}
        if info.get("raised_exception"):
            raise RuntimeError(f"{suite.table} {rule.name}: GX raised {info.get('exception_message')}")
        detail = res.result or {}
        if rule.row_level:
            rows = [int(entry[ROW]) for entry in detail.get("partial_unexpected_index_list") or []][:examples]
            shown = _rows_by_number(con, batch, rule, rows)
            out.append(RuleOutcome(batch.name, rule.name, rule.severity, bool(res.success),
                                   int(detail.get("element_count") or 0), int(detail.get("unexpected_count") or 0),
                                   examples=shown))
        else:
            column = rule.columns[0]
            shown = [{column: _plain(v), "rows": c} for v, c in _value_counts(con, column)[:examples]]
            out.append(RuleOutcome(batch.name, rule.name, rule.severity, bool(res.success), len(frame), None,
                                   observed=detail.get("observed_value"),
                                   examples=shown if not res.success else []))
    return out


def _tagged(expectation: Any, index: int) -> Any:
    expectation.meta = {**(expectation.meta or {}), "rule_index": index}
    return expectation
