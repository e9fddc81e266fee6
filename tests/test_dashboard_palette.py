"""Tier colours and verdict colours never collide (the l40s-class line once had the "in band" green).

Distances are CIE76 ΔE in CIELAB (sRGB, D65), computed here rather than by the code under test:
about 2.3 is the smallest difference a person notices; 30 is two colours nobody reads as one.
"""

from __future__ import annotations

import itertools
import re

from dashboards import charts
from dashboards.palette import TIER_COLOURS, VERDICT_COLOURS, VERDICT_FAMILY, tier_colours

MIN_TIER_TO_VERDICT = 30.0
MIN_WITHIN_TIERS = 20.0
MIN_WITHIN_VERDICTS = 30.0


def lab(hex_colour: str) -> tuple[float, float, float]:
    r, g, b = (int(hex_colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4))
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b))
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def delta_e(a: str, b: str) -> float:
    return sum((p - q) ** 2 for p, q in zip(lab(a), lab(b))) ** 0.5


def test_lab_matches_known_values():
    assert [round(v, 1) for v in lab("#ffffff")] == [100.0, 0.0, 0.0]
    assert [round(v) for v in lab("#ff0000")] == [53, 80, 67]  # sRGB red in CIELAB D65
    assert round(delta_e("#000000", "#ffffff")) == 100


def test_tier_and_verdict_colours_are_disjoint_and_far_apart():
    tiers = {c.lower() for c in TIER_COLOURS}
    verdicts = {c.lower() for c in VERDICT_FAMILY.values()} | {c.lower() for c in VERDICT_COLOURS.values()}
    assert not tiers & verdicts
    closest = min((delta_e(t, v), t, v) for t in tiers for v in verdicts)
    assert closest[0] >= MIN_TIER_TO_VERDICT, closest


def test_colours_within_each_family_are_distinct():
    assert min(delta_e(a, b) for a, b in itertools.combinations(TIER_COLOURS, 2)) >= MIN_WITHIN_TIERS
    assert min(delta_e(a, b) for a, b in itertools.combinations(VERDICT_FAMILY.values(), 2)) >= MIN_WITHIN_VERDICTS
    assert set(VERDICT_COLOURS.values()) <= set(VERDICT_FAMILY.values())


def test_the_band_chart_draws_no_tier_line_in_a_verdict_colour():
    """The demo's three tiers, drawn: every line's stroke is a tier colour, every verdict fill a verdict's."""
    from datetime import date
    from decimal import Decimal

    tiers = ["h100-class", "h100-ondemand", "l40s-class"]
    rows = [{"day": date(2026, 10, 28), "tier": t, "spend": Decimal("1"), "completion_tokens": 1_000_000,
             "usd_per_mtok": Decimal("0.5"), "idle_fraction": Decimal("0.1"), "billing_complete": True,
             "verdict": "in_band" if t == "h100-class" else None} for t in tiers]
    svg = charts.band_chart(rows, tier_colours(tiers), (Decimal("0.30"), Decimal("0.70")))
    strokes = set(re.findall(r'<polyline[^>]*stroke="(#[0-9A-Fa-f]{6})"', svg))
    assert strokes == set(tier_colours(tiers).values()) and not strokes & set(VERDICT_FAMILY.values())
    (verdict_fill,) = re.findall(r'<circle class="mark"[^>]*fill="(#[0-9A-Fa-f]{6})"[^>]*data-tier="h100-class"', svg)
    assert verdict_fill == VERDICT_COLOURS["in_band"]
