"""A FOCUS export through the lake (rule 11, "Day edges"): a day the export reached late becomes whole.

Clouds deliver a day's last hours a day or so late. The night after, the fetch of the next day
reads the day before again (`refetch_days_before`), the lake prefers that fresher read, and the
marts rebuild the day that was published dark. Real landing, real lake views, real marts.
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from pipelines.accounting import DayRange, build_marts, widen_to_unfinished_day_before
from pipelines.adapters.configs import FocusCostRowsConfig
from pipelines.adapters.focus_cost_rows import FocusCostRowsAdapter
from pipelines.config.app import AppConfig
from pipelines.lake import Lake
from pipelines.lake_views import attach_views, sync_edges
from pipelines.landing import land
from pipelines.settings import AccountingSettings
from pipelines.sources.registry import SOURCES
from pipelines.warehouse import connect
from tests.test_focus_cost_rows import HEADER, INSTANCE, MAP

COST_ROWS = SOURCES["cost_rows"]
MARGIN = timedelta(minutes=15)
DAY = date(2026, 10, 10)


def export(path: Path, hours: int, cost: str, mtime: int) -> None:
    """Hourly rows of the instance from 10 October 00:00 for `hours` hours, each worth `cost`."""
    start = 10 * 24
    lines = []
    for h in range(start, start + hours):
        a, b = divmod(h, 24), divmod(h + 1, 24)
        lines.append(f"123456789012,2026-10-01 00:00:00,2026-11-01 00:00:00,2026-10-{a[0]:02d} {a[1]:02d}:00:00,"
                     f"2026-10-{b[0]:02d} {b[1]:02d}:00:00,Usage,NULL,{INSTANCE},Standard,{cost},USD,EC2")
    path.write_text("\n".join([HEADER, *lines]) + "\n")
    os.utime(path, (mtime, mtime))


def land_day(lake: Lake, folder: Path, day: date) -> None:
    adapter = FocusCostRowsAdapter(FocusCostRowsConfig(path=str(folder)), AppConfig(resource_map=MAP))
    window = COST_ROWS.window(day, MARGIN)
    land(lake, COST_ROWS, adapter.read(window), window=window, adapter=adapter.name)


def hours_of(con, day: date) -> list[tuple]:
    return con.execute("SELECT hour, spend, billing_complete FROM marts.resource_hourly WHERE hour::DATE = ? "
                       "ORDER BY hour", [day]).fetchall()


def test_a_day_the_export_reached_late_is_refetched_and_rebuilt_whole(tmp_path):
    folder, lake = tmp_path / "export", Lake(tmp_path / "lake")
    folder.mkdir()
    export(folder / "run1.csv", 10, "2.000000000", mtime=1_000_000)  # the first night: up to 10:00
    land_day(lake, folder, DAY)
    with connect(tmp_path / "w.duckdb") as con:
        sync_edges(con, lake)
        attach_views(con, lake, (DAY, DAY))
        build_marts(con, DayRange(DAY, DAY + timedelta(days=1)), AccountingSettings())
        first = hours_of(con, DAY)
        assert [complete for _, _, complete in first] == [True] * 10 + [False] * 14
        assert sum(spend for _, spend, _ in first) == Decimal(20)

        # The next night: a newer delivery holds the whole of the 10th and the 11th, re-priced.
        export(folder / "run2.csv", 48, "2.500000000", mtime=2_000_000)
        nxt = DAY + timedelta(days=1)
        land_day(lake, folder, nxt)
        days = widen_to_unfinished_day_before(con, DayRange(nxt, nxt + timedelta(days=1)))
        assert days.start == DAY  # the 10th was published dark: rebuilt with the 11th
        sync_edges(con, lake)
        attach_views(con, lake, (days.start, days.last))
        build_marts(con, days, AccountingSettings())
        again = hours_of(con, DAY)
        assert [complete for _, _, complete in again] == [True] * 24
        assert [spend for _, spend, _ in again] == [Decimal("2.5")] * 24  # the fresher read, once
        assert con.execute("SELECT count(*) FROM marts.observability_gaps WHERE gap_start < ?",
                           [nxt]).fetchall() == [(0,)]
