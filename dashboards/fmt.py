"""Numbers with their units, for people: $ amounts, $/Mtok, tokens, fractions, UTC times."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

DASH = "–"


def usd(value, digits: int = 2) -> str:
    if value is None:
        return DASH
    v = float(value)
    sign = "−" if v < 0 else ""
    return f"{sign}${abs(v):,.{digits}f}"


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
