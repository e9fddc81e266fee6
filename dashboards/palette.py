"""Every colour the dashboard draws with, in one place.

Two families must never be confused: a tier's colour (its line, its bars) and a verdict's colour
(in band, above band, a failed check, a mismatched invoice). The band chart fills a tier's points
with their verdict, so a tier that shared a verdict's colour would read as a verdict: the l40s-class
line once had the "in band" green. Tiers take blues, orange and olive; verdicts take green, red,
purple and grey. tests/test_dashboard_palette.py holds the two sets apart in CIELAB (ΔE*76).
Hues follow Okabe & Ito (2008) and Paul Tol's schemes, chosen to stay apart for colour-blind readers.
"""

from __future__ import annotations

# -- tiers: one per tier, sorted by name, cycling past five ---------------------------------------
TIER_COLOURS = ("#0072B2", "#E69F00", "#56B4E9", "#332288", "#999933")

# -- verdicts: what a figure means; shared by every section that judges ---------------------------
GOOD = "#009E73"  # in band, reconciled, check passed
BAD = "#B2182B"  # above band, invoice mismatch, check failed, logs missing tokens
CAUTION = "#CC79A7"  # below band (usually missing billing), a side not invoiced or not observed
NEUTRAL = "#8c8c8c"  # not applicable, credits, taxes and other charges apart
VERDICT_FAMILY = {"good": GOOD, "bad": BAD, "caution": CAUTION, "neutral": NEUTRAL}  # CSS: .v-good, ...

VERDICT_COLOURS = {"in_band": GOOD, "above_band": BAD, "below_band": CAUTION, "not_applicable": NEUTRAL}
# marts.invoice_reconciliation statuses; other charge categories (credit, tax, ...) are neutral.
RECONCILIATION_FAMILY = {"reconciled": "good", "mismatch": "bad", "not_invoiced": "caution", "not_observed": "caution"}
CROSSOVER_VERDICTS = {
    "self_host_cheaper": ("self-hosting is cheaper", GOOD),
    "gateway_cheaper": ("the gateway is cheaper", BAD),  # for this fleet as it runs today
    "not_enough_data": ("not enough data", NEUTRAL),
}
BAND_FILL = GOOD  # the shaded band is where "in band" points sit


def check_family(passed: bool | None, severity: str | None) -> str:
    """A passed check is good; a failure is bad when it blocks (ERROR), caution when it warns."""
    if passed is None:
        return "neutral"
    if passed:
        return "good"
    return "bad" if (severity or "").upper() == "ERROR" else "caution"


# -- within one chart, never beside a verdict ------------------------------------------------------
STATE_COLOURS = {"serving": "#0072B2", "idle": "#E69F00", "waking": "#CC79A7", "parked": "#9a9a9a"}
CROSSOVER_COLOURS = {"self_hosted": "#0072B2", "gateway": "#D55E00"}
GAP_COLOUR = "#D55E00"
RESET_COLOUR = "#0072B2"
WATCHED_COLOUR = "#c9d7e8"
INK = "#1d1d1f"
WARN_TEXT = "#b3261e"  # the word "incomplete" beside a hollow mark


def tier_colours(tiers: list[str]) -> dict[str, str]:
    return {tier: TIER_COLOURS[i % len(TIER_COLOURS)] for i, tier in enumerate(sorted(tiers))}
