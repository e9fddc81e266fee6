"""The HTML dashboard, rendered by the real job and opened in headless Chromium.

The first 3 UTC days of the demo fleet (its default volume, so the same story as the demo week: an
H100 tier in band where self-hosting pays, a spot interruption, an on-demand replica that goes dark
for 12 minutes, idle L40S replicas the gateway would serve for cents) runs
through the fixture server, Dagster and the publish step; the report asset writes dashboard.html
beside the published file. Chromium loads it from file:// and must log no console message (the
page has no script, and its Content-Security-Policy turns any attempted load into one), the dumped
DOM must reference nothing outside the file, every section must have drawn marks, and the values
on the marks of chosen tier-days must equal the marts. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections import Counter, defaultdict
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

from dashboards.audit import CHECKS, CROSSCHECK, RECONCILIATION
from dashboards.sections import SECTIONS
from fixtures.fleet import load_fleet
from pipelines.accounting import ensure_schema
from tests.browser import chromium_page, chromium_path
from tests.conftest import PipelineRun

pytestmark = pytest.mark.slow  # its fixture runs the pipeline over three days

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
README_SCREENSHOT = REPO / "dashboards" / "screenshot.png"
START, DAYS = date(2026, 10, 26), 3
TABLE_SECTIONS = {RECONCILIATION[0], CHECKS[0], CROSSCHECK[0]}  # findings in tables, no chart
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
    "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> PipelineRun:
    """The real job over 3 simulated days; the dashboard lands beside the published file."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.delenv("DAGSTER_HOME", raising=False)
        monkeypatch.delenv("DASHBOARD_PATH", raising=False)
        pipeline = PipelineRun(monkeypatch, tmp_path_factory.mktemp("dashboard"))
        outcome = pipeline.run(load_fleet(seed=7, start=START, days=DAYS),
                               START, date.fromordinal(START.toordinal() + DAYS))
        assert outcome.exit_code in (0, 2), outcome.lines
        yield pipeline


@pytest.fixture(scope="module")
def dashboard(run) -> Path:
    path = run.published.with_name("dashboard.html")
    assert path.exists(), "the report asset did not write dashboard.html beside the published file"
    return path


@pytest.fixture(scope="module")
def browser(dashboard, tmp_path_factory) -> dict:
    """Load the dashboard in headless Chromium: the DOM it built, its log, and a screenshot."""
    binary = chromium_path()
    if binary is None:
        pytest.skip("no Chromium found (apt-get install chromium; CI installs it): the browser checks need one")
    profile = tmp_path_factory.mktemp("chromium-profile")
    url = dashboard.as_uri()
    base = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0"]
    dom = subprocess.run([*base, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "dashboard.png"
    shot.unlink(missing_ok=True)
    snap = subprocess.run([*base, "--window-size=1280,7200", f"--screenshot={shot}", url],
                          capture_output=True, text=True, timeout=120)
    assert snap.returncode == 0 and shot.exists(), snap.stderr[-2000:]
    if os.environ.get("INVOICE_TRUE_UPDATE_SCREENSHOT"):  # the README's picture: the top of the page
        subprocess.run([*base, "--window-size=1280,1500", f"--screenshot={README_SCREENSHOT}", url],
                       capture_output=True, text=True, timeout=120, check=True)
    return {"dom": dom.stdout, "log": dom.stderr + snap.stderr, "screenshot": shot}


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Marks(HTMLParser):
    """Every element of class `mark`, with its attributes and the section it is drawn in."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, str | None]] = []  # open elements, with the section each is in
        self.marks: list[dict[str, str]] = []
        self.references: list[str] = []
        self.tags: Counter[str] = Counter()

    def handle_starttag(self, tag, attrs):
        a = {name: value or "" for name, value in attrs}
        self.tags[tag] += 1
        section = a.get("data-section") or (self.stack[-1][1] if self.stack else None)
        if "mark" in a.get("class", "").split():
            self.marks.append({**a, "tag": tag, "section": section})
        self.references += [a[n] for n in ("src", "href", "xlink:href", "action", "srcset", "poster") if a.get(n)]
        if tag not in VOID:
            self.stack.append((tag, section))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break


def parse(dom: str) -> Marks:
    parser = Marks()
    parser.feed(dom)
    return parser


def query(run: PipelineRun, sql: str, params: list | None = None) -> list[dict]:
    return run.query(sql, params)


def test_the_page_loads_without_a_console_message(browser):
    console = [line for line in browser["log"].splitlines() if ":CONSOLE" in line or "Uncaught" in line]
    assert console == []


def test_nothing_outside_the_file_is_referenced(dashboard, browser):
    dom = parse(browser["dom"])
    assert all(ref.startswith("#") for ref in dom.references), dom.references
    assert not {"script", "link", "img", "iframe", "object", "embed", "image", "use"} & set(dom.tags)
    text = dashboard.read_text()
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", text, re.I)
    assert "url(" not in text and "@import" not in text
    assert "default-src 'none'" in text  # the page's CSP forbids any load the checks above might miss


def test_the_fleet_tells_the_demo_story(run):
    verdicts = {r["verdict"] for r in query(run, "SELECT verdict FROM marts.band_check")}
    crossover = {r["tier"]: r["verdict"] for r in query(run, "SELECT tier, verdict FROM marts.crossover")}
    assert "in_band" in verdicts
    assert crossover == {"h100-class": "self_host_cheaper", "h100-ondemand": "gateway_cheaper",
                         "l40s-class": "gateway_cheaper"}


def test_every_section_draws_marks(browser, run):
    marks = parse(browser["dom"]).marks
    per_section = Counter(m["section"] for m in marks)
    assert set(per_section) == {key for key, _ in SECTIONS} - TABLE_SECTIONS
    tier_days = query(run, "SELECT count(*) AS n FROM marts.cost_per_mtok_daily WHERE model = '*' AND usd_per_mtok IS NOT NULL")
    assert per_section["band"] == tier_days[0]["n"]
    (demand,) = query(run, "SELECT count(*) AS n FROM marts.demand_profile")
    assert per_section["demand"] == 2 * demand["n"]  # a median and a peak per tier-day
    assert min(per_section.values()) > 0, per_section


def test_incomplete_days_are_hollow_and_labelled(browser, run):
    marks = [m for m in parse(browser["dom"]).marks if m["section"] == "band"]
    incomplete = query(run, "SELECT tier, day FROM marts.cost_per_mtok_daily WHERE model = '*' AND NOT billing_complete")
    assert incomplete, "the 3-day fleet goes dark on its last day; the test needs an incomplete tier-day"
    for row in incomplete:
        (mark,) = [m for m in marks if m["data-tier"] == row["tier"] and m["data-day"] == str(row["day"])]
        assert "hollow" in mark["class"].split() and mark["fill"] == "#fff" and mark["data-complete"] == "false"
    assert all("hollow" not in m["class"] for m in marks if m["data-complete"] == "true")
    assert browser["dom"].count(">incomplete</text>") >= len(incomplete)


def test_a_tier_day_shows_the_marts_values(browser, run):
    marks = parse(browser["dom"]).marks
    by = defaultdict(list)
    for m in marks:
        by[(m["section"], m.get("data-tier"), m.get("data-day"))].append(m)
    for tier, day in (("h100-class", "2026-10-26"), ("h100-ondemand", "2026-10-28")):
        (daily,) = query(run, "SELECT d.usd_per_mtok, d.billing_complete, b.verdict FROM marts.cost_per_mtok_daily d "
                              "LEFT JOIN marts.band_check b USING (day, tier) WHERE d.model = '*' AND d.tier = ? AND d.day = ?",
                         [tier, day])
        (point,) = by[("band", tier, day)]
        assert Decimal(point["data-usd-per-mtok"]) == daily["usd_per_mtok"]
        assert point.get("data-verdict") == daily["verdict"]
        assert point["data-complete"] == str(daily["billing_complete"]).lower()
        (states,) = query(run, "SELECT sum(spend_serving) AS serving, sum(spend_idle) AS idle, sum(spend_waking) AS waking, "
                               "sum(spend_parked) AS parked FROM marts.resource_hourly WHERE tier = ? AND hour::DATE = ?",
                          [tier, day])
        bars = {m["data-state"]: Decimal(m["data-usd"]) for m in by[("spend", tier, day)]}
        assert bars == {state: value for state, value in states.items() if value > 0}
        (profile,) = query(run, "SELECT * FROM marts.demand_profile WHERE tier = ? AND day = ?", [tier, day])
        for m in by[("demand", tier, day)]:
            assert Decimal(m["data-median"]) == profile["median_hourly_tokens"]
            assert int(m["data-peak"]) == profile["peak_hourly_tokens"]
            assert Decimal(m["data-busy-fraction"]) == profile["busy_fraction"]


def test_the_crossover_shows_the_marts_values(browser, run):
    marks = [m for m in parse(browser["dom"]).marks if m["section"] == "crossover"]
    for row in query(run, "SELECT * FROM marts.crossover"):
        mine = [m for m in marks if m["data-tier"] == row["tier"]]
        options = {(m["tag"], m["data-option"]): Decimal(m["data-usd"]) for m in mine}
        assert options[("line", "self_hosted")] == row["self_hosted_monthly"]
        if row["verdict"] != "not_enough_data":
            assert options[("circle", "gateway")] == row["gateway_monthly"]
            assert {Decimal(m["data-utilisation"]) for m in mine if m["tag"] == "circle"} == {row["utilisation"]}
    assert "u* =" in browser["dom"] and "(example)" in browser["dom"]


def test_the_page_says_its_times_are_utc_and_carries_units(browser):
    dom = browser["dom"]
    assert "all dates and hours are UTC" in dom
    for unit in ("/Mtok", "$ per UTC day", "completion tokens per UTC hour", "$ per 30-day month", "resource-hours"):
        assert unit in dom, unit


def test_hovering_a_mark_shows_its_exact_values(dashboard, run):
    """Playwright drives the same chromium: the mouse over a band point reaches that point (nothing
    drawn over it) and its <title>, the browser's tooltip, holds the mart's exact values."""
    (row,) = query(run, "SELECT d.day, d.tier, d.spend, d.completion_tokens, d.usd_per_mtok, b.verdict "
                        "FROM marts.cost_per_mtok_daily d LEFT JOIN marts.band_check b USING (day, tier) "
                        "WHERE d.model = '*' AND d.tier = 'h100-class' AND d.day = ?", [START])
    with chromium_page(1280, 900) as page:
        requests, console = [], []
        page.on("request", lambda r: requests.append(r.url))
        page.on("console", lambda m: console.append(m.text))
        page.goto(dashboard.as_uri(), wait_until="load")
        point = page.locator(f'#band circle.mark[data-tier="h100-class"][data-day="{START}"]')
        point.hover()
        hovered = page.evaluate("""() => {
            const under = [...document.querySelectorAll(':hover')].pop();
            const title = under && under.querySelector(':scope > title');
            return {tag: under && under.tagName, title: title && title.textContent}; }""")
    assert hovered["tag"] == "circle", hovered
    title = hovered["title"]
    assert title.startswith(f"{START} h100-class: ${row['usd_per_mtok']}/Mtok, "), title
    assert f"{row['completion_tokens']:,} tokens" in title and f"spend ${row['spend']:,f}" in title
    assert row["verdict"].replace("_", " ") in title
    assert requests == [dashboard.as_uri()] and console == []  # the page itself, nothing else


def test_a_screenshot_is_kept(browser):
    png = browser["screenshot"].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000


def test_a_file_without_days_or_report_marts_still_renders(tmp_path):
    """Absent tables (report marts not built, no quarantine, no reconciliation) and no day at all."""
    from dashboards import render_dashboard
    from pipelines.sql_files import run_sql_file

    bare = tmp_path / "bare.duckdb"
    with duckdb.connect(str(bare)) as con:
        run_sql_file(con, "schema/marts.sql")
    html = render_dashboard(bare, tmp_path / "bare.html").path.read_text()
    assert "marts.crossover is not in this file yet" in html and "marts.demand_profile is not in this file yet" in html
    assert "no published day yet" in html and "table missing" in html and "is not in this file" in html

    empty = tmp_path / "empty.duckdb"
    with duckdb.connect(str(empty)) as con:  # a published file of a run that stored no day yet
        from pipelines.lake import Lake
        from pipelines.lake_views import attach_views

        ensure_schema(con)
        run_sql_file(con, "schema/reports.sql")
        attach_views(con, Lake(tmp_path / "lake"))
    html = render_dashboard(empty, tmp_path / "empty.html").path.read_text()
    assert "No published day to judge yet" in html and "0 rows quarantined" in html
