"""`focus_cost_rows`: a cloud's FOCUS cost-and-usage export as billing (DESIGN.md rule 11).

AWS Data Exports, the Google Cloud billing export, Azure cost exports and OCI's FOCUS reports all
hand over CSV or Parquet rows that give a resource's `BilledCost` over [ChargePeriodStart,
ChargePeriodEnd). This adapter reads those files (a file, a folder or a glob; focus_files.py),
types them (focus_read.py), applies rule 11's selection (focus_rows.py) and yields canonical
`cost_rows` frames: mapped Usage rows summed per resource and period, and the rest of the bill
summed per billing account, category and period, so a 5 M-row export lands as a few thousand rows.

The export is read once per adapter (the first window), then cut into each day's window on
`charge_period_start`. `report()` gives what the run skipped, for the asset's UI metadata: the
rest of the bill by reason and category (rows and their BilledCost), superseded files, rejected
rows, of the days read.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar

import polars as pl

from pipelines.adapters.base import Window, probe_summary, probe_window
from pipelines.adapters.configs import FocusCostRowsConfig
from pipelines.adapters.focus_files import export_files
from pipelines.adapters.focus_rows import PreparedExport, canonical, prepare, rejected_rows
from pipelines.sources.frames import check_contract
from pipelines.sources.registry import SOURCES
from pipelines.sources.resource_map import ResourceMap

if TYPE_CHECKING:
    from pipelines.config import AppConfig

NANO = Decimal("0.000000001")
log = logging.getLogger(__name__)


class FocusCostRowsAdapter:
    name: ClassVar[str] = "focus_cost_rows"
    feeds: ClassVar[str] = "cost_rows"

    def __init__(self, section: FocusCostRowsConfig, app: AppConfig) -> None:
        self.section, self.source = section, SOURCES["cost_rows"]
        self.resource_map = ResourceMap(app.resource_map)
        self.expected_currency = app.accounting.currency
        self._prepared: PreparedExport | None = None
        self._days: set[date] = set()
        self._unplaced_given = False

    def describe(self) -> str:
        return f"FOCUS export at {self.section.path}"

    def prepared(self) -> PreparedExport:
        if self._prepared is None:
            files = export_files(self.section.path, self.section.delivery)
            self._prepared = prepare(files, self.resource_map, self.expected_currency)
            for row in self._prepared.superseded.iter_rows(named=True):
                log.warning("FOCUS export: %s is superseded by a newer delivery of its billing account and "
                            "period: its %s rows are not read", row["file"], f"{row['rows']:,}")
        return self._prepared

    def read(self, window: Window):
        export = self.prepared()
        self._days.add(window.day)
        start = pl.col("charge_period_start")
        in_window = (start >= window.start) & (start < window.end)
        rows = canonical(export.rows.filter(in_window), 1)
        # A rejected row is landed with the day of its ChargePeriodStart; one whose start did not
        # parse goes with the first window this adapter reads, so it is never dropped.
        placed = in_window if self._unplaced_given else (in_window | start.is_null())
        self._unplaced_given = True
        rejected = rejected_rows(export.rejected.filter(placed), export.files, rows.height + 1)
        frame = pl.concat([rows, rejected], how="diagonal_relaxed")
        yield check_contract(frame, self.source, window=window.bounds, expected_currency=self.expected_currency)

    def payloads(self, rows: list[int]) -> dict[int, str]:
        return {}  # rejected rows carry their wire text; summed rows never conflict (no key)

    def probe(self) -> str:
        export = self.prepared()
        start, end = probe_window()
        recent = export.rows.filter((pl.col("charge_period_start") >= start) & (pl.col("charge_period_start") < end))
        newest = export.rows["charge_period_end"].max()
        return probe_summary(int(recent["export_rows"].sum() or 0), newest)

    # -- the run's report ------------------------------------------------------------------------
    def report(self) -> dict[str, object]:
        """What the days read skipped: the rest of the bill by reason and category, superseded
        files, rejected rows. Numbers for the UI; tables as markdown."""
        export = self.prepared()
        days = sorted(self._days)
        on_days = pl.col("charge_period_start").dt.date().is_in(days)
        rows = export.rows.filter(on_days)
        rest = (rows.filter(pl.col("skipped").is_not_null())
                .group_by("skipped", "charge_category", "currency")
                .agg(pl.col("export_rows").sum().alias("rows"), pl.col("billed").sum())
                .sort("skipped", "charge_category", "currency"))
        spend = rows.filter(pl.col("skipped").is_null())
        rejected = export.rejected.filter(on_days | pl.col("charge_period_start").is_null())
        table = [f"| {r['skipped']} | {r['charge_category']} | {r['rows']:,} | {_money(r['billed'])} {r['currency']} |"
                 for r in rest.iter_rows(named=True)]
        superseded = [f"| {r['file']} | {r['rows']:,} | {_money(r['billed'])} |"
                      for r in export.superseded.iter_rows(named=True)]
        by_category: dict[str, Decimal] = defaultdict(Decimal)
        for r in rest.iter_rows(named=True):
            by_category[r["charge_category"]] += r["billed"]
        return {
            "export_files": len(export.files),
            "export_rows_read": export.rows_read,
            "spend_rows": int(spend["export_rows"].sum() or 0),
            "spend_billed_cost": _money(spend["billed"].sum()),
            "rest_of_bill_rows": int(rest["rows"].sum() or 0),
            "rest_of_bill_billed_cost": _money(rest["billed"].sum()),
            **{f"rest_of_bill_{c.lower()}": _money(n) for c, n in sorted(by_category.items())},
            "rejected_rows": rejected.height,
            "superseded_rows": int(export.superseded["rows"].sum() or 0),
            "rest_of_bill": "| skipped | category | rows | BilledCost |\n|---|---|---|---|\n" + "\n".join(table)
            if table else "(none)",
            "superseded_files": "| file | rows | BilledCost |\n|---|---|---|\n" + "\n".join(superseded)
            if superseded else "(none)",
        }


def _money(amount: Decimal | None) -> str:
    return str((amount or Decimal(0)).quantize(NANO))

