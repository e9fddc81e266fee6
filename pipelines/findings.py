"""Every check explained, one way: what was expected, how many rows failed it, up to three of them,
the SQL that lists them all from the published file, and the line the command line prints.

A check builds one `Finding` where it computes its result; the finding becomes the asset check's
metadata (what the Dagster UI shows), its row of `marts.check_results` (pipelines/ledger.py), and
the command line's lines, which read like

    WARN raw.billing_snapshots: cumulative fell 2 times on 1 resource (gpu-b-h100x1 at 2026-10-06 15:00)
         — see marts.billing_resets

(one line on the terminal)

A check's `query` is its own SQL with the run's values written in as literals (`inline`), so it
runs as written in any SQL tool and lists exactly the rows the check counted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

import dagster as dg

EXAMPLES = 3  # examples kept per finding (marts.check_results.examples)
# The metadata keys a finding owns; a check adds its own beside them.
KEYS = ("expectation", "failing_rows", "examples", "query", "finding")


@dataclass(frozen=True)
class Finding:
    asset: str  # "raw.billing_snapshots": the checked asset's key, dotted as in SQL
    check_name: str
    severity: str  # "ERROR" or "WARN"
    passed: bool
    expectation: str  # in words
    failing_rows: int  # the rows `query` lists
    examples: tuple[dict[str, Any], ...] = ()  # up to three: {"key": {...}, "values": {...}}
    query: str | None = None
    lines: tuple[str, ...] = field(default=())  # what the command line prints; none when passed

    @property
    def description(self) -> str:
        return "\n".join(self.lines) if self.lines else f"passed: {self.expectation}"

    def metadata(self) -> dict[str, dg.MetadataValue]:
        return {
            "expectation": dg.MetadataValue.text(self.expectation),
            "failing_rows": dg.MetadataValue.int(self.failing_rows),
            "examples": dg.MetadataValue.json(list(self.examples)),
            "query": dg.MetadataValue.text(self.query or ""),
            "finding": dg.MetadataValue.text(self.description),
        }

    def check_result(self, metadata: Mapping[str, Any] | None = None) -> dg.AssetCheckResult:
        extra = {k: v for k, v in (metadata or {}).items() if k not in KEYS}
        return dg.AssetCheckResult(
            check_name=self.check_name,
            asset_key=dg.AssetKey(self.asset.split(".")),
            passed=self.passed,
            severity=dg.AssetCheckSeverity.ERROR if self.severity == "ERROR" else dg.AssetCheckSeverity.WARN,
            description=self.description,
            metadata={**self.metadata(), **extra},
        )

    @classmethod
    def from_evaluation(cls, evaluation) -> Finding:
        """A check's finding from its result: an `AssetCheckResult`, or the `AssetCheckEvaluation`
        Dagster records from it (both carry these fields). A check that keeps no finding in its
        metadata still gets a line and a row, from what Dagster knows of it."""
        meta = {k: getattr(v, "value", v) for k, v in (evaluation.metadata or {}).items()}
        asset = ".".join(evaluation.asset_key.path)
        severity = evaluation.severity.value.upper()
        if "failing_rows" in meta and "expectation" in meta:
            text = meta.get("finding") or ""
            lines = () if evaluation.passed else tuple(line for line in text.splitlines() if line)
            return cls(asset, evaluation.check_name, severity, evaluation.passed, meta["expectation"],
                       int(meta["failing_rows"]), tuple(meta.get("examples") or ()), meta.get("query") or None, lines)
        said = (evaluation.description or "").strip().splitlines()
        lines = () if evaluation.passed else (line(
            severity, asset, f"{evaluation.check_name} failed" + (f": {said[0]}" if said else ""),
            "the check's metadata in the Dagster UI"),)
        expectation = said[0] if said else evaluation.check_name
        return cls(asset, evaluation.check_name, severity, evaluation.passed, expectation, 0, (),
                   meta.get("query") or None, lines)

    def row(self, run_id: str, checked_at: datetime) -> dict[str, Any]:
        """Its row of marts.check_results."""
        return {
            "run_id": run_id, "checked_at": checked_at.astimezone(timezone.utc), "asset": self.asset,
            "check_name": self.check_name, "severity": self.severity, "passed": self.passed,
            "expectation": self.expectation, "failing_rows": self.failing_rows,
            "examples": json.dumps(list(self.examples), ensure_ascii=False), "query": self.query,
            "finding": "\n".join(self.lines) or None,
        }


# -- wording ------------------------------------------------------------------------------------
def line(severity: str, asset: str, what: str, see: str) -> str:
    return f"{severity} {asset}: {what} — see {see}"


def plural(count: int, noun: str) -> str:
    if count == 1:
        return f"{count:,} {noun}"
    if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "o", "u"):
        return f"{count:,} {noun[:-1]}ies"
    return f"{count:,} {noun}" + ("es" if noun.endswith(("s", "x", "ch")) else "s")


def at_text(value: Any) -> str:
    """An instant as a person reads it in a line: minutes, seconds only when there are some."""
    if isinstance(value, datetime):
        value = value.astimezone(timezone.utc)
        return value.strftime("%Y-%m-%d %H:%M" + (":%S" if value.second or value.microsecond else ""))
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def where_text(key: Mapping[str, Any]) -> str:
    """An example's key for a line: `gpu-b-h100x1 at 2026-10-06 15:00`, `h100-class m1 on 2026-10-28`."""
    names = [str(v) for v in key.values() if not isinstance(v, (date, datetime))]
    for value in key.values():
        if isinstance(value, datetime):
            names.append(f"at {at_text(value)}")
        elif isinstance(value, date):
            names.append(f"on {at_text(value)}")
    return " ".join(names)


# -- examples -----------------------------------------------------------------------------------
def plain(value: Any) -> Any:
    """A value as JSON holds it exactly: instants in UTC with Z, decimals as text."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return str(value)


def example(row: Mapping[str, Any], key: Sequence[str], values: Sequence[str], **extra: Any) -> dict[str, Any]:
    shown = [c for c in values if c not in key and c in row]
    return {**extra, "key": {c: plain(row[c]) for c in key}, "values": {c: plain(row[c]) for c in shown}}


def rows_of(con, query: str, limit: int | None = None) -> list[dict[str, Any]]:
    sql = query if limit is None else f"SELECT * FROM ({query}) LIMIT {int(limit)}"
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, values)) for values in cursor.fetchall()]


# -- ready queries ------------------------------------------------------------------------------
_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def literal(value: Any) -> str:
    """A SQL literal for a value this code chose (bounds, instants, names of our own tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"an instant needs its zone: {value!r}")
        return value.astimezone(timezone.utc).strftime("TIMESTAMPTZ '%Y-%m-%d %H:%M:%S.%f+00'")
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    raise TypeError(f"no SQL literal for {type(value).__name__}")


def inline(statement: str, params: Mapping[str, Any]) -> str:
    """A statement with its `$parameters` written in as literals, to run as written."""
    def value(match: re.Match) -> str:
        name = match.group(1)
        if name not in params:
            raise KeyError(f"the query needs ${name}")
        return literal(params[name])

    return _PARAMETER.sub(value, tidy(statement))


def tidy(sql: str) -> str:
    """Strip comment lines and common indentation, so a stored query reads cleanly."""
    kept = [l for l in sql.splitlines() if l.strip() and not l.strip().startswith("--")]
    indent = min((len(l) - len(l.lstrip()) for l in kept), default=0)
    return "\n".join(l[indent:] if len(l) - len(l.lstrip()) >= indent else l.strip() for l in kept)


def first_examples(groups: Iterable[Sequence[dict[str, Any]]], limit: int = EXAMPLES) -> tuple[dict[str, Any], ...]:
    """Up to `limit` examples, taken in turn from each group, so every failed part shows."""
    groups = [list(g) for g in groups]
    out: list[dict[str, Any]] = []
    depth = 0
    while len(out) < limit and any(depth < len(g) for g in groups):
        out += [g[depth] for g in groups if depth < len(g)]
        depth += 1
    return tuple(out[:limit])
