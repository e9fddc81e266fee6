"""marts.crossover and marts.demand_profile, hand-computed on a tiny warehouse.

The warehouse is a real DuckDB file with the published schema; mart rows are inserted directly
(the report marts read only marts.resource_hourly and marts.cost_per_mtok_daily), then the two
SQL files run through `run_sql_file`, as `build_marts` runs them.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipelines.accounting import ensure_schema
from pipelines.settings import AccountingSettings
from pipelines.sql_files import _PARAMETER, run_sql_file, statements

D = Decimal
UTC = timezone.utc

# p: h100-class is configured, every other tier takes the default; L = hours x rate
PARAMS = {
    "crossover_window_days": 30,
    "crossover_month_days": 30,
    "gateway_tiers": ["h100-class"],
    "gateway_usd_per_mtok": ["0.50"],
    "gateway_default_usd_per_mtok": "0.90",
    "ops_tiers": ["h100-class"],
    "ops_hours_per_month": ["10"],
    "ops_default_hours_per_month": "2",
    "ops_usd_per_hour": "100",
}


@pytest.fixture
def con(tmp_path: Path):
    with duckdb.connect(str(tmp_path / "tiny.duckdb")) as con:
        ensure_schema(con)
        run_sql_file(con, "schema/reports.sql")  # a no-op once ensure_schema creates it
        yield con


def hourly(con, hour: datetime, resource: str, tier: str, running_s: int, busy_s: int, tokens: int = 0,
           spend: str = "0", parked_s: int = 0, complete: bool = True) -> None:
    con.execute(
        "INSERT INTO marts.resource_hourly BY NAME SELECT ? AS hour, ? AS resource_id, ? AS tier, "
        "?::DECIMAL(38,6) AS running_s, ?::DECIMAL(38,6) AS busy_s, ?::DECIMAL(38,6) AS idle_s, 0 AS waking_s, "
        "?::DECIMAL(38,6) AS parked_s, ?::DECIMAL(38,9) AS spend, 0 AS spend_serving, 0 AS spend_idle, "
        "0 AS spend_waking, 0 AS spend_parked, ? AS completion_tokens, 0 AS prompt_tokens, 0 AS requests, "
        "? AS billing_complete",
        [hour, resource, tier, running_s, busy_s, running_s - busy_s, parked_s, spend, tokens, complete],
    )


def daily(con, day: date, tier: str, spend: str, tokens: int, complete: bool = True, model: str = "*") -> None:
    con.execute(
        "INSERT INTO marts.cost_per_mtok_daily BY NAME SELECT ? AS day, ? AS tier, ? AS model, "
        "?::DECIMAL(38,9) AS spend, ? AS completion_tokens, 0 AS prompt_tokens, 0 AS requests, "
        "? AS billing_complete",
        [day, tier, model, spend, tokens, complete],
    )


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 10, day, hour, tzinfo=UTC)


def fetch(con, sql: str) -> list[dict]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r)) for r in cursor.fetchall()]


def crossover(con, params=PARAMS) -> dict[str, dict]:
    run_sql_file(con, "marts/crossover.sql", params)
    return {r["tier"]: r for r in fetch(con, "SELECT * FROM marts.crossover")}


def two_day_fleet(con) -> None:
    # h100-class: S = 100 + 140 = 240 USD, T = 300 M tokens; R = 4 h, B = 3 h (u = 0.75)
    daily(con, date(2026, 10, 1), "h100-class", "100", 200_000_000)
    daily(con, date(2026, 10, 2), "h100-class", "140", 100_000_000, complete=False)
    daily(con, date(2026, 10, 1), "h100-class", "100", 200_000_000, model="llama")  # model rows are not read
    hourly(con, at(1, 0), "r1", "h100-class", 3600, 3600)
    hourly(con, at(1, 1), "r1", "h100-class", 3600, 1800)
    hourly(con, at(2, 0), "r1", "h100-class", 3600, 3600, complete=False)
    hourly(con, at(2, 5), "r2", "h100-class", 3600, 1800)
    # cheap-tier: S = 30 USD, T = 200 M, R = B = 2 h; p and ops hours from the defaults
    daily(con, date(2026, 10, 1), "cheap-tier", "15", 100_000_000)
    daily(con, date(2026, 10, 2), "cheap-tier", "15", 100_000_000)
    hourly(con, at(1, 3), "c1", "cheap-tier", 3600, 3600)
    hourly(con, at(2, 3), "c1", "cheap-tier", 3600, 3600)
    # idle-tier: money, running time, no token
    daily(con, date(2026, 10, 2), "idle-tier", "10", 0)
    hourly(con, at(2, 7), "i1", "idle-tier", 3600, 0)
    # outside the trailing 30 days ending 2026-10-02: never counted
    daily(con, date(2026, 8, 1), "h100-class", "999", 1)
    hourly(con, datetime(2026, 8, 1, 0, tzinfo=UTC), "r1", "h100-class", 3600, 0)


def test_crossover_by_hand(con):
    two_day_fleet(con)
    rows = crossover(con)
    h = rows["h100-class"]
    # window and scaling: 2 of 30 days observed, f = 15
    assert (h["window_first_day"], h["window_last_day"]) == (date(2026, 9, 3), date(2026, 10, 2))
    assert (h["days_observed"], h["month_days"]) == (2, 30)
    assert h["note"] == ("scaled from 2 day(s) observed to a 30-day month; "
                         "billing incomplete: spend is what was observed, not a clean figure")
    assert h["billing_complete"] is False
    # S, T, R, B, u, realised $/Mtok, k = T / B
    assert (h["spend"], h["completion_tokens"]) == (D("240.000000000"), 300_000_000)
    assert (h["running_hours"], h["busy_hours"]) == (D("4"), D("3"))
    assert h["utilisation"] == D("0.750000000")
    assert h["usd_per_mtok"] == D("0.800000000")
    assert h["tokens_per_busy_hour"] == D("100000000")
    # p = 0.50, L = 10 h x 100 USD/h = 1000
    assert (h["gateway_usd_per_mtok"], h["ops_hours_per_month"], h["ops_usd_per_hour"]) == (D("0.5"), D(10), D(100))
    assert h["ops_labour_monthly"] == D("1000.000000000")
    # a month: S x 15 = 3600, + L = 4600 self-hosted; T x 15 = 4.5 B tokens x 0.50 / 1e6 = 2250 on the gateway
    assert (h["spend_monthly"], h["completion_tokens_monthly"]) == (D("3600"), 4_500_000_000)
    assert (h["self_hosted_monthly"], h["gateway_monthly"]) == (D("4600"), D("2250"))
    # u* = (S + L) / (k R p / 1e6) = 4600 / (1e8 x 60 x 0.5 / 1e6) = 4600 / 3000
    assert h["breakeven_utilisation"] == D("1.533333333")
    assert h["verdict"] == "gateway_cheaper"

    c = rows["cheap-tier"]
    assert (c["gateway_usd_per_mtok"], c["ops_hours_per_month"], c["ops_labour_monthly"]) == (D("0.9"), D(2), D(200))
    assert (c["utilisation"], c["usd_per_mtok"]) == (D(1), D("0.15"))
    # self-hosted 30 x 15 + 200 = 650; gateway 3 B x 0.90 / 1e6 = 2700; u* = 650 / (1e8 x 30 x 0.9 / 1e6) = 650 / 2700
    assert (c["self_hosted_monthly"], c["gateway_monthly"]) == (D(650), D(2700))
    assert c["breakeven_utilisation"] == D("0.240740741")
    assert c["verdict"] == "self_host_cheaper"
    assert c["billing_complete"] is True and c["note"] == "scaled from 2 day(s) observed to a 30-day month"

    i = rows["idle-tier"]
    assert i["verdict"] == "not_enough_data"
    assert (i["utilisation"], i["usd_per_mtok"], i["tokens_per_busy_hour"], i["breakeven_utilisation"]) == (
        D(0), None, None, None)
    assert (i["self_hosted_monthly"], i["gateway_monthly"]) == (D("150") + D("200"), D(0))


def test_crossover_verdict_agrees_with_u_against_u_star(con):
    two_day_fleet(con)
    for r in crossover(con).values():
        if r["verdict"] != "not_enough_data":
            assert (r["utilisation"] > r["breakeven_utilisation"]) == (r["verdict"] == "self_host_cheaper")


def test_crossover_rounds_a_scaled_month_half_up_and_a_full_window_is_not_scaled(con):
    for d in range(7):
        daily(con, date(2026, 10, 1) + timedelta(days=d), "t", "0.000000001" if d < 2 else "0", 1 if d == 0 else 0)
        hourly(con, at(1 + d, 0), "x", "t", 3600, 60)
    (r,) = crossover(con).values()
    # 2 nanodollars x 30 / 7 = 8.57 -> 9; 1 token x 30 / 7 = 4.29 -> 4; the gateway prices the unrounded
    # 30/7 tokens at $0.90/Mtok = 3857.14 nanodollars -> 3857
    assert (r["spend"], r["spend_monthly"], r["completion_tokens_monthly"]) == (D("2E-9"), D("9E-9"), 4)
    assert r["gateway_monthly"] == D("0.000003857") and r["note"] == "scaled from 7 day(s) observed to a 30-day month"
    for d in range(7, 30):
        daily(con, date(2026, 10, 1) + timedelta(days=d), "t", "0", 0)
    (r,) = crossover(con).values()
    assert (r["days_observed"], r["spend_monthly"]) == (30, D("2E-9"))
    assert r["note"] == "a full 30-day window, not scaled"


def test_crossover_is_empty_on_an_empty_warehouse(con):
    assert crossover(con) == {}


def test_demand_profile_by_hand(con):
    # 2026-10-01, h100-class: r1 serves 1000 + 100 h tokens in hour h, busy half of every hour
    for h in range(24):
        hourly(con, at(1, h), "r1", "h100-class", 3600, 1800, tokens=1000 + 100 * h)
    hourly(con, at(1, 0), "r2", "h100-class", 1200, 0)  # a second replica, idle for 20 minutes
    # 2026-10-02: tokens in two hours (two replicas in hour 0), an hour with a row and no token, 21 without rows
    hourly(con, at(2, 0), "r1", "h100-class", 3600, 900, tokens=100)
    hourly(con, at(2, 0), "r2", "h100-class", 3600, 900, tokens=50, complete=False)
    hourly(con, at(2, 1), "r1", "h100-class", 3600, 1800, tokens=300)
    hourly(con, at(2, 2), "r1", "h100-class", 3600, 0)
    # a parked tier: nothing ran
    hourly(con, at(1, 5), "p1", "sleepy", 0, 0, parked_s=3600)
    run_sql_file(con, "marts/demand_profile.sql", PARAMS)
    rows = {(r["tier"], r["day"]): r for r in fetch(con, "SELECT * FROM marts.demand_profile")}
    assert len(rows) == 3

    d1 = rows[("h100-class", date(2026, 10, 1))]
    # 24 values 1000..3300: median (2100 + 2200) / 2; p95 at rank 0.95 x 23 = 21.85: 3100 + 0.85 x 100
    assert (d1["completion_tokens"], d1["median_hourly_tokens"], d1["p95_hourly_tokens"]) == (51_600, D(2150), D(3185))
    assert (d1["peak_hourly_tokens"], d1["peak_hour"]) == (3300, at(1, 23))
    assert d1["peak_to_median"] == D("1.534883721")  # 3300 / 2150 = 1.5348837209...
    # busy 24 x 1800 = 43200 of running 24 x 3600 + 1200 = 87600 seconds
    assert (d1["running_s"], d1["busy_s"], d1["busy_fraction"]) == (D(87600), D(43200), D("0.493150685"))
    assert d1["billing_complete"] is True

    d2 = rows[("h100-class", date(2026, 10, 2))]
    # hourly totals 150, 300 and 22 zeros: median 0, p95 = 0 + 0.85 x 150, peak 300 at 01:00
    assert (d2["completion_tokens"], d2["median_hourly_tokens"], d2["p95_hourly_tokens"]) == (450, D(0), D("127.5"))
    assert (d2["peak_hourly_tokens"], d2["peak_hour"], d2["peak_to_median"]) == (300, at(2, 1), None)
    assert (d2["busy_fraction"], d2["billing_complete"]) == (D("0.25"), False)  # 3600 / 14400

    s = rows[("sleepy", date(2026, 10, 1))]
    assert (s["median_hourly_tokens"], s["p95_hourly_tokens"], s["peak_hourly_tokens"]) == (0, 0, 0)
    assert (s["peak_hour"], s["peak_to_median"], s["busy_fraction"]) == (None, None, None)


def test_every_report_column_has_a_comment(con):
    missing = con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = 'marts' "
        "AND table_name IN ('crossover', 'demand_profile') AND (comment IS NULL OR comment = '')"
    ).fetchall()
    tables = con.execute(
        "SELECT table_name, comment FROM duckdb_tables() WHERE schema_name = 'marts' "
        "AND table_name IN ('crossover', 'demand_profile')"
    ).fetchall()
    assert missing == [] and len(tables) == 2 and all(c for _, c in tables)


def test_the_settings_carry_every_crossover_parameter_and_state_the_examples():
    settings = AccountingSettings()
    wanted = {name for statement in statements("marts/crossover.sql") for name in _PARAMETER.findall(statement)}
    assert wanted <= settings.sql_params().keys()
    assert settings.gateway_usd_per_mtok["h100-class"] == D("0.90")
    assert settings.ops_default_hours_per_month * settings.ops_usd_per_hour == D(960)
