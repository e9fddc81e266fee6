"""Numbers with their units, for people: $ amounts, $/Mtok, tokens, fractions, UTC times."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import ROUND_HALF_UP, Decimal

DASH = "–"


def usd(value, digits: int = 2) -> str:
    """Money rounded for reading, half up on the exact value ($158.925 -> $158.93; a float would say .92)."""
    if value is None:
        return DASH
    d = value if isinstance(value, Decimal) else Decimal(repr(value) if isinstance(value, float) else value)
    q = d.quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP)
    return f"{'−' if q < 0 else ''}${abs(q):,.{digits}f}"


def usd_per_mtok(value) -> str:
    """$/Mtok with three significant-ish decimals: $0.586/Mtok, $8.65/Mtok, $384/Mtok."""
    if value is None:
        return DASH
    v = float(value)
    digits = 3 if abs(v) < 10 else 2 if abs(v) < 100 else 0
    return f"${v:,.{digits}f}/Mtok"


def usd_axis(value: float) -> str:
    v = float(value)
    if v >= 1000:
        return f"${v / 1000:,.0f}k" if v % 1000 == 0 else f"${v / 1000:,.1f}k"
    if v >= 1 or v == 0:
        return f"${v:,.0f}" if v == int(v) else f"${v:,.1f}"
    return f"${v:.2f}"


def tokens(value) -> str:
    if value is None:
        return DASH
    v = float(value)
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(v) >= size:
            return f"{v / size:,.{2 if abs(v) < 10 * size else 1}f}{unit}"
    return f"{v:,.0f}"


def tokens_axis(value: float) -> str:
    return tokens(value) if value else "0"


def pct(value, digits: int = 1) -> str:
    if value is None:
        return DASH
    return f"{float(value) * 100:,.{digits}f}%"


def hours(value) -> str:
    return DASH if value is None else f"{float(value):,.1f} h"


def ratio(value, digits: int = 2) -> str:
    return DASH if value is None else f"{float(value):,.{digits}f}×"


def day(value: date) -> str:
    return value.strftime("%a %d %b")


def utc(value: datetime | None) -> str:
    if value is None:
        return "open"
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def duration(seconds) -> str:
    if seconds is None:
        return "still open"
    s = float(seconds)
    return f"{s / 60:,.1f} min" if s < 3600 else f"{s / 3600:,.1f} h"


def exact(value) -> str | None:
    """The published value as text, for `data-` attributes (Decimal keeps every digit)."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- exact values, for tooltips: every digit the mart holds, grouped for reading ----------------------
def _plain(value: Decimal) -> str:
    """A Decimal without exponent or trailing zeros after the point: 30.000 -> 30, 0.300 -> 0.3."""
    text = format(value.normalize(), ",f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def usd_exact(value) -> str:
    """Money as published (DECIMAL(38,9)): $1,234.567890123; never rounded."""
    if value is None:
        return DASH
    d = Decimal(value)
    return f"{'−' if d < 0 else ''}${abs(d):,f}"


def usd_per_mtok_exact(value) -> str:
    return DASH if value is None else f"{usd_exact(value)}/Mtok"


def pct_exact(fraction) -> str:
    """A published fraction as a percentage with all its digits: 0.003000000 -> 0.3 %."""
    return DASH if fraction is None else f"{_plain(Decimal(fraction) * 100)} %"


def pct_points_exact(percent) -> str:
    """A value already in percent (difference_pct): -1.250000000 -> −1.25 %."""
    if percent is None:
        return DASH
    d = Decimal(percent)
    return f"{'−' if d < 0 else ''}{_plain(abs(d))} %"


def number_exact(value) -> str:
    """A count or a published number, grouped: 12,345,678; 1,234.5."""
    if value is None:
        return DASH
    if isinstance(value, int):
        return f"{'−' if value < 0 else ''}{abs(value):,}"
    d = Decimal(value)
    return f"{'−' if d < 0 else ''}{_plain(abs(d))}"


def utc_exact(value: datetime | None) -> str:
    """An instant to the second (to the microsecond when it has one), in UTC."""
    if value is None:
        return "open"
    t = value.astimezone(timezone.utc)
    return t.strftime("%Y-%m-%d %H:%M:%S" + (".%f" if t.microsecond else "")) + " UTC"


def seconds_exact(value) -> str:
    """720.000000 -> "720 s (12.0 min)": the published seconds, then a reading aid."""
    return "still open" if value is None else f"{number_exact(value)} s ({duration(value)})"
