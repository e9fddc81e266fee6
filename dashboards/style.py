"""Colours (Okabe-Ito, safe for colour-blind readers) and the page's inline stylesheet."""

from __future__ import annotations

TIER_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")

VERDICT_COLOURS = {
    "in_band": "#009E73",
    "above_band": "#D55E00",
    "below_band": "#CC79A7",
    "not_applicable": "#8c8c8c",
}
STATE_COLOURS = {"serving": "#0072B2", "idle": "#E69F00", "waking": "#CC79A7", "parked": "#9a9a9a"}
CROSSOVER_COLOURS = {"self_hosted": "#0072B2", "gateway": "#D55E00"}
CROSSOVER_VERDICTS = {
    "self_host_cheaper": ("self-hosting is cheaper", "#009E73"),
    "gateway_cheaper": ("the gateway is cheaper", "#D55E00"),
    "not_enough_data": ("not enough data", "#8c8c8c"),
}
GAP_COLOUR = "#D55E00"
RESET_COLOUR = "#0072B2"
BAND_FILL = "#009E73"


def tier_colours(tiers: list[str]) -> dict[str, str]:
    return {tier: TIER_COLOURS[i % len(TIER_COLOURS)] for i, tier in enumerate(sorted(tiers))}


CSS = """
:root { --ink: #1d1d1f; --muted: #5f6368; --rule: #dadce0; --panel: #f8f9fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue",
       Arial, sans-serif; color: var(--ink); background: #fff; }
main { max-width: 1220px; margin: 0 auto; padding: 16px 24px 48px; }
header h1 { font-size: 22px; margin: 8px 0 2px; }
header p { margin: 2px 0; color: var(--muted); }
nav { margin: 10px 0 4px; display: flex; flex-wrap: wrap; gap: 6px 14px; }
nav a { color: #0b57d0; text-decoration: none; }
section { border-top: 1px solid var(--rule); margin-top: 26px; padding-top: 6px; }
h2 { font-size: 18px; margin: 10px 0 2px; }
h3 { font-size: 14px; margin: 8px 0 2px; }
p.lede { margin: 2px 0 10px; color: var(--muted); max-width: 900px; }
.panels { display: grid; grid-template-columns: repeat(auto-fit, minmax(360px, 1fr)); gap: 14px; }
.panel { background: var(--panel); border: 1px solid var(--rule); border-radius: 6px; padding: 8px 10px; }
.kpis { display: flex; flex-wrap: wrap; gap: 10px; margin: 10px 0; }
.kpi { background: var(--panel); border: 1px solid var(--rule); border-radius: 6px; padding: 6px 12px; min-width: 170px; }
.kpi b { display: block; font-size: 17px; }
.kpi span { color: var(--muted); font-size: 12px; }
svg { max-width: 100%; height: auto; display: block; }
svg text { font: 11px -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, Arial, sans-serif; fill: var(--ink); }
svg .tick { fill: var(--muted); }
svg .axis-label { fill: var(--muted); font-weight: 600; }
svg .grid { stroke: #e8eaed; stroke-width: 1; }
svg .legend { fill: var(--ink); }
svg .band-label { fill: #00704f; font-weight: 600; }
svg .incomplete-label { fill: #b3261e; font-weight: 600; font-size: 10px; }
svg .value-label { fill: var(--ink); font-size: 10px; }
svg .mark:hover { opacity: 0.75; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border-bottom: 1px solid var(--rule); padding: 3px 10px 3px 0; text-align: right; white-space: nowrap; }
th { color: var(--muted); font-weight: 600; }
th:first-child, td:first-child, td.text, th.text { text-align: left; }
td.incomplete { color: #b3261e; font-style: italic; }
.badge { display: inline-block; padding: 0 6px; border-radius: 9px; color: #fff; font-size: 12px; }
.note { color: var(--muted); font-size: 12px; }
.warn { color: #b3261e; }
.scroll { overflow-x: auto; }
footer { margin-top: 30px; color: var(--muted); font-size: 12px; }
"""
