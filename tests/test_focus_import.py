"""Import of FOCUS invoice rows (billing API pages and FOCUS CSV/Parquet files) into raw.invoice_rows.

Against the real FOCUS 1.0 export (FinOps Foundation sample data, CC BY 4.0) and the two FOCUS 1.2
specification examples in tests/data/focus/, plus hand-made rows for every way a row can break.
"""

import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import pydantic
import pytest

from models.focus import FocusInvoiceRow, canonical_charge_category
from pipelines.invoices import InvoiceImportError, import_focus_files, import_invoices

FOCUS = Path(__file__).parent / "data" / "focus"
SAMPLE = FOCUS / "focus_sample_1.0.csv"
SPEC_COMMITMENT = FOCUS / "spec_v1.2_commitment_discount_usage_scenario_1.csv"
SPEC_ZERO_UTIL = FOCUS / "spec_v1.2_zero_percent_utilization_without_commitment_discount_flexibility.csv"
UTC = timezone.utc


@pytest.fixture
def con(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as c:
        yield c


def rows(con, sql: str, params=None) -> list[dict]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r)) for r in cursor.fetchall()]


def page(*row_texts: str, cursor: str | None = None) -> bytes:
    return ('{"data":[' + ",".join(row_texts) + '],"next_cursor":' + json.dumps(cursor) + "}").encode()


def api_row(**overrides) -> str:
    """A valid FOCUS row as JSON text; an override given as `raw:<text>` is inserted as raw JSON."""
    fields = {
        "InvoiceId": '"INV-1"', "BillingPeriodStart": '"2026-10-01T00:00:00Z"',
        "BillingPeriodEnd": '"2026-11-01T00:00:00Z"', "ChargePeriodStart": '"2026-10-05T00:00:00Z"',
        "ChargePeriodEnd": '"2026-10-06T00:00:00Z"', "ChargeCategory": '"Usage"', "ResourceId": '"r-1"',
        "SkuId": '"gpu.h100"', "BilledCost": '"1.000000000"', "BillingCurrency": '"USD"',
    }
    for key, value in overrides.items():
        if value is None:
            fields.pop(key, None)
        else:
            fields[key] = value[4:] if value.startswith("raw:") else json.dumps(value)
    return "{" + ",".join(f'"{k}":{v}' for k, v in fields.items()) + "}"


# -- the real FOCUS 1.0 export ---------------------------------------------------------------------
def test_real_focus_1_0_sample_imports_every_row_exactly(con):
    result = import_focus_files(con, [SAMPLE])

    assert (result.read, result.kept, result.quarantined) == (1000, 1000, 0)
    assert result.billing_periods == ("2024-09", "2024-10")
    assert result.sources == (str(SAMPLE.resolve()),)
    per_category = {r["charge_category"]: (r["n"], r["total"]) for r in rows(
        con, "SELECT charge_category, count(*) AS n, sum(billed_cost) AS total FROM raw.invoice_rows GROUP BY 1")}
    assert per_category == {
        "Usage": (997, Decimal("22.86192672899")),
        "Credit": (1, Decimal("-2.6137")),
        "Adjustment": (2, Decimal("0.272")),
    }
    # 11-decimal values keep every digit (DECIMAL(38,18)); a 9-decimal column would round 439 of them
    total = con.execute("SELECT sum(billed_cost) FROM raw.invoice_rows").fetchall()[0][0]
    assert total == Decimal("20.52022672899")
    by_row = {r["row_number"]: r for r in rows(con, "SELECT * FROM raw.invoice_rows")}
    assert by_row[1]["billed_cost"] == Decimal("0.00000080000")
    assert by_row[2]["billed_cost"] == Decimal("0.0000160599")
    assert by_row[2]["pricing_quantity"] == Decimal("0.00200749")
    assert by_row[1000]["billed_cost"] == Decimal("-0.000026")
    assert by_row[1000]["pricing_quantity"] == Decimal("-0.00000013")


def test_real_focus_1_0_sample_nulls_timestamps_and_categories(con):
    import_focus_files(con, [SAMPLE])
    by_row = {r["row_number"]: r for r in rows(con, "SELECT * FROM raw.invoice_rows")}

    first = by_row[1]
    # "2024-09-18 22:00:00" (no T, no offset) is UTC
    assert first["charge_period_start"] == datetime(2024, 9, 18, 22, tzinfo=UTC)
    assert first["charge_period_end"] == datetime(2024, 9, 18, 23, tzinfo=UTC)
    assert first["billing_period_start"] == datetime(2024, 9, 1, tzinfo=UTC)
    assert first["billing_period_end"] == datetime(2024, 10, 1, tzinfo=UTC)
    assert first["invoice_id"] is None  # FOCUS 1.0 has no InvoiceId column
    assert (first["sku_id"], first["pricing_unit"], first["billing_currency"]) == ("G95FST5FTYV3JSRX", "Requests", "USD")
    payload = json.loads(first["raw_payload"])
    assert payload["AvailabilityZone"] is None and payload["BilledCost"] == "0.00000080000"  # NULL -> null, text kept

    credit = by_row[457]
    assert credit["charge_category"] == "Credit"
    assert credit["resource_id"] is None  # ResourceId NULL
    assert (credit["billed_cost"], credit["effective_cost"]) == (Decimal("-2.6137"), Decimal("-3"))

    oracle = by_row[945]  # billed in the next period although charged on 2024-09-30
    assert (oracle["billing_period"], oracle["billed_cost"]) == ("2024-10", Decimal("0.24"))
    assert oracle["resource_id"].startswith("ocid6.instance.oc6.phx.")
    assert json.loads(oracle["raw_payload"])["ChargeFrequency"] == "Usage-based"  # mixed case kept as sent

    assert con.execute("SELECT count(*) FROM raw.invoice_rows WHERE resource_id IS NULL").fetchall()[0][0] == 75
    frequencies = {json.loads(r[0])["ChargeFrequency"] for r in con.execute("SELECT raw_payload FROM raw.invoice_rows").fetchall()}
    assert {"Usage-Based", "Usage-based", "One-Time"} <= frequencies


def test_parquet_export_reads_like_csv(con, tmp_path):
    parquet = tmp_path / "focus.parquet"
    con.execute(
        f"""COPY (SELECT * REPLACE (CAST(BilledCost AS DECIMAL(38, 11)) AS BilledCost,
                                    CAST(BillingPeriodStart AS TIMESTAMP) AS BillingPeriodStart,
                                    CAST(ChargePeriodStart AS TIMESTAMP) AS ChargePeriodStart)
                  FROM read_csv('{SAMPLE}', all_varchar = true, nullstr = 'NULL'))
            TO '{parquet}' (FORMAT parquet)"""
    )
    result = import_focus_files(con, [parquet])

    assert (result.read, result.kept, result.quarantined) == (1000, 1000, 0)
    assert con.execute("SELECT sum(billed_cost) FROM raw.invoice_rows").fetchall()[0][0] == Decimal("20.52022672899")
    assert con.execute("SELECT billed_cost FROM raw.invoice_rows WHERE row_number = 2").fetchall()[0][0] == Decimal(
        "0.0000160599")


# -- the FOCUS 1.2 specification examples ----------------------------------------------------------
def test_spec_1_2_examples_lack_billing_currency_so_they_are_quarantined(con):
    result = import_focus_files(con, [SPEC_ZERO_UTIL, SPEC_COMMITMENT])

    assert (result.read, result.kept, result.quarantined) == (4, 0, 4)
    quarantined = rows(con, "SELECT * FROM quarantine.invoice_rows ORDER BY source, row_number")
    assert {(r["field"], r["reason"], r["billing_period"]) for r in quarantined} == {
        ("BillingCurrency", "is missing", "2023-01")}
    assert json.loads(quarantined[0]["raw_payload"])["CommitmentDiscountUnit"] == "USD"


def test_spec_1_2_examples_with_an_assumed_currency(con):
    result = import_focus_files(con, [SPEC_ZERO_UTIL, SPEC_COMMITMENT], assume_currency="USD")

    assert (result.read, result.kept, result.quarantined) == (4, 4, 0)
    got = [
        (r["charge_category"], r["resource_id"], r["sku_id"], r["billed_cost"], r["effective_cost"], r["list_cost"],
         r["pricing_quantity"])
        for r in rows(con, "SELECT * FROM raw.invoice_rows ORDER BY source DESC, row_number")
    ]
    assert got == [
        # zero percent utilisation: the commitment is bought (Purchase) and its hour goes unused
        ("Purchase", "<my-commitment-discount-id>", "VM_LARGE", Decimal("1.50"), Decimal("0"), Decimal("3"), Decimal("1")),
        ("Usage", "<my-large-vm-id>", "VM_LARGE", Decimal("0"), Decimal("1.5"), Decimal("3"), Decimal("1")),
        ("Usage", "<my-medium-vm-id>", "VM_MEDIUM", Decimal("2"), Decimal("2"), Decimal("2"), Decimal("1")),
        # commitment discount usage scenario 1 (no ListCost, no PricingQuantity, no SkuId)
        ("Usage", "<my-resource-id>", None, Decimal("0"), Decimal("1"), None, None),
    ]
    assert {r[0] for r in con.execute("SELECT billing_currency FROM raw.invoice_rows").fetchall()} == {"USD"}
    # lower-case `null` is a null
    payload = json.loads(con.execute(
        "SELECT raw_payload FROM raw.invoice_rows WHERE resource_id = '<my-commitment-discount-id>'").fetchall()[0][0])
    assert payload["ConsumedQuantity"] is None


# -- the billing API -------------------------------------------------------------------------------
def test_json_numbers_and_strings_are_read_exactly(con):
    rows_sent = [
        api_row(ResourceId="r-str", BilledCost="0.1"),
        api_row(ResourceId="r-num", BilledCost="raw:0.1"),
        api_row(ResourceId="r-big", BilledCost="raw:1234567890.123456789012345678", ListCost="raw:9007199254740993"),
        api_row(ResourceId="r-exp", BilledCost="raw:1e-7", EffectiveCost="raw:1.5E+2"),
        api_row(ResourceId="r-int", BilledCost="raw:5", PricingQuantity="raw:24.000000"),
    ]
    result = import_invoices(
        con, billing_period="2026-10", pages=[page(*rows_sent[:3], cursor="c1"), page(*rows_sent[3:])]
    )

    assert (result.read, result.kept, result.quarantined) == (5, 5, 0)
    got = {r["resource_id"]: r for r in rows(con, "SELECT * FROM raw.invoice_rows")}
    assert got["r-str"]["billed_cost"] == got["r-num"]["billed_cost"] == Decimal("0.1")
    assert got["r-big"]["billed_cost"] == Decimal("1234567890.123456789012345678")  # a float keeps ~16 digits
    assert got["r-big"]["list_cost"] == Decimal("9007199254740993")  # 2**53 + 1
    assert got["r-exp"]["billed_cost"] == Decimal("0.0000001")
    assert got["r-exp"]["effective_cost"] == Decimal("150")
    assert (got["r-int"]["billed_cost"], got["r-int"]["pricing_quantity"]) == (Decimal(5), Decimal(24))
    # row numbers run across pages; the payload is the row's JSON text exactly as sent
    assert [got[r]["row_number"] for r in ("r-str", "r-num", "r-big", "r-exp", "r-int")] == [1, 2, 3, 4, 5]
    assert got["r-big"]["raw_payload"] == rows_sent[2]
    assert {r["source"] for r in got.values()} == {"api"}
    assert got["r-num"]["charge_period_start"] == datetime(2026, 10, 5, tzinfo=UTC)


def test_api_rows_of_another_period_are_quarantined(con):
    wrong = api_row(BillingPeriodStart="2026-09-01T00:00:00Z", BillingPeriodEnd="2026-10-01T00:00:00Z")
    result = import_invoices(con, billing_period="2026-10", pages=[page(api_row(), wrong)])

    assert (result.kept, result.quarantined) == (1, 1)
    assert rows(con, "SELECT billing_period, row_number, field, reason FROM quarantine.invoice_rows") == [
        {"billing_period": "2026-10", "row_number": 2, "field": "BillingPeriodStart",
         "reason": "is in 2026-09, not the requested billing period 2026-10"}]


# -- quarantine --------------------------------------------------------------------------------------
BAD_ROWS = [
    (api_row(BilledCost=None), "BilledCost", "is missing"),
    (api_row(BilledCost="12,50"), "BilledCost", "is not a decimal number: 12,50"),
    (api_row(BilledCost="0.0000000000000000001"), "BilledCost", "has more than 18 decimal places: 0.0000000000000000001"),
    (api_row(BilledCost="raw:true"), "BilledCost", "is not a decimal number: true"),
    (api_row(ListCost="n/a"), "ListCost", "is not a decimal number: n/a"),
    (api_row(ChargePeriodStart="yesterday"), "ChargePeriodStart", "is not a timestamp: yesterday"),
    (api_row(BillingPeriodStart="2026-13-01T00:00:00Z"), "BillingPeriodStart", "is not a timestamp: 2026-13-01T00:00:00Z"),
    (api_row(ChargePeriodEnd="2026-10-04T00:00:00Z"), "ChargePeriodEnd", "is before ChargePeriodStart"),
    (api_row(ChargeCategory="Refund"), "ChargeCategory",
     "is not one of Usage, Purchase, Tax, Credit, Adjustment: Refund"),
    (api_row(ChargeCategory=None), "ChargeCategory", "is missing"),
    (api_row(BillingCurrency="EUR"), "BillingCurrency", "is EUR, expected USD"),
    (api_row(BillingCurrency="dollars"), "BillingCurrency", "is not an ISO 4217 code: dollars"),
    ("[1, 2]", "row", "is not a JSON object"),
]


def test_bad_rows_go_to_quarantine_with_field_and_reason(con):
    result = import_invoices(
        con, billing_period="2026-10", pages=[page(api_row(), *[r for r, _, _ in BAD_ROWS])], expected_currency="USD"
    )

    assert (result.read, result.kept, result.quarantined) == (1 + len(BAD_ROWS), 1, len(BAD_ROWS))
    got = rows(con, "SELECT * FROM quarantine.invoice_rows ORDER BY row_number")
    assert [(r["field"], r["reason"]) for r in got] == [(f, why) for _, f, why in BAD_ROWS]
    assert [r["raw_payload"] for r in got] == [r for r, _, _ in BAD_ROWS]  # nothing lost, text as sent
    assert {(r["source"], r["billing_period"]) for r in got} == {("api", "2026-10")}


def test_charge_category_is_matched_in_any_case(con, tmp_path):
    csv = tmp_path / "cats.csv"
    csv.write_text(
        "BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,BilledCost,BillingCurrency\n"
        + "".join(f"2026-10-01,2026-11-01,2026-10-02 00:00:00,2026-10-03 00:00:00,{c},1.5,USD\n"
                  for c in ("usage", " CREDIT ", "Tax", "pUrChAsE", "adjustment", "Refund"))
    )
    result = import_focus_files(con, [csv])

    assert (result.kept, result.quarantined) == (5, 1)
    kept = [r[0] for r in con.execute("SELECT charge_category FROM raw.invoice_rows ORDER BY row_number").fetchall()]
    assert kept == ["Usage", "Credit", "Tax", "Purchase", "Adjustment"]
    assert rows(con, "SELECT row_number, field, reason FROM quarantine.invoice_rows") == [
        {"row_number": 6, "field": "ChargeCategory", "reason": "is not one of Usage, Purchase, Tax, Credit, Adjustment: Refund"}]
    assert canonical_charge_category(" CREDIT ") == "Credit" and canonical_charge_category("Refund") is None


def test_currencies_never_mix_silently(con):
    with pytest.raises(InvoiceImportError, match=r"mix currencies .*EUR \(1 rows\), USD \(1 rows\)"):
        import_invoices(con, billing_period="2026-10", pages=[page(api_row(), api_row(BillingCurrency="EUR"))])
    assert con.execute("SELECT count(*) FROM raw.invoice_rows").fetchall()[0][0] == 0


# -- re-import -------------------------------------------------------------------------------------
def test_reimporting_a_billing_period_replaces_it(con):
    pages = [page(api_row(), api_row(ResourceId="r-2"), api_row(BilledCost="x"))]
    first = import_invoices(con, billing_period="2026-10", pages=pages)
    snapshot = rows(con, "SELECT * FROM raw.invoice_rows ORDER BY row_number")
    again = import_invoices(con, billing_period="2026-10", pages=pages)

    assert first == again
    assert rows(con, "SELECT * FROM raw.invoice_rows ORDER BY row_number") == snapshot
    assert con.execute("SELECT count(*) FROM quarantine.invoice_rows").fetchall()[0][0] == 1

    import_invoices(con, billing_period="2026-10", pages=[page(api_row(ResourceId="r-3", BilledCost="2"))])
    assert rows(con, "SELECT resource_id, billed_cost FROM raw.invoice_rows") == [
        {"resource_id": "r-3", "billed_cost": Decimal(2)}]
    assert con.execute("SELECT count(*) FROM quarantine.invoice_rows").fetchall()[0][0] == 0


def test_reimporting_a_file_is_idempotent_and_leaves_other_periods_alone(con):
    import_invoices(con, billing_period="2026-10", pages=[page(api_row())])
    import_focus_files(con, [SAMPLE])
    import_focus_files(con, [SAMPLE])

    counts = dict(con.execute("SELECT billing_period, count(*) FROM raw.invoice_rows GROUP BY 1").fetchall())
    assert counts == {"2024-09": 999, "2024-10": 1, "2026-10": 1}


def test_a_file_imported_for_one_period_skips_rows_of_others(con):
    result = import_focus_files(con, [SAMPLE], billing_period="2024-10")

    assert (result.read, result.kept, result.quarantined, result.other_periods) == (1000, 1, 0, 999)
    assert result.billing_periods == ("2024-10",)


# -- files that cannot be read ---------------------------------------------------------------------
def test_a_path_that_is_not_a_readable_file_is_a_clear_error(con, tmp_path):
    missing = tmp_path / "nowhere" / "invoice.csv"
    with pytest.raises(InvoiceImportError, match=f"FOCUS invoice file {missing} is not a readable file"):
        import_focus_files(con, [missing])
    with pytest.raises(InvoiceImportError, match="is not a readable file"):
        import_focus_files(con, [tmp_path])


def test_a_csv_without_focus_columns_is_a_clear_error(con, tmp_path):
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(InvoiceImportError, match=r"other\.csv is not a FOCUS export: no column BillingPeriodStart"):
        import_focus_files(con, [other])


# -- the typed model -------------------------------------------------------------------------------
def test_focus_model_states_the_same_rules():
    row = FocusInvoiceRow.model_validate({
        "BillingPeriodStart": "2024-09-01 00:00:00", "BillingPeriodEnd": "2024-10-01 00:00:00",
        "ChargePeriodStart": "2024-09-18 22:00:00", "ChargePeriodEnd": "2024-09-18T23:00:00Z",
        "ChargeCategory": "usage", "BilledCost": "0.00000080000", "BillingCurrency": "USD",
        "ChargeFrequency": "Usage-based",
    })
    assert row.ChargeCategory == "Usage"
    assert row.BillingPeriodStart == datetime(2024, 9, 1, tzinfo=UTC)
    assert row.BilledCost == Decimal("0.0000008")
    with pytest.raises(pydantic.ValidationError, match="not a float"):
        FocusInvoiceRow.model_validate({**row.model_dump(), "BilledCost": 0.1})
