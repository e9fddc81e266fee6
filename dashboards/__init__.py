"""The HTML dashboard written after each run, next to the published DuckDB file (DESIGN.md).

`render_dashboard(published, out)` reads the published file read-only and writes one self-contained
page: inline CSS, charts as inline SVG drawn in Python (`dashboards.svg`, `dashboards.charts`), one
function per section (`dashboards.sections`), no script and no network.
"""

from dashboards.render import Rendered, dashboard_path_for, render_dashboard

__all__ = ["Rendered", "dashboard_path_for", "render_dashboard"]
