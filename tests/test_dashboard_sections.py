"""The dashboard on hand-built marts: exact values on hover, the invoice reconciliation, the checks
and the token cross-check.

marts.check_results and marts.token_crosscheck are made by other steps; this file creates them by
hand with their published columns (DESIGN.md "What it publishes"), so the page is tested both with
and without them.
"""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import duckdb
import pytest

from dashboards import render_dashboard
from pipelines.accounting import ensure_schema

DAILY = """
INSERT INTO marts.cost_per_mtok_daily VALUES
 ('2026-10-28', 'h100-class', '*',     7.555555555, 12345678, 1000, 321, 0.612345678, 0.003,  true),
 ('2026-10-28', 'h100-class', 'llama', 7.555555555, 12345678, 1000, 321, 0.612345678, 0.003,  true),
 ('2026-10-28', 'l40s-class', '*',     1.500000000,  1000000,   10,  20, 1.500000000, 0.4,    false),
 ('2026-10-28', 'l40s-class', 'qwen',  1.500000000,  1000000,   10,  20, 1.500000000, 0.4,    false);
INSERT INTO marts.band_check VALUES ('2026-10-28', 'h100-class', 0.612345678, 0.003, 12345678, true, 'in_band');
INSERT INTO marts.resource_hourly (hour, resource_id, tier, gpu_type, price_model, running_s, busy_s, idle_s,
    waking_s, parked_s, spend, spend_serving, spend_idle, spend_waking, spend_parked, completion_tokens,
    prompt_tokens, requests, idle_fraction, mean_concurrency, billing_complete) VALUES
 ('2026-10-28 10:00:00+00', 'r-h100-1', 'h100-class', 'H100', 'spot', 3600, 3589.2, 10.8, 0, 0,
  7.555555555, 7.532888888, 0.022666667, 0, 0, 12345678, 1000, 321, 0.003, 1.5, true),
 ('2026-10-28 10:00:00+00', 'r-l40s-1', 'l40s-class', 'L40S', 'spot', 3600, 2160, 1440, 0, 0,
  1.500000000, 0.900000000, 0.600000000, 0, 0, 1000000, 10, 20, 0.4, 1.0, false);
"""
RECONCILIATION = """
INSERT INTO marts.invoice_reconciliation VALUES
 ('2026-09', 'r-h100-1',        1.000000000,   1.000000000, 0.000000000, 0.000000000, 'reconciled'),
 ('2026-10', 'r-h100-1',      100.250000000, 100.300000000, 0.050000000, 0.000498753, 'reconciled'),
 ('2026-10', 'r-l40s-1',       50.000000000,  55.125000000, 5.125000000, 0.102500000, 'mismatch'),
 ('2026-10', 'r-gone',                 NULL,   3.500000000, 3.500000000,        NULL, 'not_observed'),
 ('2026-10', '__no_resource__',        NULL,  12.340000000,        NULL,        NULL, 'tax'),
 ('2026-10', 'r-h100-1',               NULL, -10.000000000,        NULL,        NULL, 'credit');
"""
CHECK_RESULTS = """
CREATE TABLE marts.check_results (run_id VARCHAR, checked_at TIMESTAMPTZ, asset VARCHAR, check_name VARCHAR,
    severity VARCHAR, passed BOOLEAN, expectation VARCHAR, failing_rows BIGINT, examples VARCHAR, query VARCHAR);
INSERT INTO marts.check_results VALUES
 ('run-one-0000', '2026-10-29 03:05:00+00', 'marts/resource_hourly', 'conservation', 'ERROR', true,
  'every cent of snapshot spend lands in one hour', 0, NULL, NULL),
 ('run-two-1111', '2026-10-30 03:05:00+00', 'marts/resource_hourly', 'conservation', 'ERROR', false,
  'every cent of snapshot spend lands in one hour', 2, '[{"resource_id": "r-h100-1", "missing": "0.000000002"}]',
  'SELECT * FROM marts.resource_hourly WHERE spend < 0'),
 ('run-two-1111', '2026-10-30 03:05:00+00', 'marts/band_check', 'band', 'WARN', true,
  'H100-class tier-days in band', 0, NULL, NULL);
"""
CROSSCHECK = """
CREATE OR REPLACE TABLE marts.token_crosscheck (hour TIMESTAMPTZ, resource_id VARCHAR, logged_tokens BIGINT,
    counted_tokens BIGINT, difference BIGINT, difference_pct DECIMAL(38,9));
INSERT INTO marts.token_crosscheck VALUES
 ('2026-10-28 10:00:00+00', 'r-h100-1', 990, 1000, -10, -1.000000000),
 ('2026-10-28 11:00:00+00', 'r-h100-1', 900, 1000, -100, -10.000000000),
 ('2026-10-28 12:00:00+00', 'r-h100-1', 700, NULL, NULL, NULL),
 ('2026-10-28 10:00:00+00', 'r-l40s-1', 500, 500, 0, 0.000000000);
"""


def published(tmp_path: Path, *extra: str) -> Path:
    path = tmp_path / "published.duckdb"
    with duckdb.connect(str(path)) as con:
        ensure_schema(con)
        for sql in (DAILY, *extra):
            con.execute(sql)
    return path


def page(path: Path) -> str:
    return render_dashboard(path, path.with_name("dashboard.html")).path.read_text()


def section_of(html: str, key: str) -> str:
    found = re.search(rf'<section id="{key}".*?</section>', html, re.S)
    assert found, f"no section {key}"
    return found.group(0)


def titles(html: str, tag: str, **data: str) -> list[str]:
    """The <title> text of each mark `tag` whose data- attributes hold `data`."""
    out = []
    for attrs, title in re.findall(rf'<{tag} class="mark[^"]*"([^>]*)><title>(.*?)</title>', html):
        if all(f'data-{k.replace("_", "-")}="{v}"' in attrs for k, v in data.items()):
            out.append(unescape(title))
    return out


def rows_of(table_html: str) -> list[list[str]]:
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", tr) for tr in re.findall(r"<tr>(.*?)</tr>", table_html)]
    return [[unescape(re.sub(r"<[^>]+>", "", c)) for c in row] for row in cells if row]  # the header row has <th>


def cell_titles(html: str) -> dict[str, str]:
    return {unescape(text): unescape(title) for title, text in re.findall(r'<td[^>]*title="([^"]*)"[^>]*>(.*?)</td>', html)}


# -- exact values on hover ------------------------------------------------------------------------------
def test_a_band_point_shows_its_exact_values_on_hover(tmp_path):
    html = page(published(tmp_path))
    assert titles(html, "circle", tier="h100-class", day="2026-10-28") == [
        "2026-10-28 h100-class: $0.612345678/Mtok, idle 0.3 %, 12,345,678 tokens, spend $7.555555555, in band, "
        "billing complete"]
    assert titles(html, "circle", tier="l40s-class", day="2026-10-28") == [
        "2026-10-28 l40s-class: $1.500000000/Mtok, idle 40 %, 1,000,000 tokens, spend $1.500000000, "
        "INCOMPLETE billing: not a clean figure"]


def test_bars_and_table_cells_carry_the_published_digits(tmp_path):
    html = page(published(tmp_path))
    assert titles(html, "rect", tier="h100-class", state="idle") == [
        "2026-10-28 h100-class: idle $0.022666667 of $7.555555555 spend, billing complete"]
    # a model's $/Mtok over its days is recomputed from the published sums, then rounded once:
    # 7.555555555 × 10⁶ ÷ 12,345,678 = 0.61200005005… -> 0.612000050
    assert titles(html, "rect", tier="h100-class", model="llama") == [
        "h100-class llama (2026-10-28): spend $7.555555555, 12,345,678 tokens, 321 requests, $0.612000050/Mtok, "
        "billing complete"]
    models = cell_titles(section_of(html, "models"))
    assert models["$7.56"] == "$7.555555555" and models["12.3M"] == "12,345,678"


def test_every_mark_has_a_title(tmp_path):
    html = page(published(tmp_path, RECONCILIATION, CHECK_RESULTS, CROSSCHECK))
    marks = re.findall(r'<(\w+) class="mark[^"]*"[^>]*>(<title>)?', html)
    assert len(marks) > 10 and all(title for _, title in marks)


# -- invoice reconciliation -------------------------------------------------------------------------------
def test_the_latest_billing_period_per_resource_with_charges_apart(tmp_path):
    html = section_of(page(published(tmp_path, RECONCILIATION)), "reconciliation")
    tables = re.findall(r"<table.*?</table>", html, re.S)
    assert 'data-period="2026-10"' in tables[0]
    assert rows_of(tables[0]) == [
        ["r-l40s-1", "mismatch", "$50.00", "$55.13", "$5.13", "10.25%"],
        ["r-gone", "not observed", "–", "$3.50", "$3.50", "–"],
        ["r-h100-1", "reconciled", "$100.25", "$100.30", "$0.05", "0.05%"],
    ]
    assert all(f'class="text v-{v}"' in tables[0] for v in ("bad", "good", "caution"))
    assert rows_of(tables[1]) == [["__no_resource__", "tax", "$12.34"], ["r-h100-1", "credit", "−$10.00"]]
    exact = cell_titles(tables[0])
    assert exact["$55.13"] == "$55.125000000" and exact["10.25%"] == "10.25 %" and exact["0.05%"] == "0.0498753 %"
    assert "<b>2 of 3</b>" not in html and "1 of 3" in html  # one resource reconciled in 2026-10
    assert "$158.93" in html  # invoiced usage 100.30 + 55.125 + 3.50, rounded half up
    assert [r[0] for r in rows_of(tables[2])] == ["2026-09", "2026-10", "2026-10", "2026-10", "2026-10", "2026-10"]


def test_reconciliation_without_an_invoice(tmp_path):
    html = section_of(page(published(tmp_path)), "reconciliation")
    assert "No billing period imported yet." in html


# -- checks ---------------------------------------------------------------------------------------------------
def test_checks_show_each_checks_latest_result_and_the_query_for_failures(tmp_path):
    html = section_of(page(published(tmp_path, CHECK_RESULTS)), "checks")
    (table,) = re.findall(r"<table.*?</table>", html, re.S)
    assert rows_of(table) == [
        ["marts/resource_hourly", "conservation", "ERROR", "failed", "2", "every cent of snapshot spend lands in one hour",
         "2026-10-30 03:05:00 UTC", "run-two-"],
        ["marts/band_check", "band", "WARN", "passed", "0", "H100-class tier-days in band", "2026-10-30 03:05:00 UTC",
         "run-two-"],
    ]
    assert "1 of 2" in html and "2 run(s)" in html
    (failure,) = re.findall(r'<details data-check="conservation">.*?</details>', html, re.S)
    assert "SELECT * FROM marts.resource_hourly WHERE spend &lt; 0" in failure
    assert "[{&quot;resource_id&quot;: &quot;r-h100-1&quot;, &quot;missing&quot;: &quot;0.000000002&quot;}]" in failure


def test_no_check_results_yet(tmp_path):
    assert "no check results published yet" in section_of(page(published(tmp_path)), "checks").lower()


# -- token cross-check ----------------------------------------------------------------------------------------
def test_the_token_crosscheck_flags_hours_below_minus_one_percent(tmp_path):
    html = section_of(page(published(tmp_path, CROSSCHECK)), "crosscheck")
    summary, flagged = re.findall(r"<table.*?</table>", html, re.S)
    assert rows_of(summary) == [
        # logged 990 + 900 over the two judged hours, counted 2,000: −110 tokens, −5.5 %
        ["r-h100-1", "3", "2", "1,890", "2,000", "−110", "−5.5 %", "−10 %", "1"],
        ["r-l40s-1", "1", "1", "500", "500", "0", "0 %", "0 %", "0"],
    ]
    # −1 % exactly is within the bound; only 11:00 misses more
    assert rows_of(flagged) == [["2026-10-28 11:00 UTC", "r-h100-1", "900", "1,000", "−100", "−10 %"]]
    assert 'data-flagged="1"' in flagged


def test_the_crosscheck_bound_is_configurable(tmp_path, monkeypatch):
    from pipelines.config import load_config

    config = tmp_path / "invoice-true.toml"
    config.write_text('[crosscheck]\nadapter = "prometheus"\nurl = "http://prometheus:9090"\nmax_miss_pct = 0.5\n')
    for name in ("GATEWAY_API_URL", "GATEWAY_API_TOKEN", "BILLING_API_URL", "BILLING_API_TOKEN"):
        monkeypatch.setenv(name, "set")
    monkeypatch.setenv("INVOICE_TRUE_CONFIG", str(config))
    load_config.cache_clear()
    html = section_of(page(published(tmp_path, CROSSCHECK)), "crosscheck")
    _, flagged = re.findall(r"<table.*?</table>", html, re.S)
    assert [r[0] for r in rows_of(flagged)] == ["2026-10-28 11:00 UTC", "2026-10-28 10:00 UTC"]


def test_without_a_prometheus_the_crosscheck_says_so(tmp_path):
    html = section_of(page(published(tmp_path)), "crosscheck")
    assert "marts.token_crosscheck holds no resource-hour: no Prometheus cross-check is configured" in html


@pytest.mark.parametrize("extra", [(), (RECONCILIATION, CHECK_RESULTS, CROSSCHECK)])
def test_the_page_stays_self_contained(tmp_path, extra):
    html = page(published(tmp_path, *extra))
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html
