"""The dashboard's sections, one function each: a title, one line on how to read it, charts, tables."""

from __future__ import annotations

from collections import defaultdict

from dashboards import audit, charts, fmt
from dashboards import tooltips as tip
from dashboards.data import DashboardData, Row
from dashboards.html import badge, exact_cell, kpi, panel, paragraph, section, table
from dashboards.palette import CROSSOVER_VERDICTS, tier_colours

SECTIONS = (
    ("band", "Realised $/Mtok per tier and day"),
    ("utilisation", "The utilisation curve"),
    ("spend", "Where the money went"),
    ("models", "Per model"),
    ("crossover", "Build or buy: the crossover"),
    ("demand", "Demand: peak against median"),
    ("health", "Data health"),
    audit.RECONCILIATION,
    audit.CHECKS,
    audit.CROSSCHECK,
)


def band(data: DashboardData) -> str:
    colours = tier_colours(data.tiers)
    days = data.days
    cells = {(r["tier"], r["day"]): r for r in data.tier_days}
    rows = []
    for tier in data.tiers:
        row = [tier]
        for day in days:
            r = cells.get((tier, day))
            row.append(_band_cell(r))
        rows.append(row)
    lede = (f"Spend ÷ completion tokens × 10⁶ for each tier and UTC day, on a log scale, against the published "
            f"{fmt.usd(data.band[0])}–{fmt.usd(data.band[1])} band (shaded). Points of the band's tiers are coloured "
            "by their verdict; a day whose billing went dark is drawn hollow and labelled incomplete: it is what "
            "was observed, never a clean figure.")
    return section("band", SECTIONS[0][1], lede, [
        charts.band_chart(data.tier_days, colours, data.band),
        table(["tier"] + [f"{fmt.day(d)}" for d in days], rows, caption="$/Mtok per UTC day; verdicts for the band's tiers"),
    ])


def _band_cell(r: Row | None):
    if r is None:
        return fmt.DASH
    value = fmt.usd_per_mtok(r["usd_per_mtok"])
    if r["verdict"]:
        value += f" · {r['verdict'].replace('_', ' ')}"
    if not r["billing_complete"]:
        return exact_cell(value + " · incomplete", tip.band_point(r), "incomplete")
    return exact_cell(value, tip.band_point(r))


def utilisation(data: DashboardData) -> str:
    colours = tier_colours(data.tiers or [r["tier"] for r in data.idle_curve])
    by_tier = defaultdict(dict)
    for r in data.idle_curve:
        by_tier[r["tier"]][r["idle_bucket"]] = r
    rows = [[tier] + [_curve_cell(tier, b["label"], by_tier[tier].get(b["idle_bucket"])) for b in data.idle_buckets]
            for tier in sorted(by_tier)]
    lede = ("Every resource-hour that ran, grouped by its idle fraction (idle ÷ running seconds): what a million "
            "output tokens cost at each level of idleness, over every published hour. The band is a claim about "
            "the left-hand buckets.")
    return section("utilisation", SECTIONS[1][1], lede, [
        charts.idle_curve_chart(data.idle_curve, data.idle_buckets, colours, data.band),
        table(["tier"] + [f"idle {b['label']}" for b in data.idle_buckets], rows,
              caption="$/Mtok (resource-hours) per idle-fraction bucket"),
    ])


def _curve_cell(tier: str, label: str, r: Row | None):
    if r is None:
        return fmt.DASH
    value = fmt.usd_per_mtok(r["usd_per_mtok"]) if r["usd_per_mtok"] is not None else "no tokens"
    return exact_cell(f"{value} ({r['resource_hours']:,} h)", tip.idle_point(tier, label, r))


def spend(data: DashboardData) -> str:
    days = data.days or sorted({r["day"] for r in data.spend_by_state})
    by_tier = defaultdict(list)
    for r in data.spend_by_state:
        by_tier[r["tier"]].append(r)
    panels = [panel(f"{tier}: {fmt.usd(sum(r['spend'] for r in rows))} over {len(rows)} day(s)",
                    [charts.spend_chart(tier, rows, days)], data_tier=tier)
              for tier, rows in sorted(by_tier.items())]
    rows = []
    for tier, tier_rows in sorted(by_tier.items()):
        total = sum(r["spend"] for r in tier_rows)
        rows.append([tier, fmt.usd(total)] + [
            f"{fmt.usd(sum(r[s] for r in tier_rows))} ({fmt.pct(sum(r[s] for r in tier_rows) / total if total else None)})"
            for s in charts.STATES])
    lede = ("Each day's spend per tier split by what the GPUs were doing: serving requests, idle but running, "
            "waking from hibernation (GPU minutes for zero tokens), or parked (storage cents). Bars of a day with "
            "incomplete billing are pale, outlined and labelled.")
    return section("spend", SECTIONS[2][1], lede, [
        f'<div class="panels">{"".join(panels)}</div>',
        table(["tier", "spend", "serving", "idle", "waking", "parked"], rows, caption="over every published UTC day"),
    ])


def models(data: DashboardData) -> str:
    colours = tier_colours(data.tiers or [m["tier"] for m in data.models])
    rows = [[m["tier"], (m["model"], "text"), exact_cell(fmt.usd(m["spend"]), fmt.usd_exact(m["spend"])),
             exact_cell(fmt.tokens(m["completion_tokens"]), fmt.number_exact(m["completion_tokens"])),
             f"{m['requests']:,}",
             exact_cell(fmt.usd_per_mtok(m["usd_per_mtok"]), fmt.usd_per_mtok_exact(m["usd_per_mtok"])),
             (f"{m['incomplete_days']} incomplete", "incomplete") if m["incomplete_days"] else "complete"]
            for m in data.models]
    lede = ("Each replica-day's spend shared among the models it served by completion-token share; "
            "__unallocated__ is the spend of replica-days that served no token. Over every published UTC day.")
    return section("models", SECTIONS[3][1], lede, [
        charts.model_bars(data.models, colours),
        table(["tier", ("model", "text"), "spend", "completion tokens", "requests", "$/Mtok", "billing"], rows),
    ])


def crossover(data: DashboardData) -> str:
    title = SECTIONS[4][1]
    if data.crossover is None:
        return section("crossover", title, "marts.crossover is not in this file yet.", [])
    if not data.crossover:
        return section("crossover", title, "No published day to judge yet.", [])
    colours = tier_colours(data.tiers or [r["tier"] for r in data.crossover])
    first = data.crossover[0]
    lede = (f"Per tier over the trailing 30 UTC days ending {first['window_last_day']} ({first['note'].split(';')[0]}): "
            "today's utilisation u beside the break-even u* at which self-hosting costs what a per-token gateway "
            "would, and the monthly cost each way at today's volume. The gateway price p and the ops labour L are "
            "configured examples, not facts: replace them with your own quote and staffing.")
    panels = [panel(r["tier"], [_crossover_figures(r), charts.crossover_chart(r, colours[r["tier"]])], data_tier=r["tier"])
              for r in data.crossover]
    rows = [[r["tier"], fmt.pct(r["utilisation"]), fmt.pct(r["breakeven_utilisation"]), fmt.usd(r["self_hosted_monthly"]),
             fmt.usd(r["gateway_monthly"]), fmt.usd_per_mtok(r["usd_per_mtok"]), fmt.usd_per_mtok(r["gateway_usd_per_mtok"]),
             f"{fmt.usd(r['ops_labour_monthly'])} ({float(r['ops_hours_per_month']):g} h × {fmt.usd(r['ops_usd_per_hour'])}/h)",
             f"{fmt.tokens(r['tokens_per_busy_hour'])}/busy h", r["verdict"].replace("_", " ")]
            for r in data.crossover]
    return section("crossover", title, lede, [
        f'<div class="panels">{"".join(panels)}</div>',
        table(["tier", "u", "u*", "self-hosted / month", "gateway / month", "realised $/Mtok", "gateway p (example)",
               "ops labour L (example)", "k", "verdict"], rows,
              caption="k = completion tokens per busy hour; money per 30-day month at today's volume"),
    ])


def _crossover_figures(r: Row) -> str:
    label, colour = CROSSOVER_VERDICTS.get(r["verdict"], (r["verdict"], "#8c8c8c"))
    beyond = (r["breakeven_utilisation"] is not None and r["breakeven_utilisation"] > 1)
    lines = [
        f"<p>{badge(label, colour)} u = <b>{fmt.pct(r['utilisation'])}</b>, u* = <b>{fmt.pct(r['breakeven_utilisation'])}</b>"
        + (" <span class=\"warn\">(above 100 %: no utilisation makes this fleet cheaper)</span>" if beyond else "") + "</p>",
        f"<p>self-hosted <b>{fmt.usd(r['self_hosted_monthly'])}</b>/month (rent {fmt.usd(r['spend_monthly'])} + "
        f"ops {fmt.usd(r['ops_labour_monthly'])}) · gateway <b>{fmt.usd(r['gateway_monthly'])}</b>/month "
        f"({fmt.tokens(r['completion_tokens_monthly'])} tokens × {fmt.usd_per_mtok(r['gateway_usd_per_mtok'])})</p>",
    ]
    lines.append(paragraph(r["note"], "note warn" if not r["billing_complete"] else "note"))
    return "".join(lines)


def demand(data: DashboardData) -> str:
    title = SECTIONS[5][1]
    if data.demand is None:
        return section("demand", title, "marts.demand_profile is not in this file yet.", [])
    colours = tier_colours(data.tiers or [r["tier"] for r in data.demand])
    days = sorted({r["day"] for r in data.demand})
    by_tier = defaultdict(list)
    for r in data.demand:
        by_tier[r["tier"]].append(r)
    panels = [panel(tier, [charts.demand_chart(tier, rows, days, colours[tier])], data_tier=tier)
              for tier, rows in sorted(by_tier.items())]
    rows = [[r["tier"], fmt.day(r["day"]), fmt.tokens(r["completion_tokens"]), fmt.tokens(r["median_hourly_tokens"]),
             fmt.tokens(r["p95_hourly_tokens"]), fmt.tokens(r["peak_hourly_tokens"]),
             fmt.utc(r["peak_hour"]) if r["peak_hour"] else fmt.DASH, fmt.ratio(r["peak_to_median"]),
             fmt.pct(r["busy_fraction"]),
             "complete" if r["billing_complete"] else ("incomplete", "incomplete")]
            for r in data.demand]
    lede = ("The 24 hourly completion-token totals of each UTC day per tier (hours without a token count as 0): "
            "the median, the 95th percentile and the peak. A high peak ÷ median is capacity held for bursts; "
            "busy fraction is busy ÷ running seconds.")
    return section("demand", title, lede, [
        f'<div class="panels">{"".join(panels)}</div>',
        table(["tier", "UTC day", "tokens", "median / h", "p95 / h", "peak / h", "peak hour", "peak ÷ median",
               "busy fraction", "billing"], rows),
    ])


def health(data: DashboardData) -> str:
    dark_s = sum(float(g["seconds"] or 0) for g in data.gaps)
    open_gaps = sum(1 for g in data.gaps if g["gap_end"] is None)
    incomplete = [r for r in data.tier_days if not r["billing_complete"]]
    quarantined = sum(c or 0 for c in data.quarantine.values())
    kpis = [
        kpi(f"{len(data.gaps)} gap(s)", f"billing dark {fmt.duration(dark_s)}" + (f", {open_gaps} still open" if open_gaps else "")),
        kpi(f"{len(incomplete)} tier-day(s)", "with incomplete billing"),
        kpi(f"{len(data.resets)} reset(s)", "of a cumulative bill"),
        kpi(f"{quarantined:,} row(s)", "quarantined across sources"),
        kpi(_reconciliation_headline(data), "invoice reconciliation"),
    ]
    parts = [f'<div class="kpis">{"".join(kpis)}</div>',
             charts.health_timeline(data.resources, data.gaps, data.resets, data.days) if data.resources and data.days else "",
             _gaps_table(data), _resets_table(data), charts.quarantine_bars(data.quarantine)]
    lede = ("Where the figures above are weaker than they look: billing that went dark (money still counted, hours "
            "flagged), resets of cumulative bills, and rows the sources sent that were quarantined. Times are UTC; "
            "the invoice, the checks and the token cross-check follow.")
    return section("health", SECTIONS[6][1], lede, parts)


def _gaps_table(data: DashboardData) -> str:
    if not data.gaps:
        return paragraph("No billing gap: every interval between samples was within max_sample_gap.")
    rows = [[g["resource_id"], g["tier"] or fmt.DASH, fmt.utc(g["gap_start"]), fmt.utc(g["gap_end"]), fmt.duration(g["seconds"])]
            for g in data.gaps]
    return table(["resource", "tier", "last sample before (UTC)", "first sample after (UTC)", "dark for"], rows,
                 caption="marts.observability_gaps")


def _resets_table(data: DashboardData) -> str:
    if not data.resets:
        return paragraph("No reset of a cumulative bill.")
    rows = [[r["resource_id"], fmt.utc(r["at"]), r["reason"].replace("_", " "), fmt.usd(r["previous_cumulative"], 6),
             fmt.usd(r["cumulative"], 6)] for r in data.resets]
    return table(["resource", "at (UTC)", "reason", "cumulative before", "cumulative at reset"], rows,
                 caption="marts.billing_resets")


def _reconciliation_headline(data: DashboardData) -> str:
    if data.reconciliation is None:
        return "not run"
    if not data.reconciliation:
        return "no invoice yet"
    bad = sum(r["rows"] for r in data.reconciliation if r["status"] in ("mismatch", "not_invoiced", "not_observed"))
    return "all reconciled" if not bad else f"{bad} resource(s) off"


RENDERERS = (band, utilisation, spend, models, crossover, demand, health, audit.reconciliation, audit.checks,
             audit.crosscheck)
