"""marts.invoice_reconciliation and marts.cost_per_mtok_monthly: a hand-made warehouse with exact values,
then the demo week end to end (loopback HTTP -> Dagster daily job -> monthly invoice job -> published file)."""

import json
import time
from datetime import date, datetime, timezone
from decimal import Decimal

import dagster as dg
import duckdb
import pytest

from pipelines.defs.invoices.assets import billing_periods, reconciliation_result
from pipelines.invoices import build_invoice_marts, ensure_invoice_schema, import_invoices, reconciliation_summary

UTC = timezone.utc
D = Decimal


def at(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def hourly(con, resource_id: str, tier: str, hour: datetime, spend: str) -> None:
    con.execute(
        """INSERT INTO marts.resource_hourly BY NAME
           SELECT $hour AS hour, $resource_id AS resource_id, $tier AS tier,
                  3600 AS running_s, 0 AS busy_s, 3600 AS idle_s, 0 AS waking_s, 0 AS parked_s,
                  $spend::DECIMAL(38, 9) AS spend, 0 AS spend_serving, $spend::DECIMAL(38, 9) AS spend_idle,
                  0 AS spend_waking, 0 AS spend_parked, 0 AS completion_tokens, 0 AS prompt_tokens,
                  0 AS requests, 1 AS idle_fraction, true AS billing_complete""",
        {"hour": hour, "resource_id": resource_id, "tier": tier, "spend": spend},
    )


def tier_day(con, day: date, tier: str, completion_tokens: int) -> None:
    con.execute(
        "INSERT INTO marts.cost_per_mtok_daily BY NAME SELECT ? AS day, ? AS tier, '*' AS model, 0 AS spend, "
        "? AS completion_tokens, 0 AS prompt_tokens, 0 AS requests, true AS billing_complete",
        [day, tier, completion_tokens],
    )


def invoice_row(resource_id: str | None, billed: str, category: str = "Usage", *, number: bool = False) -> str:
    row = {
        "InvoiceId": "INV-202610-1", "BillingPeriodStart": "2026-10-01T00:00:00Z",
        "BillingPeriodEnd": "2026-11-01T00:00:00Z", "ChargePeriodStart": "2026-10-05T00:00:00Z",
        "ChargePeriodEnd": "2026-10-06T00:00:00Z", "ChargeCategory": category, "ResourceId": resource_id,
        "SkuId": "sku", "BilledCost": "@@" if number else billed, "BillingCurrency": "USD",
    }
    return json.dumps(row).replace('"@@"', billed)  # number=True sends BilledCost as a JSON number


# resource: (tier, snapshot spend per hour inside October, invoiced Usage rows)
FLEET = {
    "r-ok": ("h100-class", ["60", "40"], ["60.2000000004", "@40.2000000004"]),  # @ = JSON number
    "r-edge": ("h100-class", ["200"], ["201"]),  # exactly 0.5 %: reconciled
    "r-mis": ("h100-class", ["200"], ["201.000000001"]),  # a nanodollar beyond 0.5 %: mismatch
    "r-under": ("l4-class", ["300"], ["298.4"]),  # -0.53 %: mismatch
    "r-small": ("l4-class", ["1"], ["1.01"]),  # 1 %, but within $0.01: reconciled
    "r-small-out": ("l4-class", ["1"], ["1.010000001"]),  # just beyond $0.01: mismatch
    "r-zero": ("l4-class", ["0"], []),  # nothing spent, nothing invoiced: reconciled
    "r-notinv": ("l40s-class", ["5.5"], []),  # spend seen, no invoice row
    "r-notobs": (None, [], ["7.25"]),  # invoiced, never sampled
}


@pytest.fixture
def warehouse(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        ensure_invoice_schema(con)
        for resource_id, (tier, spends, _) in FLEET.items():
            for hour, spend in zip((at(10, 1, 0), at(10, 31, 23)), spends):
                hourly(con, resource_id, tier, hour, spend)
        # hours just outside October belong to other periods
        hourly(con, "r-ok", "h100-class", at(9, 30, 23), "1000")
        hourly(con, "r-ok", "h100-class", at(11, 1, 0), "1000")
        tier_day(con, date(2026, 10, 1), "h100-class", 1_000_000)
        tier_day(con, date(2026, 10, 31), "h100-class", 3_000_000)
        tier_day(con, date(2026, 11, 1), "h100-class", 999)
        tier_day(con, date(2026, 10, 15), "l40s-class", 2_000_000)
        usage = [
            invoice_row(r, b.lstrip("@"), number=b.startswith("@")) for r, (_, _, bills) in FLEET.items() for b in bills
        ]
        apart = [
            invoice_row("r-ok", "-1.25", "Credit"), invoice_row("r-ok", "-0.75", "Credit"),
            invoice_row(None, "3.3", "Tax"), invoice_row("r-mis", "0.5", "adjustment"),
        ]
        body = ('{"data":[' + ",".join(usage + apart) + '],"next_cursor":null}').encode()
        imported = import_invoices(con, billing_period="2026-10", pages=[body], expected_currency="USD")
        assert (imported.kept, imported.quarantined) == (len(usage) + len(apart), 0)
        yield con


def reconciliation(con, period: str = "2026-10") -> dict[tuple[str, str], tuple]:
    return {
        (r[0], r[1]): r[2:]
        for r in con.execute(
            "SELECT resource_id, status, snapshot_spend, invoiced_cost, variance, variance_pct "
            "FROM marts.invoice_reconciliation WHERE billing_period = ?", [period]
        ).fetchall()
    }


def test_reconciliation_statuses_and_exact_values(warehouse):
    build_invoice_marts(warehouse, "2026-10")

    assert reconciliation(warehouse) == {
        # Σ BilledCost 100.4000000008 is rounded once, after the sum: 100.400000001
        ("r-ok", "reconciled"): (D("100"), D("100.400000001"), D("0.400000001"), D("0.004000000")),
        ("r-edge", "reconciled"): (D("200"), D("201"), D("1"), D("0.005")),
        ("r-mis", "mismatch"): (D("200"), D("201.000000001"), D("1.000000001"), D("0.005000000")),
        ("r-under", "mismatch"): (D("300"), D("298.4"), D("-1.6"), D("-0.005333333")),
        ("r-small", "reconciled"): (D("1"), D("1.01"), D("0.01"), D("0.01")),
        ("r-small-out", "mismatch"): (D("1"), D("1.010000001"), D("0.010000001"), D("0.010000001")),
        ("r-zero", "reconciled"): (D("0"), None, D("0"), None),
        ("r-notinv", "not_invoiced"): (D("5.5"), None, D("-5.5"), D("-1")),
        ("r-notobs", "not_observed"): (None, D("7.25"), D("7.25"), None),
        # other categories: apart, one row per resource and category, never in a variance
        ("r-ok", "credit"): (None, D("-2.000000000"), None, None),
        ("r-mis", "adjustment"): (None, D("0.5"), None, None),
        ("__no_resource__", "tax"): (None, D("3.3"), None, None),
    }


def test_rebuilding_a_period_is_idempotent_and_keeps_other_periods(warehouse):
    build_invoice_marts(warehouse, "2026-11")
    build_invoice_marts(warehouse, "2026-10")
    first = warehouse.execute("SELECT * FROM marts.invoice_reconciliation ORDER BY ALL").fetchall()
    build_invoice_marts(warehouse, "2026-10")

    assert warehouse.execute("SELECT * FROM marts.invoice_reconciliation ORDER BY ALL").fetchall() == first
    # November: no invoice imported, the r-ok hour of 2026-11-01 is spend seen and not invoiced
    assert reconciliation(warehouse, "2026-11") == {("r-ok", "not_invoiced"): (D("1000"), None, D("-1000"), D("-1"))}


def test_cost_per_mtok_monthly_uses_the_invoice_where_there_is_one(warehouse):
    build_invoice_marts(warehouse, "2026-10")
    build_invoice_marts(warehouse, "2026-11")

    got = {
        (r[0], r[1]): r[2:]
        for r in warehouse.execute(
            "SELECT billing_period, tier, spend_basis, spend, snapshot_spend, invoiced_cost, completion_tokens, "
            "usd_per_mtok, days_observed, days_in_period FROM marts.cost_per_mtok_monthly"
        ).fetchall()
    }
    assert got == {
        # 502.400000002 / 4 Mtok = 125.6000000005 -> half up
        ("2026-10", "h100-class"): ("invoice", D("502.400000002"), D("500"), D("502.400000002"), 4_000_000,
                                    D("125.600000001"), 2, 31),
        ("2026-10", "l4-class"): ("invoice", D("300.420000001"), D("302"), D("300.420000001"), 0, None, 0, 31),
        # the invoice exists and bills nothing for this tier: the invoice-true spend is 0
        ("2026-10", "l40s-class"): ("invoice", D("0"), D("5.5"), D("0"), 2_000_000, D("0"), 1, 31),
        ("2026-10", "__not_observed__"): ("invoice", D("7.25"), D("0"), D("7.25"), 0, None, 0, 31),
        # no invoice for November yet: snapshots; 1000 / 999 tokens x 1e6
        ("2026-11", "h100-class"): ("snapshots", D("1000"), D("1000"), None, 999, D("1001001.001001001"), 1, 30),
    }


def test_reconciliation_check_names_what_is_outside_tolerance(warehouse):
    build_invoice_marts(warehouse, "2026-10")
    summary = reconciliation_summary(warehouse, "2026-10")

    assert not summary.passed
    assert (summary.usage_rows, summary.reconciled) == (9, 4)
    assert [(r["resource_id"], r["status"]) for r in summary.outside] == [
        ("r-mis", "mismatch"), ("r-small-out", "mismatch"), ("r-under", "mismatch"),
        ("r-notinv", "not_invoiced"), ("r-notobs", "not_observed"),
    ]
    result = reconciliation_result([summary])
    assert (result.passed, result.severity) == (False, dg.AssetCheckSeverity.ERROR)
    outside = result.metadata["outside_tolerance"].value
    assert outside[0] == "2026-10 r-mis: mismatch, snapshots 200.000000000, invoiced 201.000000001, variance +1.000000001 (+0.500%)"
    assert len(outside) == 5
    assert result.metadata["reported_apart (informational)"].value == [
        "2026-10 r-mis: adjustment, snapshots None, invoiced 0.500000000",
        "2026-10 r-ok: credit, snapshots None, invoiced -2.000000000",
        "2026-10 __no_resource__: tax, snapshots None, invoiced 3.300000000",
    ]


def test_billing_periods_of_a_partition_window():
    window = dg.TimeWindow(datetime(2026, 11, 1, tzinfo=UTC), datetime(2027, 2, 1, tzinfo=UTC))
    assert billing_periods(window) == ["2026-11", "2026-12", "2027-01"]


# -- end to end ------------------------------------------------------------------------------------
@pytest.mark.slow
def test_demo_week_october_invoice_reconciles_except_the_credit(pipeline, monkeypatch, tmp_path):
    from fixtures.fleet import default_week
    from fixtures.server import FixtureServer
    from pipelines.definitions import defs
    from tests.conftest import TOKEN

    monkeypatch.delenv("FOCUS_INVOICE_PATHS", raising=False)
    fleet = default_week()
    started = time.monotonic()
    outcome = pipeline.run(fleet, date(2026, 10, 26), date(2026, 11, 2))
    daily_s = time.monotonic() - started
    assert outcome.exit_code in (0, 2), outcome.lines

    def run_october() -> dg.ExecuteInProcessResult:
        # resources are read from the environment when the definitions are built
        with FixtureServer(fleet, token=TOKEN) as server:
            monkeypatch.setenv("BILLING_API_URL", server.url)
            job = defs().resolve_job_def("invoice_reconciliation_monthly")
            return job.execute_in_process(partition_key="2026-10-01", instance=dg.DagsterInstance.ephemeral())

    started = time.monotonic()
    result = run_october()
    monthly_s = time.monotonic() - started
    print(f"daily job over the demo week {daily_s:.1f} s, monthly invoice job {monthly_s:.1f} s")

    assert result.success
    (check,) = result.get_asset_check_evaluations()
    assert (check.check_name, check.passed) == ("reconciliation", True)
    assert check.metadata["outside_tolerance"].value == []
    assert check.metadata["reported_apart (informational)"].value == [
        "2026-10 h100x2-spot-d6c94c: credit, snapshots None, invoiced -1.435432750"]

    rows = pipeline.query(
        "SELECT resource_id, status, snapshot_spend, invoiced_cost, variance FROM marts.invoice_reconciliation "
        "WHERE billing_period = '2026-10' ORDER BY status, resource_id"
    )
    usage = [r for r in rows if r["status"] != "credit"]
    assert {r["status"] for r in usage} == {"reconciled"}
    assert len(usage) == 6
    invoice = fleet.invoices["2026-10"]
    for r in usage:  # the mart's invoiced cost is the fixture invoice's Usage total, exactly
        assert r["invoiced_cost"] == sum(
            D(x["BilledCost"]) for x in invoice if x["ResourceId"] == r["resource_id"] and x["ChargeCategory"] == "Usage")
        assert abs(r["variance"]) <= max(D("0.005") * r["snapshot_spend"], D("0.01"))
    assert [(r["resource_id"], r["invoiced_cost"]) for r in rows if r["status"] == "credit"] == [
        ("h100x2-spot-d6c94c", D("-1.435432750"))]

    periods = pipeline.query("SELECT billing_period, spend_basis FROM marts.cost_per_mtok_monthly")
    # November is closed once the clock passes it, and the fixture issues no November invoice: its
    # rows, when the run reconciled it, stand on the snapshots.
    assert {(r["billing_period"], r["spend_basis"]) for r in periods} <= {("2026-10", "invoice"), ("2026-11", "snapshots")}
    assert sorted(fleet.invoices) == ["2026-10"]
    monthly = pipeline.query("SELECT tier, spend_basis, spend, completion_tokens FROM marts.cost_per_mtok_monthly "
                             "WHERE billing_period = '2026-10' ORDER BY tier")
    assert {r["spend_basis"] for r in monthly} == {"invoice"}
    assert sum(r["spend"] for r in monthly) == sum(r["invoiced_cost"] for r in usage)
    assert pipeline.query("SELECT count(*) AS n FROM raw.invoice_rows")[0]["n"] == len(invoice)

    # A FOCUS export beside the API (FOCUS_INVOICE_PATHS): its tax line is reported apart; re-running
    # the month replaces it rather than adding to it.
    tax = tmp_path / "tax.csv"
    tax.write_text(
        "BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,BilledCost,BillingCurrency\n"
        "2026-10-01 00:00:00,2026-11-01 00:00:00,2026-10-01 00:00:00,2026-11-01 00:00:00,Tax,12.34,USD\n"
    )
    monkeypatch.setenv("FOCUS_INVOICE_PATHS", str(tax))
    for _ in range(2):
        assert run_october().success
    assert pipeline.query("SELECT count(*) AS n FROM raw.invoice_rows")[0]["n"] == len(invoice) + 1
    assert pipeline.query(
        "SELECT resource_id, invoiced_cost FROM marts.invoice_reconciliation WHERE status = 'tax'"
    ) == [{"resource_id": "__no_resource__", "invoiced_cost": D("12.340000000")}]
