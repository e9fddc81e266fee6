"""The sections that say whether the figures hold: the month's invoice reconciliation, the checks'
latest results, and the token cross-check. Each row is a finding someone acts on, so these are
tables; money is shown to the cent with the published value (9 decimals) on hover.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from html import escape

from dashboards import fmt
from dashboards.data import DashboardData, Row
from dashboards.html import exact_cell, kpi, paragraph, section, table
from dashboards.palette import RECONCILIATION_FAMILY, check_family

RECONCILIATION = ("reconciliation", "Invoice reconciliation")
CHECKS = ("checks", "Checks")
CROSSCHECK = ("crosscheck", "Token cross-check")
USAGE_STATUSES = tuple(RECONCILIATION_FAMILY)  # the rest (credit, tax, ...) are charges apart
FLAGGED_SHOWN = 50


def money(value) -> tuple:
    return exact_cell(fmt.usd(value), fmt.usd_exact(value))


def status_cell(status: str) -> tuple[str, str]:
    return status.replace("_", " "), f"text v-{RECONCILIATION_FAMILY.get(status, 'neutral')}"


# -- invoice reconciliation -------------------------------------------------------------------------
def reconciliation(data: DashboardData) -> str:
    key, title = RECONCILIATION
    lede = ("The provider's invoice beside the snapshot spend, per resource and billing period: reconciled within "
            "max(0.5 %, $0.01); variance = invoiced − snapshot spend. Credits, taxes, adjustments and purchases are "
            "listed apart and never folded into a resource's variance.")
    if data.reconciliation is None:
        return section(key, title, lede, [paragraph(
            "marts.invoice_reconciliation is not in this file: the monthly invoices job has not run here.")])
    if not data.reconciliation:
        return section(key, title, lede, [paragraph("No billing period imported yet.")])
    latest = data.reconciliation_latest or []
    period = latest[0]["billing_period"] if latest else data.reconciliation[-1]["billing_period"]
    resources = [r for r in latest if r["status"] in USAGE_STATUSES]
    apart = [r for r in latest if r["status"] not in USAGE_STATUSES]
    return section(key, title, lede, [
        _period_kpis(period, resources, apart),
        table(["resource", ("status", "text"), "snapshot spend", "invoiced", "variance", "variance %"],
              [[r["resource_id"], status_cell(r["status"]), money(r["snapshot_spend"]), money(r["invoiced_cost"]),
                money(r["variance"]), exact_cell(fmt.pct(r["variance_pct"], 2), fmt.pct_exact(r["variance_pct"]))]
               for r in resources],
              caption=f"billing period {period}: each resource, worst first", data_period=period),
        table(["resource", ("charge", "text"), "invoiced"],
              [[r["resource_id"], status_cell(r["status"]), money(r["invoiced_cost"])] for r in apart],
              caption=f"billing period {period}: credits, taxes and other charges, apart from any variance")
        if apart else paragraph(f"Billing period {period}: no credit, tax, adjustment or purchase."),
        table(["billing period", ("status", "text"), "rows", "snapshot spend", "invoiced", "variance"],
              [[r["billing_period"], status_cell(r["status"]), f"{r['rows']:,}", money(r["snapshot_spend"]),
                money(r["invoiced_cost"]), money(r["variance"])] for r in data.reconciliation],
              caption="every billing period in the file"),
    ])


def _period_kpis(period: str, resources: list[Row], apart: list[Row]) -> str:
    def total(rows: list[Row], column: str) -> Decimal:
        return sum((r[column] for r in rows if r[column] is not None), Decimal(0))

    off = sum(1 for r in resources if r["status"] != "reconciled")
    kpis = [
        kpi(f"{len(resources) - off} of {len(resources)}", f"resources reconciled in {period}"),
        kpi(fmt.usd(total(resources, "invoiced_cost")), "invoiced usage"),
        kpi(fmt.usd(total(resources, "snapshot_spend")), "snapshot spend"),
        kpi(fmt.usd(total(resources, "variance")), "variance, all resources"),
        kpi(fmt.usd(total(apart, "invoiced_cost")), "credits, taxes and other charges"),
    ]
    return f'<div class="kpis">{"".join(kpis)}</div>'


# -- checks -----------------------------------------------------------------------------------------
def checks(data: DashboardData) -> str:
    key, title = CHECKS
    lede = ("The latest result of each check on the sources and marts: what it expects, how many rows broke it, and "
            "the SQL that lists them from this file. ERROR checks block the run's downstream steps; WARN checks flag.")
    if not data.checks:
        where = "is empty" if data.checks is not None else "is not in this file"
        return section(key, title, lede, [paragraph(f"No check results published yet (marts.check_results {where}).")])
    runs = data.check_runs or {}
    failed = [c for c in data.checks if c["passed"] is False]
    kpis = [kpi(f"{sum(1 for c in data.checks if c['passed'])} of {len(data.checks)}", "checks passed"),
            kpi(f"{sum(1 for c in failed if check_family(False, c['severity']) == 'bad')}", "failed, blocking (ERROR)"),
            kpi(f"{sum(1 for c in failed if check_family(False, c['severity']) == 'caution')}", "failed, warning"),
            kpi(f"{runs.get('runs', 0):,} run(s)", f"last checked {fmt.utc_exact(runs.get('last_checked_at'))}")]
    rows = [[c["asset"], (c["check_name"], "text"), (c["severity"] or fmt.DASH, "text"), _result(c),
             fmt.number_exact(c["failing_rows"]), (c["expectation"] or fmt.DASH, "wrap"),
             fmt.utc_exact(c["checked_at"]), exact_cell(str(c["run_id"])[:8], str(c["run_id"]))]
            for c in data.checks]
    return section(key, title, lede, [
        f'<div class="kpis">{"".join(kpis)}</div>',
        table(["asset", ("check", "text"), ("severity", "text"), ("result", "text"), "failing rows", ("expectation", "text"),
               "checked at (UTC)", "run"], rows, caption="marts.check_results: the latest row of each check"),
        "".join(_failure(c) for c in failed),
    ])


def _result(c: Row) -> tuple[str, str]:
    label = {None: "not evaluated", True: "passed", False: "failed"}[c["passed"]]
    return label, f"text v-{check_family(c['passed'], c['severity'])}"


def _failure(c: Row) -> str:
    examples = (f"<p class=\"note\">examples (up to three):</p><pre>{escape(str(c['examples']))}</pre>"
                if c["examples"] else "")
    query = (f"<p class=\"note\">the failing rows, from this file:</p><pre>{escape(str(c['query']))}</pre>"
             if c["query"] else "")
    return (f"<details data-check=\"{escape(c['check_name'], quote=True)}\"><summary>{escape(c['asset'])} · "
            f"{escape(c['check_name'])}: {escape(fmt.number_exact(c['failing_rows']))} failing row(s)</summary>"
            f"{examples}{query}</details>")


# -- token cross-check ------------------------------------------------------------------------------
def crosscheck(data: DashboardData) -> str:
    key, title = CROSSCHECK
    bound = fmt.pct_points_exact(-data.max_miss_pct)
    lede = ("Completion tokens the request logs hold beside the tokens the replicas' engines counted "
            f"(vllm:generation_tokens_total), per resource and UTC hour. Below {bound} the logs lost usage rows, "
            "and every $/Mtok of that hour reads too high.")
    if not data.crosscheck:  # the table is always there; a [crosscheck] source fills it
        return section(key, title, lede, [paragraph(
            "marts.token_crosscheck holds no resource-hour: no Prometheus cross-check is configured for this "
            "fleet ([crosscheck] in the configuration file), or it has counted nothing yet.")])
    summary = [[r["resource_id"], fmt.number_exact(r["hours"]), fmt.number_exact(r["judged_hours"]),
                fmt.number_exact(r["logged_tokens"]), fmt.number_exact(r["counted_tokens"]),
                fmt.number_exact(r["logged_tokens"] - r["counted_tokens"]),
                fmt.pct_points_exact(_difference_pct(r["logged_tokens"], r["counted_tokens"])),
                fmt.pct_points_exact(r["worst_difference_pct"]),
                (fmt.number_exact(r["flagged_hours"]), "v-bad" if r["flagged_hours"] else "v-good")]
               for r in data.crosscheck]
    flagged = data.crosscheck_flagged or []
    parts = [table(["resource", "hours", "judged hours", "logged tokens", "counted tokens", "difference",
                    "difference %", "worst hour", f"hours below {bound}"], summary,
                   caption="judged hours: the engines counted at least one token")]
    if flagged:
        parts.append(table(
            ["hour (UTC)", ("resource", "text"), "logged tokens", "counted tokens", "difference", "difference %"],
            [[fmt.utc(r["hour"]), (r["resource_id"], "text"), fmt.number_exact(r["logged_tokens"]),
              fmt.number_exact(r["counted_tokens"]), fmt.number_exact(r["difference"]),
              (fmt.pct_points_exact(r["difference_pct"]), "v-bad")] for r in flagged[:FLAGGED_SHOWN]],
            caption=f"resource-hours where the logs miss more than {fmt.pct_points_exact(data.max_miss_pct)} "
                    "of the engines' count, worst first" + (f" (the first {FLAGGED_SHOWN} of {len(flagged):,})"
                                                             if len(flagged) > FLAGGED_SHOWN else ""),
            data_flagged=len(flagged)))
    else:
        parts.append(paragraph(f"No resource-hour where the logs miss more than "
                               f"{fmt.pct_points_exact(data.max_miss_pct)} of the engines' count."))
    return section(key, title, lede, parts)


def _difference_pct(logged: int, counted: int) -> Decimal | None:
    """As the mart rounds it: 100 × (logged − counted) ÷ counted, half away from zero, 9 decimals."""
    if not counted:
        return None
    return (Decimal(100 * (logged - counted)) / Decimal(counted)).quantize(Decimal("1e-9"), ROUND_HALF_UP)
