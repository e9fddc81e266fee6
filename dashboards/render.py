"""Render the self-contained HTML dashboard from a published DuckDB file.

One file, no network: styles inline, charts as inline SVG, tooltips as SVG <title>, no script.
The file is written beside its final name and renamed over it, so a browser reloading it never
reads half a page.

    python -m dashboards var/demo/invoice_true.duckdb [var/demo/dashboard.html]
"""

from __future__ import annotations

import os
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from html import escape
from pathlib import Path

import duckdb

from dashboards import data as queries
from dashboards import fmt
from dashboards.html import kpi
from dashboards.sections import RENDERERS, SECTIONS
from dashboards.style import CSS

DEFAULT_BAND = (Decimal("0.30"), Decimal("0.70"))


@dataclass(frozen=True)
class Rendered:
    path: Path
    bytes: int
    days: tuple[str, str] | None
    sections: tuple[str, ...]


def dashboard_path_for(published: Path, env: dict[str, str] | None = None) -> Path:
    """DASHBOARD_PATH if set, else `dashboard.html` beside the published DuckDB file."""
    configured = (os.environ if env is None else env).get("DASHBOARD_PATH")
    return Path(configured).expanduser().resolve() if configured else published.with_name("dashboard.html")


def render_html(data: queries.DashboardData, source: Path, generated_at: datetime) -> str:
    body = "".join(render(data) for render in RENDERERS)
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        f"<title>invoice-true — what a million output tokens cost</title><style>{CSS}</style></head>"
        f"<body><main>{header(data, source, generated_at)}{body}{footer(source)}</main></body></html>"
    )


def header(data: queries.DashboardData, source: Path, generated_at: datetime) -> str:
    days = data.days
    span = f"UTC days {days[0]} to {days[-1]} ({len(days)} day(s))" if days else "no published day yet"
    total_spend = sum((r["spend"] for r in data.tier_days), Decimal(0))
    total_tokens = sum(r["completion_tokens"] for r in data.tier_days)
    incomplete = sum(1 for r in data.tier_days if not r["billing_complete"])
    kpis = [
        kpi(fmt.usd(total_spend), "spend, every tier"),
        kpi(fmt.tokens(total_tokens), "completion tokens"),
        kpi(fmt.usd_per_mtok(total_spend * 1_000_000 / total_tokens) if total_tokens else fmt.DASH, "fleet-wide"),
        kpi(f"{incomplete}", "tier-day(s) with incomplete billing"),
    ]
    nav = "".join(f'<a href="#{key}">{escape(title)}</a>' for key, title in SECTIONS)
    return (
        "<header><h1>invoice-true: what a million output tokens really cost</h1>"
        f"<p>{escape(span)} · all dates and hours are UTC · generated {escape(fmt.utc(generated_at))}</p>"
        f"<p>Spend is the difference of the provider's cumulative bills, never rate × time. Source: "
        f"<code>{escape(str(source))}</code></p>"
        f'<div class="kpis">{"".join(kpis)}</div><nav>{nav}</nav></header>'
    )


def footer(source: Path) -> str:
    return (
        "<footer>Every figure here is a published mart of the DuckDB file above; open it read-only from any SQL tool, "
        f"e.g. <code>duckdb -readonly {escape(str(source))}</code>. Money in the billing currency (USD), "
        "Mtok = one million completion (output) tokens.</footer>"
    )


def load(published: Path, band: tuple[Decimal, Decimal]) -> queries.DashboardData:
    with duckdb.connect(str(published), read_only=True) as con:
        return queries.load(con, band)


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        staging.write_text(text, encoding="utf-8")
        os.replace(staging, path)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise


def render_dashboard(
    published: Path,
    out: Path | None = None,
    *,
    band: tuple[Decimal, Decimal] = DEFAULT_BAND,
    data: queries.DashboardData | None = None,
    generated_at: datetime | None = None,
) -> Rendered:
    """Render the dashboard of `published` (read-only) to `out` (default: `dashboard_path_for`).

    The page names the file as given, so a relative path stays relative."""
    published = Path(published)
    out = Path(out) if out else dashboard_path_for(published.resolve())
    data = data or load(published, band)
    html_text = render_html(data, published, generated_at or datetime.now(timezone.utc))
    write_atomically(out, html_text)
    days = data.days
    return Rendered(out, len(html_text.encode()), (str(days[0]), str(days[-1])) if days else None,
                    tuple(key for key, _ in SECTIONS))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or len(args) > 2:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 1
    rendered = render_dashboard(Path(args[0]), Path(args[1]) if len(args) > 1 else None)
    print(rendered.path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
