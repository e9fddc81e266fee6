"""The worked example of shared/examples/tiny_fleet, end to end: HTTP -> Dagster -> published DuckDB file.

Its expected marts were computed independently with exact fractions; every published value must
equal them (money and seconds exactly, rounded ratios to the 9th decimal).
"""

import json
from datetime import date
from decimal import Decimal

from tests.conftest import DATA

EXPECTED = DATA / "tiny_fleet" / "expected"
DAY = date(2026, 10, 10)


def expected(name: str) -> list[dict]:
    return json.loads((EXPECTED / f"{name}.json").read_text())


def same(published, wanted) -> bool:
    if wanted is None or isinstance(wanted, bool) or isinstance(published, bool):
        return published == wanted
    if isinstance(wanted, (int, str)) and not isinstance(published, str):
        return Decimal(str(published)) == Decimal(str(wanted))
    return str(published) == str(wanted)


def test_tiny_fleet_resource_hourly_matches_the_worked_example(pipeline, tiny_fleet):
    outcome = pipeline.run(tiny_fleet, DAY, date(2026, 10, 11))
    assert outcome.exit_code in (0, 2), outcome.lines
    rows = {
        (r["resource_id"], r["hour"].strftime("%Y-%m-%dT%H:%M:%SZ")): r
        for r in pipeline.query("SELECT * FROM marts.resource_hourly")
    }
    wanted = expected("resource_hourly")
    assert set(rows) == {(w["resource_id"], w["hour"]) for w in wanted}
    for w in wanted:
        got = rows[(w["resource_id"], w["hour"])]
        for column, value in w.items():
            if column in ("resource_id", "hour"):
                continue
            assert same(got[column], value), (w["resource_id"], w["hour"], column, got[column], value)


def test_tiny_fleet_cost_per_mtok_daily_matches_the_worked_example(pipeline, tiny_fleet):
    pipeline.run(tiny_fleet, DAY, date(2026, 10, 11))
    rows = {r["model"]: r for r in pipeline.query("SELECT * FROM marts.cost_per_mtok_daily")}
    wanted = expected("cost_per_mtok_daily")
    assert set(rows) == {w["model"] for w in wanted}
    for w in wanted:
        got = rows[w["model"]]
        assert str(got["day"]) == w["day"]
        for column, value in w.items():
            if column not in ("model", "day"):
                assert same(got[column], value), (w["model"], column, got[column], value)


def test_tiny_fleet_hand_checks_from_its_readme(pipeline, tiny_fleet):
    pipeline.run(tiny_fleet, DAY, date(2026, 10, 11))
    hour_09, hour_10 = pipeline.query(
        "SELECT spend FROM marts.resource_hourly WHERE resource_id = 'gpu-r1' AND hour IN (?, ?) ORDER BY hour",
        [at_utc(9, 0), at_utc(10, 0)],
    )
    assert hour_09["spend"] == Decimal("4.153333")  # 59 x 0.07 + 0.023333 after the new billing period
    assert hour_10["spend"] == Decimal("3.4322")  # 38 x 0.07 + 0.77 through the gap + 11 x 0.0002 parked
    assert pipeline.query("SELECT * FROM marts.observability_gaps") == [
        {
            "resource_id": "gpu-r1",
            "gap_start": at_utc(10, 10),
            "gap_end": at_utc(10, 21),
            "seconds": Decimal("660"),
        }
    ]
    resets = pipeline.query("SELECT resource_id, reason, cumulative FROM marts.billing_resets ORDER BY resource_id")
    assert resets == [
        {"resource_id": "gpu-r1", "reason": "new_period", "cumulative": Decimal("0.023333")},
        {"resource_id": "gpu-r2", "reason": "fell", "cumulative": Decimal("0.04")},
    ]
    # request tiny-2 was delivered twice and counts once
    assert pipeline.query("SELECT count(*) AS n FROM raw.requests") == [{"n": 5}]


def at_utc(hour: int, minute: int):
    from datetime import datetime, timezone

    return datetime(2026, 10, 10, hour, minute, tzinfo=timezone.utc)
