"""A contract's outcome explained (pipelines/findings.py): for each broken expectation, the rows
that break it, counted and shown by the same SQL that a reader runs on the published file.

The failing rows of an expectation are its batch (the suite's SQL with the scope written in)
filtered by the expectation's violation predicate, the one the SQL twin counts with; a batch-level
expectation (one currency) lists each value it saw with its rows. A contract with several broken
expectations publishes one query: each part labelled with its `expectation`, joined by
`UNION ALL BY NAME` (batches differ in columns).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipelines.contracts.core import ROW, Batch, Rule, Suite, SuiteOutcome, _bind_scope
from pipelines.findings import (
    EXAMPLES, Finding, example, first_examples, line, literal, plural, rows_of, tidy, where_text,
)


@dataclass(frozen=True)
class Broken:
    """One broken expectation: its rows, counted, with the first few."""

    batch: Batch
    rule: Rule
    query: str
    rows: int
    entities: int  # distinct values of the batch's first key column among the rows
    shown: list[dict[str, Any]]


def failing_sql(batch: Batch, rule: Rule, scope: tuple[datetime, datetime]) -> str:
    body = tidy(_bind_scope(batch.sql, scope))
    if rule.row_level:
        return (f"SELECT * EXCLUDE (_breaks)\nFROM (SELECT *, {rule.violation_sql()} AS _breaks\n"
                f"      FROM (\n{body}\n) AS batch)\nWHERE _breaks\nORDER BY {ROW}")
    column = f'"{rule.columns[0]}"'
    return (f"SELECT {column}, count(*) AS rows\nFROM (\n{body}\n) AS batch\nWHERE {column} IS NOT NULL\n"
            f"GROUP BY ALL\nORDER BY rows DESC, {column}")


def broken(con, suite: Suite, outcome: SuiteOutcome, scope: tuple[datetime, datetime]) -> list[Broken]:
    failed = {(o.batch, o.rule) for o in outcome.failed}
    found = []
    for batch in suite.batches:
        for rule in batch.rules:
            if (batch.name, rule.name) not in failed:
                continue
            query = failing_sql(batch, rule, scope)
            first_key = batch.key[0] if batch.key and rule.row_level else (rule.columns[0] if rule.columns else None)
            rows, entities = con.execute(
                f'SELECT count(*), count(DISTINCT "{first_key}") FROM ({query})' if first_key else
                f"SELECT count(*), 0 FROM ({query})"
            ).fetchall()[0]
            found.append(Broken(batch, rule, query, rows, entities, rows_of(con, query, EXAMPLES)))
    return found


def explain_contract(con, suite: Suite, outcome: SuiteOutcome, scope: tuple[datetime, datetime]) -> Finding:
    parts = broken(con, suite, outcome, scope)
    if parts:
        expectation = "; ".join(p.rule.name for p in parts)
    else:
        expectation = f"the contract's {len(outcome.outcomes)} expectations: " + "; ".join(
            dict.fromkeys(o.rule for o in outcome.outcomes))
    return Finding(
        asset=suite.table,
        check_name="contract",
        severity=outcome.severity,
        passed=outcome.passed,
        expectation=expectation,
        failing_rows=sum(p.rows for p in parts),
        examples=first_examples([[_example(p, row) for row in p.shown] for p in parts]),
        query=union(parts) if parts else None,
        lines=tuple(_line(suite, p) for p in parts),
    )


def union(parts: list[Broken]) -> str:
    return "\nUNION ALL BY NAME\n".join(
        f"SELECT {literal(p.rule.name)} AS expectation, * FROM (\n{p.query}\n)" for p in parts
    )


def _example(part: Broken, row: dict[str, Any]) -> dict[str, Any]:
    if not part.rule.row_level:
        column = part.rule.columns[0]
        return example(row, (column,), ("rows",), expectation=part.rule.name)
    values = [*part.rule.columns, *part.batch.example_columns]
    return example(row, part.batch.key, values, expectation=part.rule.name)


def _line(suite: Suite, part: Broken) -> str:
    rule, batch = part.rule, part.batch
    if not rule.row_level:
        column = rule.columns[0]
        seen = ", ".join(f"{row[column]}: {row['rows']:,}" for row in part.shown)
        what = f"{rule.name} fails: {plural(part.rows, f'{column} value')} seen ({seen})"
    else:
        said = (rule.says(part.rows, part.entities) if rule.says
                else f"{rule.name} fails on {plural(part.rows, batch.noun)}")
        first = part.shown[0] if part.shown else None
        what = said + (f" ({where_text({k: first[k] for k in batch.key})})" if first and batch.key else "")
    return line(rule.severity, suite.table, what, rule.see or suite.table)
