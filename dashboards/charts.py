"""The dashboard's charts, one function each, as inline SVG strings (see `dashboards.svg`).

Conventions: a complete figure is a filled mark; a figure from incomplete billing is drawn hollow
with a dashed outline and labelled "incomplete", never as a clean point. Marks carry the published
values in `data-` attributes (exact text, see `fmt.exact`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from dashboards import fmt
from dashboards import svg as s
from dashboards import tooltips as tip
from dashboards.data import Row
from dashboards.palette import (
    BAND_FILL, CROSSOVER_COLOURS, GAP_COLOUR, INK, RESET_COLOUR, STATE_COLOURS, VERDICT_COLOURS, WARN_TEXT,
    WATCHED_COLOUR,
)

WIDE, PANEL = 1160, 370
STATES = ("serving", "idle", "waking", "parked")
INCOMPLETE = "incomplete"


def _day_labels(days: Sequence[date], room: float) -> list[str]:
    """Every day's label when there is room, else every n-th (the others blank)."""
    every = max(1, int(60 // max(room, 1)) + (1 if room < 60 else 0))
    return [fmt.day(d) if i % every == 0 else "" for i, d in enumerate(days)]


def _band_strip(y: s.Log, band: tuple[Decimal, Decimal], left: float, right: float, label: str) -> str:
    low, high = (float(b) for b in band)
    top, bottom = y(high), y(low)
    return s.element("g", [
        s.element("rect", x=left, y=round(top, 1), width=right - left, height=round(bottom - top, 1),
                  fill=BAND_FILL, fill_opacity=0.14, class_="band"),
        s.text(right - 6, top - 4, label, class_="band-label", text_anchor="end"),
    ])


def _point(x: float, y: float, colour: str, fill: str, complete: bool, tip: str, data: dict, r: float = 5.5) -> str:
    if complete:
        return s.mark("circle", tip, data, cx=round(x, 1), cy=round(y, 1), r=r, fill=fill, stroke=colour, stroke_width=1.5)
    return s.mark("circle", tip, data, cx=round(x, 1), cy=round(y, 1), r=r, fill="#fff", stroke=colour,
                  stroke_width=2, stroke_dasharray="2 2", class_="hollow")


# -- 1. realised $/Mtok per tier and day, against the band --------------------------------------
def band_chart(tier_days: list[Row], colours: dict[str, str], band: tuple[Decimal, Decimal]) -> str:
    days = sorted({r["day"] for r in tier_days})
    height, left, right, top, bottom = 360, 70, WIDE - 20, 34, 310
    lo, hi = s.log_bounds([r["usd_per_mtok"] for r in tier_days] + [band[0], band[1]])
    y = s.Log(lo, hi, bottom, top)
    x = s.Bands(len(days), left, right)
    parts = [
        s.y_axis(y, y.ticks(), "$ per million output tokens (log scale)", left, right, fmt.usd_axis),
        _band_strip(y, band, left, right, f"published band {fmt.usd(band[0])}–{fmt.usd(band[1])}/Mtok"),
        s.x_labels(x, _day_labels(days, x.step), bottom + 18),
    ]
    for tier in sorted(colours):
        rows = [r for r in tier_days if r["tier"] == tier and r["usd_per_mtok"] is not None]
        points = [(x.center(days.index(r["day"])), y(r["usd_per_mtok"])) for r in rows]
        parts.append(s.element("polyline", points=s.polyline(points), fill="none", stroke=colours[tier],
                               stroke_width=1.5, stroke_opacity=0.6))
        for (px, py), r in zip(points, rows):
            parts.append(_band_point(px, py, r, colours[tier]))
    legend = [(t, c, "line") for t, c in sorted(colours.items())]
    legend += [(k.replace("_", " "), c, "circle") for k, c in VERDICT_COLOURS.items()]
    legend.append(("incomplete billing", INK, "hollow"))  # not red: red is a verdict here
    parts.append(s.legend(legend, left, height - 12, spacing=135))
    return s.svg(WIDE, height, parts, "Realised cost per million output tokens per tier and UTC day")


def _band_point(x: float, y: float, r: Row, colour: str) -> str:
    verdict = r["verdict"]
    fill = VERDICT_COLOURS.get(verdict, colour) if verdict else colour
    data = {"tier": r["tier"], "day": fmt.exact(r["day"]), "usd_per_mtok": fmt.exact(r["usd_per_mtok"]),
            "verdict": verdict, "complete": fmt.exact(r["billing_complete"])}
    point = _point(x, y, colour, fill, r["billing_complete"], tip.band_point(r), data)
    if r["billing_complete"]:
        return point
    return point + s.text(x, y - 10, INCOMPLETE, class_="incomplete-label", text_anchor="middle")


# -- 2. the utilisation curve -------------------------------------------------------------------
def idle_curve_chart(curve: list[Row], buckets: list[Row], colours: dict[str, str],
                     band: tuple[Decimal, Decimal]) -> str:
    """`buckets`: marts.idle_buckets in order, so the axis shows every bucket, filled or not."""
    position = {b["idle_bucket"]: i for i, b in enumerate(buckets)}
    height, left, right, top, bottom = 330, 70, WIDE - 20, 34, 280
    lo, hi = s.log_bounds([r["usd_per_mtok"] for r in curve] + [band[0], band[1]])
    y = s.Log(lo, hi, bottom, top)
    x = s.Bands(len(buckets), left, right)
    parts = [
        s.y_axis(y, y.ticks(), "$ per million output tokens (log scale)", left, right, fmt.usd_axis),
        _band_strip(y, band, left, right, f"band {fmt.usd(band[0])}–{fmt.usd(band[1])}/Mtok"),
        s.x_labels(x, [f"idle {b['label']}" for b in buckets], bottom + 18),
    ]
    most = max([r["resource_hours"] for r in curve] or [1])
    for tier in sorted(colours):
        rows = [r for r in curve if r["tier"] == tier and r["usd_per_mtok"] is not None]
        points = [(x.center(position[r["idle_bucket"]]), y(r["usd_per_mtok"])) for r in rows]
        parts.append(s.element("polyline", points=s.polyline(points), fill="none", stroke=colours[tier], stroke_width=2))
        for (px, py), r in zip(points, rows):
            radius = 3 + 9 * (r["resource_hours"] / most) ** 0.5
            title = tip.idle_point(tier, r["label"], r)
            data = {"tier": tier, "bucket": r["idle_bucket"], "usd_per_mtok": fmt.exact(r["usd_per_mtok"]),
                    "resource_hours": r["resource_hours"]}
            parts.append(_point(px, py, colours[tier], colours[tier], True, title, data, r=round(radius, 1)))
    parts.append(s.legend([(t, c, "line") for t, c in sorted(colours.items())]
                          + [("dot area ∝ resource-hours", "#5f6368", "circle")], left, height - 12, spacing=160))
    return s.svg(WIDE, height, parts, "Cost per million output tokens against idle fraction, per tier")


# -- 3. where the money went --------------------------------------------------------------------
def spend_chart(tier: str, rows: list[Row], days: list[date]) -> str:
    width, height, left, right, top, bottom = PANEL, 250, 52, PANEL - 8, 26, 210
    by_day = {r["day"]: r for r in rows}
    y = s.Linear(0, float(max([r["spend"] for r in rows] or [1])) * 1.12 or 1, bottom, top)
    x = s.Bands(len(days), left, right, padding=0.25)
    parts = [s.y_axis(y, y.ticks(4), "$ per UTC day", left, right, fmt.usd_axis),
             s.x_labels(x, _day_labels(days, x.step), bottom + 16)]
    for i, day in enumerate(days):
        r = by_day.get(day)
        if r is not None:
            parts.append(_spend_bar(x.center(i) - x.width / 2, x.width, y, r))
    parts.append(s.legend([(state, colour, "rect") for state, colour in STATE_COLOURS.items()], left, height - 6, spacing=78))
    return s.svg(width, height, parts, f"Spend by state per UTC day, {tier}")


def _spend_bar(x0: float, width: float, y: s.Linear, r: Row) -> str:
    parts, base = [], 0.0
    for state in STATES:
        value = float(r[state])
        if value <= 0:
            continue
        top, bottom = y(base + value), y(base)
        data = {"tier": r["tier"], "day": fmt.exact(r["day"]), "state": state, "usd": fmt.exact(r[state]),
                "complete": fmt.exact(r["billing_complete"])}
        parts.append(s.mark("rect", tip.spend_bar(r, state), data, x=round(x0, 1), y=round(top, 1), width=round(width, 1),
                            height=round(max(bottom - top, 0.5), 1), fill=STATE_COLOURS[state],
                            fill_opacity=1 if r["billing_complete"] else 0.35))
        base += value
    total_y = y(base)
    label = fmt.usd(r["spend"], 0)
    if not r["billing_complete"]:
        parts.append(s.element("rect", x=round(x0, 1), y=round(total_y, 1), width=round(width, 1),
                               height=round(y(0) - total_y, 1), fill="none", stroke=WARN_TEXT,
                               stroke_dasharray="3 2", stroke_width=1.5))
        parts.append(s.text(x0 + width / 2, total_y - 14, INCOMPLETE, class_="incomplete-label", text_anchor="middle"))
    parts.append(s.text(x0 + width / 2, total_y - 3, label, class_="value-label", text_anchor="middle"))
    return s.element("g", parts)


# -- 4. per model --------------------------------------------------------------------------------
def model_bars(models: list[Row], colours: dict[str, str]) -> str:
    row_h, left, label_w = 26, 10, 360
    height = 20 + row_h * max(len(models), 1)
    x = s.Linear(0, float(max([m["spend"] for m in models] or [1])) or 1, left + label_w, WIDE - 180)
    parts = []
    for i, m in enumerate(models):
        y0 = 10 + i * row_h
        parts.append(s.text(left + label_w - 8, y0 + 15, f"{m['tier']} · {m['model']}", text_anchor="end"))
        data = {"tier": m["tier"], "model": m["model"], "usd": fmt.exact(m["spend"]),
                "tokens": m["completion_tokens"], "usd_per_mtok": fmt.exact(m["usd_per_mtok"])}
        width = max(x(m["spend"]) - x(0), 1)
        incomplete = m["incomplete_days"] > 0
        parts.append(s.mark("rect", tip.model_bar(m), data, x=x(0), y=y0 + 3, width=round(width, 1), height=row_h - 8,
                            fill=colours.get(m["tier"], "#555"), fill_opacity=0.45 if incomplete else 1))
        label = f"{fmt.usd(m['spend'])} · {fmt.usd_per_mtok(m['usd_per_mtok'])}" + (" · incomplete days" if incomplete else "")
        parts.append(s.text(x(0) + width + 6, y0 + 15, label, class_="value-label"))
    return s.svg(WIDE, height, parts, "Spend per tier and model")


# -- 5. build or buy ------------------------------------------------------------------------------
def crossover_chart(r: Row, colour: str) -> str:
    """Monthly cost against utilisation: self-hosted is flat (same fleet, same rent, plus labour),
    the gateway grows with the tokens the fleet would serve, k x u' x R; they cross at u*."""
    width, height, left, right, top, bottom = PANEL, 250, 60, PANEL - 26, 28, 200
    u, u_star = _f(r["utilisation"]), _f(r["breakeven_utilisation"])
    x_max = min(max(1.0, (u_star or 0) * 1.15), 1.5)
    self_cost = float(r["self_hosted_monthly"])
    gateway_at = (lambda v: float(r["gateway_monthly"]) * v / u) if u else None
    y_top = max(self_cost, gateway_at(x_max) if gateway_at else 0) * 1.12 or 1
    x, y = s.Linear(0, x_max, left, right), s.Linear(0, y_top, bottom, top)
    parts = [s.y_axis(y, y.ticks(4), "$ per 30-day month", left, right, fmt.usd_axis)]
    parts += [s.text(x(t), bottom + 16, f"{t:.0%}", class_="tick", text_anchor="middle") for t in x.ticks(5)]
    parts.append(s.text((left + right) / 2, bottom + 32, "utilisation u (busy ÷ running hours)", class_="tick", text_anchor="middle"))
    parts.append(s.mark("line", tip.crossover_self_hosted(r),
                        {"tier": r["tier"], "option": "self_hosted", "usd": fmt.exact(r["self_hosted_monthly"])},
                        x1=left, x2=right, y1=round(y(self_cost), 1), y2=round(y(self_cost), 1),
                        stroke=CROSSOVER_COLOURS["self_hosted"], stroke_width=2.5))
    if gateway_at:
        parts.append(s.mark("line", tip.crossover_gateway(r),
                            {"tier": r["tier"], "option": "gateway", "usd": fmt.exact(r["gateway_monthly"])},
                            x1=left, x2=right, y1=round(y(0), 1), y2=round(y(gateway_at(x_max)), 1),
                            stroke=CROSSOVER_COLOURS["gateway"], stroke_width=2.5))
        parts.append(_today(x, y, r, u, top, bottom))
    if u_star is not None and u_star <= x_max:
        parts.append(s.element("line", x1=round(x(u_star), 1), x2=round(x(u_star), 1), y1=top, y2=bottom,
                               stroke="#5f6368", stroke_dasharray="4 3"))
        parts.append(s.text(x(u_star) + 4, bottom - 6, f"u* {fmt.pct(u_star)}", class_="value-label"))
    parts.append(s.legend([("self-hosted", CROSSOVER_COLOURS["self_hosted"], "line"),
                           ("gateway", CROSSOVER_COLOURS["gateway"], "line")], left, height - 4, spacing=110))
    return s.svg(width, height, parts, f"Monthly cost against utilisation, {r['tier']}")


def _today(x: s.Linear, y: s.Linear, r: Row, u: float, top: float, bottom: float) -> str:
    ux = round(x(u), 1)
    right_half = ux > (x.start + x.end) / 2
    parts = [s.element("line", x1=ux, x2=ux, y1=top, y2=bottom, stroke=INK, stroke_width=1),
             s.text(ux - 4 if right_half else ux + 4, top + 10, f"today u {fmt.pct(u)}", class_="value-label",
                    text_anchor="end" if right_half else "start")]
    for option, value in (("self_hosted", r["self_hosted_monthly"]), ("gateway", r["gateway_monthly"])):
        parts.append(s.mark("circle", tip.crossover_today(r, option), {"tier": r["tier"], "option": option, "usd": fmt.exact(value),
                                            "utilisation": fmt.exact(r["utilisation"])},
                            cx=ux, cy=round(y(float(value)), 1), r=5, fill=CROSSOVER_COLOURS[option],
                            stroke="#fff", stroke_width=1.5))
    return s.element("g", parts)


def _f(value) -> float | None:
    return None if value is None else float(value)


# -- 6. demand ------------------------------------------------------------------------------------
def demand_chart(tier: str, rows: list[Row], days: list[date], colour: str) -> str:
    width, height, left, right, top, bottom = PANEL, 250, 60, PANEL - 8, 26, 210
    by_day = {r["day"]: r for r in rows}
    y = s.Linear(0, float(max([r["peak_hourly_tokens"] for r in rows] or [1])) * 1.15 or 1, bottom, top)
    x = s.Bands(len(days), left, right)
    parts = [s.y_axis(y, y.ticks(4), "completion tokens per UTC hour", left, right, fmt.tokens_axis),
             s.x_labels(x, _day_labels(days, x.step), bottom + 16)]
    for i, day in enumerate(days):
        if day in by_day:
            parts.append(_demand_day(x.center(i), y, by_day[day], colour))
    parts.append(s.legend([("median", colour, "circle"), ("p95", colour, "line"), ("peak", colour, "rect")],
                          left, height - 6, spacing=80))
    return s.svg(width, height, parts, f"Hourly completion tokens, median, p95 and peak per UTC day, {tier}")


def _demand_day(cx: float, y: s.Linear, r: Row, colour: str) -> str:
    complete = r["billing_complete"]
    median, p95, peak = float(r["median_hourly_tokens"]), float(r["p95_hourly_tokens"]), float(r["peak_hourly_tokens"])
    data = {"tier": r["tier"], "day": fmt.exact(r["day"]), "median": fmt.exact(r["median_hourly_tokens"]),
            "p95": fmt.exact(r["p95_hourly_tokens"]), "peak": fmt.exact(r["peak_hourly_tokens"]),
            "peak_to_median": fmt.exact(r["peak_to_median"]), "busy_fraction": fmt.exact(r["busy_fraction"]),
            "complete": fmt.exact(complete)}
    title = tip.demand_day(r)
    fill = colour if complete else "#fff"
    dash = None if complete else "2 2"
    parts = [
        s.element("line", x1=round(cx, 1), x2=round(cx, 1), y1=round(y(median), 1), y2=round(y(peak), 1),
                  stroke=colour, stroke_width=2, stroke_opacity=0.6),
        s.element("line", x1=round(cx - 7, 1), x2=round(cx + 7, 1), y1=round(y(p95), 1), y2=round(y(p95), 1),
                  stroke=colour, stroke_width=2),
        s.mark("rect", title, {**data, "kind": "peak"}, x=round(cx - 4.5, 1), y=round(y(peak) - 4.5, 1), width=9, height=9,
               fill=fill, stroke=colour, stroke_width=1.5, stroke_dasharray=dash),
        s.mark("circle", title, {**data, "kind": "median"}, cx=round(cx, 1), cy=round(y(median), 1), r=4.5,
               fill=fill, stroke=colour, stroke_width=1.5, stroke_dasharray=dash),
        s.text(cx, y(peak) - 8, fmt.ratio(r["peak_to_median"], 1), class_="value-label", text_anchor="middle"),
    ]
    if not complete:
        parts.append(s.text(cx, y(peak) - 19, INCOMPLETE, class_="incomplete-label", text_anchor="middle"))
    return s.element("g", parts)


# -- 7. data health -------------------------------------------------------------------------------
def health_timeline(resources: list[Row], gaps: list[Row], resets: list[Row], days: list[date]) -> str:
    lane_h, left, right, top = 22, 250, WIDE - 20, 24
    height = top + lane_h * max(len(resources), 1) + 40
    start = datetime.combine(days[0], time(), timezone.utc)
    end = datetime.combine(days[-1] + timedelta(days=1), time(), timezone.utc)
    x = s.Linear(0, (end - start).total_seconds(), left, right)

    def at(t: datetime) -> float:
        return x(min(max((t - start).total_seconds(), 0), (end - start).total_seconds()))

    parts = [s.element("line", x1=round(at(datetime.combine(d, time(), timezone.utc)), 1),
                       x2=round(at(datetime.combine(d, time(), timezone.utc)), 1), y1=top - 6,
                       y2=height - 30, class_="grid") for d in days]
    every = max(1, len(days) // 14 + 1) if len(days) > 14 else 1
    parts += [s.text(at(datetime.combine(d, time(), timezone.utc)) + 3, height - 16, fmt.day(d), class_="tick")
              for i, d in enumerate(days) if i % every == 0]
    lanes = {r["resource_id"]: i for i, r in enumerate(resources)}
    for r in resources:
        parts.append(_lane(r, lanes[r["resource_id"]], top, lane_h, left, at))
    for g in gaps:
        parts.append(_gap(g, lanes.get(g["resource_id"]), top, lane_h, at, end))
    for r in resets:
        parts.append(_reset(r, lanes.get(r["resource_id"]), top, lane_h, at))
    parts.append(s.legend([("watched (billing sampled)", WATCHED_COLOUR, "rect"), ("billing gap (dark)", GAP_COLOUR, "rect"),
                           ("reset of a cumulative bill", RESET_COLOUR, "circle")], left, height - 2, spacing=200))
    return s.svg(WIDE, height, parts, "Billing observability per resource over the published UTC days")


def _lane(r: Row, i: int, top: float, lane_h: float, left: float, at) -> str:
    y0 = top + i * lane_h
    x0, x1 = at(r["first_hour"]), at(r["last_hour"] + timedelta(hours=1))
    return (s.text(left - 8, y0 + 14, f"{r['resource_id']} · {r['tier']}", text_anchor="end")
            + s.mark("rect", tip.watched_lane(r), {"resource": r["resource_id"], "kind": "watched"}, x=round(x0, 1), y=y0 + 4,
                     width=round(max(x1 - x0, 1), 1), height=lane_h - 8, fill=WATCHED_COLOUR, class_="lane"))


def _gap(g: Row, lane: int | None, top: float, lane_h: float, at, end: datetime) -> str:
    if lane is None:
        return ""
    y0 = top + lane * lane_h
    x0 = at(g["gap_start"])
    x1 = at(g["gap_end"] or end)
    return s.mark("rect", tip.gap(g), {"resource": g["resource_id"], "kind": "gap", "seconds": fmt.exact(g["seconds"]),
                                "start": fmt.exact(g["gap_start"])},
                  x=round(x0, 1), y=y0 + 1, width=round(max(x1 - x0, 3), 1), height=lane_h - 2, fill=GAP_COLOUR)


def _reset(r: Row, lane: int | None, top: float, lane_h: float, at) -> str:
    if lane is None:
        return ""
    cy = top + lane * lane_h + lane_h / 2
    return s.mark("circle", tip.reset(r), {"resource": r["resource_id"], "kind": "reset", "reason": r["reason"]},
                  cx=round(at(r["at"]), 1), cy=round(cy, 1), r=5, fill=RESET_COLOUR, stroke="#fff", stroke_width=1.5)


def quarantine_bars(counts: dict[str, int | None]) -> str:
    row_h, left, label_w = 24, 10, 240
    height = 14 + row_h * len(counts)
    most = max([c or 0 for c in counts.values()] + [1])
    x = s.Linear(0, most, left + label_w, WIDE - 200)
    parts = []
    for i, (source, count) in enumerate(counts.items()):
        y0 = 6 + i * row_h
        parts.append(s.text(left + label_w - 8, y0 + 14, f"quarantine.{source}", text_anchor="end"))
        shown = "table missing" if count is None else f"{count:,} rows quarantined"
        width = 0 if not count else max(x(count) - x(0), 2)
        parts.append(s.mark("rect", tip.quarantine(source, count), {"source": source, "rows": count},
                            x=x(0), y=y0 + 3, width=round(width, 1), height=row_h - 8, fill=GAP_COLOUR))
        parts.append(s.text(x(0) + width + 6, y0 + 14, shown, class_="value-label"))
    return s.svg(WIDE, height, parts, "Rows quarantined per source")
