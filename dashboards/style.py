"""The page's inline stylesheet (colours of marks: `dashboards.palette`)."""

from __future__ import annotations

from dashboards.palette import BAD, CAUTION, GOOD, NEUTRAL

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

# Verdict words in tables take the verdict family's colours (dashboards.palette).
CSS += f"""
td.v-good, span.v-good {{ color: {GOOD}; font-weight: 600; }}
td.v-bad, span.v-bad {{ color: {BAD}; font-weight: 600; }}
td.v-caution, span.v-caution {{ color: {CAUTION}; font-weight: 600; }}
td.v-neutral, span.v-neutral {{ color: {NEUTRAL}; }}
td.wrap {{ white-space: normal; text-align: left; max-width: 420px; }}
details {{ margin: 4px 0; }}
details summary {{ cursor: pointer; }}
pre {{ background: var(--panel); border: 1px solid var(--rule); padding: 6px 8px; overflow-x: auto; font-size: 12px; }}
"""
