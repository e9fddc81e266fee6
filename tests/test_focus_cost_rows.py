"""The `focus_cost_rows` adapter (DESIGN.md rule 11) at the frame level, on hand-written exports.

Files are written here as an export would be: CSV text with real exports' quirks, Parquet with
AWS's millisecond timestamps and double costs. Expected canonical rows are worked out by hand.
"""

from __future__ import annotations

import json
import os
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.adapters.base import Window
from pipelines.adapters.configs import FocusCostRowsConfig
from pipelines.adapters.focus_cost_rows import FocusCostRowsAdapter
from pipelines.adapters.focus_files import FocusExportError
from pipelines.config.app import AppConfig
from pipelines.lake import Lake
from pipelines.landing import land
from pipelines.sources.registry import SOURCES

DATA = Path(__file__).parent / "data" / "focus"
UTC = timezone.utc
DAY = date(2026, 10, 10)
MARGIN = timedelta(minutes=15)
HEADER = ("BillingAccountId,BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,"
          "ChargeClass,ResourceId,PricingCategory,BilledCost,BillingCurrency,ServiceName")
INSTANCE = "arn:aws:ec2:us-east-1:123456789012:instance/i-0f9e8d7c6b5a40003"
VOLUME = "arn:aws:ec2:us-east-1:123456789012:volume/vol-0aa"
MAP = [
    {"source": "focus", "source_id": INSTANCE, "resource_id": "gpu-od-1", "tier": "h100-ondemand",
     "gpu_type": "H100-SXM-80GB", "gpu_count": 1},
    {"source": "focus", "source_id": VOLUME, "resource_id": "gpu-od-1", "tier": "h100-ondemand"},
]


def at(hour: int, minute: int = 0, day: int = 10) -> datetime:
    return datetime(2026, 10, day, hour, minute, tzinfo=UTC)


def adapter(path: Path | str, resource_map=MAP, **accounting) -> FocusCostRowsAdapter:
    app = AppConfig(resource_map=resource_map, accounting=accounting)
    return FocusCostRowsAdapter(FocusCostRowsConfig(path=str(path)), app)


def read_day(a: FocusCostRowsAdapter, day: date = DAY) -> pl.DataFrame:
    return pl.concat(list(a.read(Window.for_day(day, MARGIN))), how="vertical")


def csv(path: Path, *lines: str, header: str = HEADER) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *lines]) + "\n")
    return path


def line(start: str, end: str, category: str, resource: str, cost: str, *, account: str = "123456789012",
         charge_class: str = "NULL", pricing: str = "Standard", currency: str = "USD") -> str:
    return f"{account},2026-10-01 00:00:00,2026-11-01 00:00:00,{start},{end},{category},{charge_class},{resource}," \
           f"{pricing},{cost},{currency},Amazon Elastic Compute Cloud"


def spend(frame: pl.DataFrame) -> list[tuple]:
    return sorted(frame.filter(pl.col("skipped").is_null() & pl.col("_problem_field").is_null()).select(
        "resource_id", "charge_period_start", "charge_period_end", "charge_class", "billed_cost", "export_rows",
    ).iter_rows(), key=lambda r: (r[1], r[2], r[3] or "", r[4]))


# --------------------------------------------------------------------------- what becomes spend


def test_mapped_usage_rows_of_one_resource_and_period_add_up_and_the_rest_is_summed_apart(tmp_path):
    path = csv(tmp_path / "export.csv",
               line("2026-10-10 10:00:00", "2026-10-10 11:00:00", "Usage", INSTANCE, "1.25"),
               line("2026-10-10 10:00:00", "2026-10-10 11:00:00", "usage", VOLUME, "0.05"),  # same resource
               line("2026-10-10T11:00Z", "2026-10-10T12:00Z", "Usage", INSTANCE, "35.2E-2"),
               line("2026-10-10 11:00:00", "2026-10-10 12:00:00", "Usage", "arn:aws:s3:::logs", "0.10"),
               line("2026-10-10 11:00:00", "2026-10-10 12:00:00", "Usage", "arn:aws:s3:::logs", "0.20"),
               line("2026-10-10 00:00:00", "2026-10-11 00:00:00", "Tax", "NULL", "1.5", pricing="NULL"),
               line("2026-10-10 10:00:00", "2026-10-10 11:00:00", "Credit", INSTANCE, "-0.4", pricing="Other"))
    frame = read_day(adapter(path))
    h = timedelta(hours=1)
    assert spend(frame) == [
        ("gpu-od-1", at(10), at(11), None, Decimal("1.300000000"), 2),
        ("gpu-od-1", at(11), at(12), None, Decimal("0.352000000"), 1),
    ]
    mapped = frame.filter(pl.col("resource_id").is_not_null()).row(0, named=True)
    assert (mapped["tier"], mapped["gpu_type"], mapped["gpu_count"], mapped["price_model"]) == (
        "h100-ondemand", "H100-SXM-80GB", 1, "on_demand")  # Standard -> on_demand
    rest = sorted(frame.filter(pl.col("skipped").is_not_null()).select(
        "skipped", "charge_category", "charge_period_start", "billed_cost", "export_rows", "resource_id").iter_rows())
    assert rest == [
        ("no_resource", "Tax", at(0), Decimal("1.5"), 1, None),
        ("not_usage", "Credit", at(10), Decimal("-0.4"), 1, None),  # a mapped resource's credit: never spend
        ("outside_map", "Usage", at(11), Decimal("0.3"), 2, None),  # another resource's rows, summed
    ]
    assert frame["_problem_field"].null_count() == frame.height
    assert h  # (hours are whole: nothing here depends on the margin)


def test_an_aws_parquet_export_with_millisecond_timestamps_and_double_costs(tmp_path):
    # AWS Data Exports write timestamp_milliseconds (no zone: UTC) and double costs
    # (table-dictionary-focus-1-0-aws-columns). 0.1 + 0.2 as a double is 0.30000000000000004.
    ms = pa.timestamp("ms")
    table = pa.table({
        "BillingAccountId": ["123456789012"] * 3,
        "BillingPeriodStart": pa.array([datetime(2026, 10, 1)] * 3, ms),
        "BillingPeriodEnd": pa.array([datetime(2026, 11, 1)] * 3, ms),
        "ChargePeriodStart": pa.array([datetime(2026, 10, 10, 9), datetime(2026, 10, 10, 10), datetime(2026, 10, 10, 10)], ms),
        "ChargePeriodEnd": pa.array([datetime(2026, 10, 10, 10), datetime(2026, 10, 10, 11), datetime(2026, 10, 10, 11)], ms),
        "ChargeCategory": ["Usage"] * 3,
        "ChargeClass": pa.array([None, None, "Correction"], pa.string()),
        "ResourceId": [INSTANCE] * 3,
        "PricingCategory": ["Dynamic", "Dynamic", None],
        "BilledCost": pa.array([0.1 + 0.2, 2.5e-10, -1.5e-9], pa.float64()),
        "BillingCurrency": ["USD"] * 3,
        "x_UsageType": ["SpotUsage:p5.48xlarge"] * 3,
    })
    pq.write_table(table, tmp_path / "export-00001.snappy.parquet")
    frame = read_day(adapter(tmp_path))
    assert spend(frame) == [
        ("gpu-od-1", at(9), at(10), None, Decimal("0.300000000"), 1),  # 0.30000000000000004 -> 9 decimals
        ("gpu-od-1", at(10), at(11), None, Decimal("0.000000000"), 1),  # 2.5e-10: a tie, to even (0)
        ("gpu-od-1", at(10), at(11), "Correction", Decimal("-0.000000002"), 1),  # -1.5e-9: to even (-2)
    ]
    assert frame.filter(pl.col("charge_period_start") == at(9))["price_model"].to_list() == ["spot"]  # Dynamic


def test_numbers_are_read_exactly_and_rounded_half_even_once(tmp_path):
    rows = [line(f"2026-10-10T{h:02d}:00:00Z", f"2026-10-10T{h + 1:02d}:00:00Z", "Usage", INSTANCE, cost)
            for h, cost in enumerate(["0.00000080000", "1.0000000005", "1.0000000015", "1.00000000050001",
                                      "12E3", "-7.25e-1", "0"])]
    frame = read_day(adapter(csv(tmp_path / "e.csv", *rows)))
    assert [r[4] for r in spend(frame)] == [Decimal(v) for v in (
        "0.000000800", "1.000000000", "1.000000002", "1.000000001", "12000", "-0.725", "0")]


def test_a_row_is_mapped_at_its_charge_period_start(tmp_path):
    # The instance is the fleet's from 10:30: its 10:00 row is someone else's bill.
    windowed = [{**MAP[0], "valid_from": "2026-10-10T10:30:00Z"}]
    path = csv(tmp_path / "e.csv", line("2026-10-10 10:00:00", "2026-10-10 11:00:00", "Usage", INSTANCE, "1"),
               line("2026-10-10 11:00:00", "2026-10-10 12:00:00", "Usage", INSTANCE, "2"))
    frame = read_day(adapter(path, windowed))
    assert [r[1] for r in spend(frame)] == [at(11)]
    assert frame.filter(pl.col("skipped") == "outside_map")["billed_cost"].to_list() == [Decimal(1)]


# --------------------------------------------------------------------------- bad input


def test_a_file_that_is_not_focus_is_refused_naming_the_missing_columns(tmp_path):
    path = csv(tmp_path / "cur.csv", "1,2,3", header="BillingAccountId,ChargePeriodStart,UnblendedCost")
    with pytest.raises(FocusExportError) as raised:
        read_day(adapter(path))
    assert str(raised.value) == (
        f"FOCUS export: {path} is not a FOCUS export: no column BillingPeriodStart, ChargePeriodEnd, "
        "ChargeCategory, BilledCost, BillingCurrency")


def test_mixed_currencies_in_the_fleets_rows_are_refused_naming_the_resources(tmp_path):
    path = csv(tmp_path / "e.csv", line("2026-10-10 10:00:00", "2026-10-10 11:00:00", "Usage", INSTANCE, "1"),
               line("2026-10-10 10:00:00", "2026-10-10 11:00:00", "Usage", "i-eu", "1", currency="EUR"),
               line("2026-10-10 10:00:00", "2026-10-10 11:00:00", "Usage", "arn:other", "1", currency="JPY"))
    entries = [*MAP, {"source": "focus", "source_id": "i-eu", "resource_id": "gpu-eu-1", "tier": "l40s-class"}]
    with pytest.raises(FocusExportError, match=r"mix currencies .*\(EUR: gpu-eu-1; USD: gpu-od-1\)"):
        read_day(adapter(path, entries))
    # one currency, but not the configured one
    with pytest.raises(FocusExportError, match=r"\(USD: gpu-od-1, expected EUR\)"):
        read_day(adapter(csv(tmp_path / "one.csv", line("2026-10-10 10:00:00", "2026-10-10 11:00:00", "Usage",
                                                           INSTANCE, "1")), currency="EUR"))


def test_bad_rows_are_quarantined_with_file_row_field_and_reason_and_nothing_is_lost(tmp_path):
    path = csv(tmp_path / "e.csv",
               line("2026-10-10 10:00:00", "2026-10-10 11:00:00", "Usage", INSTANCE, "1.00"),
               line("2026-10-10 10:00:00", "2026-10-10 09:00:00", "Usage", INSTANCE, "2.00"),  # ends before start
               line("2026-10-10 10:00:00", "2026-10-10 11:00:00", "Usage", INSTANCE, '"12,50"'),  # not a number
               line("2026-10-10 10:00:00", "2026-10-10 10:00:00", "Usage", INSTANCE, "3.00"),  # no time: spend
               line("2026-10-10 10:00:00", "2026-10-10 10:00:00", "Tax", "NULL", "0.10"),  # no time: rest, fine
               line("2026-10-10 10:00:00", "2026-11-20 10:00:00", "Usage", INSTANCE, "9.00"),  # > 31 days
               line("2026-10-10 10:00:00", "2026-10-10 11:00:00", "Refund", INSTANCE, "1"),
               line("2026-10-10 10:00:00", "2026-10-10 11:00:00", "Usage", INSTANCE, "1", charge_class="Rebate"),
               line("2026-10-10 25:00:00", "2026-10-10 11:00:00", "Usage", INSTANCE, "1"))
    lake = Lake(tmp_path / "lake")
    a = adapter(path)
    window = Window.for_day(DAY, MARGIN)
    result = land(lake, SOURCES["cost_rows"], a.read(window), window=window, adapter=a.name)
    assert (result.kept, result.quarantined) == (2, 7)  # 1.00 of spend; the zero-length Tax row
    manifest = lake.manifest("cost_rows", DAY)
    rejected = pl.read_parquet(lake.path("cost_rows", manifest.quarantine_file)).sort("origin")
    assert rejected.select("origin", "field", "reason").rows() == [
        (f"{path} row 2", "ChargePeriodEnd", "ChargePeriodEnd 2026-10-10T09:00:00Z is before ChargePeriodStart "
                                             "2026-10-10T10:00:00Z"),
        (f"{path} row 3", "BilledCost", "BilledCost is not a number: 12,50"),
        (f"{path} row 4", "ChargePeriodEnd", "ChargePeriodEnd equals ChargePeriodStart: a mapped Usage row's "
                                             "money over no time cannot be placed"),
        (f"{path} row 6", "ChargePeriodEnd", "ChargePeriodEnd is more than 31 days after ChargePeriodStart: "
                                             "longer than a day build reads back, so the row cannot be placed"),
        (f"{path} row 7", "ChargeCategory", "ChargeCategory is not one of Usage, Purchase, Tax, Credit, "
                                            "Adjustment: Refund"),
        (f"{path} row 8", "ChargeClass", "ChargeClass is not Correction: Rebate"),
        (f"{path} row 9", "ChargePeriodStart", "ChargePeriodStart is not a timestamp: 2026-10-10 25:00:00"),
    ]
    payload = json.loads(rejected.filter(pl.col("origin") == f"{path} row 3")["raw_payload"][0])
    assert payload["BilledCost"] == "12,50" and payload["ResourceId"] == INSTANCE
    report = a.report()
    assert report["rejected_rows"] == 7 and report["spend_billed_cost"] == "1.000000000"


# --------------------------------------------------------------------------- which files


def test_only_the_newest_file_of_a_billing_account_and_period_is_read(tmp_path):
    old = csv(tmp_path / "2026-10-run1.csv", line("2026-10-10 10:00:00", "2026-10-10 11:00:00", "Usage", INSTANCE, "1"))
    new = csv(tmp_path / "2026-10-run2.csv", line("2026-10-10 10:00:00", "2026-10-10 11:00:00", "Usage", INSTANCE, "1.1"),
              line("2026-10-10 11:00:00", "2026-10-10 12:00:00", "Usage", INSTANCE, "1.2"))
    other = csv(tmp_path / "acct2.csv", line("2026-10-10 10:00:00", "2026-10-10 11:00:00", "Usage", INSTANCE, "5",
                                             account="999"))
    os.utime(old, (1_000_000, 1_000_000))
    os.utime(other, (1_000_000, 1_000_000))  # old, but the only file of its account: read
    a = adapter(tmp_path)
    frame = read_day(a)
    assert [r[4] for r in spend(frame)] == [Decimal("1.1"), Decimal("5"), Decimal("1.2")]
    report = a.report()
    assert report["superseded_rows"] == 1 and str(old) in report["superseded_files"]
    assert new.exists()


def test_a_manifest_names_its_delivery_and_the_newest_run_wins(tmp_path):
    # Azure "create new" mode: each run writes its partitions beside a manifest.json
    # (MicrosoftDocs tutorial-export-acm-data.md: blobs[].blobName, runInfo.submittedTime).
    def run(folder: str, submitted: str, parts: dict[str, list[str]]):
        base = tmp_path / "focus" / "20261001-20261031" / folder
        for name, lines in parts.items():
            csv(base / name, *lines)
        (base / "manifest.json").write_text(json.dumps({
            "manifestVersion": "2024-04-01",
            "runInfo": {"submittedTime": submitted},
            "blobs": [{"blobName": f"exports/focus/20261001-20261031/{folder}/{n}"} for n in parts],
        }))

    day = "2026-10-10T00:00:00Z", "2026-10-11T00:00:00Z"
    run("run-a", "2026-10-11T06:00:00Z", {"part0.csv": [line(*day, "Usage", INSTANCE, "24")],
                                           "part1.csv": [line(*day, "Usage", VOLUME, "1")]})
    run("run-b", "2026-10-12T06:00:00Z", {"part0.csv": [line(*day, "Usage", INSTANCE, "24.5")],
                                           "part1.csv": [line(*day, "Usage", VOLUME, "1.25")]})
    # the older run's files were written last (copied later): the manifest's run time decides
    for path in (tmp_path / "focus" / "20261001-20261031" / "run-a").iterdir():
        os.utime(path, (4_000_000_000, 4_000_000_000))
    frame = read_day(adapter(tmp_path / "focus"))
    assert spend(frame) == [("gpu-od-1", at(0), at(0, day=11), None, Decimal("25.75"), 2)]


def test_shards_without_a_manifest_are_one_delivery_per_folder_when_configured(tmp_path):
    # BigQuery EXPORT DATA to gs://.../2026-10/*.parquet writes shards and no manifest; the month was
    # exported twice, each run to its own folder. The second run wins whole.
    day = "2026-10-10T00:00:00Z", "2026-10-11T00:00:00Z"
    for run, costs, when in (("run1", ("10", "1"), 1_000_000), ("run2", ("11", "2"), 2_000_000)):
        for shard, cost, resource in zip(("000000000000.csv", "000000000001.csv"), costs, (INSTANCE, VOLUME)):
            path = csv(tmp_path / run / shard, line(*day, "Usage", resource, cost))
            os.utime(path, (when, when))
    folder = FocusCostRowsAdapter(FocusCostRowsConfig(path=str(tmp_path), delivery="folder"),
                                  AppConfig(resource_map=MAP))
    assert [r[4] for r in spend(read_day(folder))] == [Decimal(13)]
    # by file (the default), the newest shard alone is read (equal times: the last path): the others
    # are superseded, and the report says so
    by_file = adapter(tmp_path)
    assert [r[4] for r in spend(read_day(by_file))] == [Decimal(2)]
    assert by_file.report()["superseded_rows"] == 3


def test_a_manifest_whose_files_are_partly_missing_is_refused(tmp_path):
    base = tmp_path / "run"
    csv(base / "part0.csv", line("2026-10-10 10:00:00", "2026-10-10 11:00:00", "Usage", INSTANCE, "1"))
    (base / "manifest.json").write_text(json.dumps({"blobs": [{"blobName": "x/run/part0.csv"},
                                                              {"blobName": "x/run/part1.csv"}]}))
    with pytest.raises(FocusExportError, match=r"manifest .*manifest.json lists x/run/part1.csv, which is not under"):
        read_day(adapter(tmp_path))


def test_no_files_is_a_clear_error(tmp_path):
    with pytest.raises(FocusExportError, match=r"no CSV or Parquet files match .*nothing\*.parquet"):
        read_day(adapter(tmp_path / "nothing*.parquet"))


# --------------------------------------------------------------------------- a real export


def test_the_finops_foundation_sample_is_read_whole(tmp_path):
    # 1,000 rows of a real anonymised FOCUS 1.0 export (AWS, Microsoft, Oracle): NULL strings,
    # timestamps without T or Z, Usage-Based and Usage-based. One SQS queue is "the fleet".
    queue = "arn:ats:sqs:us-test-2:347410479675:mibelllmel-i-032l64f2065481b12"
    a = adapter(DATA / "focus_sample_1.0.csv", [{"source": "focus", "source_id": queue, "resource_id": "q",
                                                 "tier": "t"}])
    export = a.prepared()
    assert (export.rows_read, export.rejected.height) == (1000, 0)
    assert int(export.rows["export_rows"].sum()) == 1000
    frame = read_day(a, date(2024, 9, 18))
    assert spend(frame) == [("q", datetime(2024, 9, 18, 22, tzinfo=UTC), datetime(2024, 9, 18, 23, tzinfo=UTC),
                             None, Decimal("0.000000800"), 1)]


def test_a_csv_line_with_more_fields_than_the_header_is_rejected_not_shifted(tmp_path):
    # An unquoted "12,50" would put 12 in BilledCost and 50 in BillingCurrency: the row is rejected.
    path = csv(tmp_path / "a.csv", line("2026-10-10 10:00:00", "2026-10-10 11:00:00", "Usage", INSTANCE, "1"),
               line("2026-10-10 11:00:00", "2026-10-10 12:00:00", "Usage", INSTANCE, "12,50"))
    frame = read_day(adapter(path))
    assert [r[4] for r in spend(frame)] == [Decimal(1)]
    rejected = frame.filter(pl.col("_problem_field").is_not_null())
    assert rejected.select("_origin", "_problem_field", "_problem_reason").rows() == [
        (f"{path} row 2", "row", "has more fields than the header (a value holds an unquoted comma?)")]


def test_a_file_that_cannot_be_read_is_refused_naming_it(tmp_path):
    broken = tmp_path / "export.parquet"
    broken.write_bytes(b"PAR1 not really parquet")
    with pytest.raises(FocusExportError, match=rf"^FOCUS export: {broken} cannot be read as parquet: "):
        read_day(adapter(tmp_path))
