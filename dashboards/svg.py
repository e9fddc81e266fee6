"""Inline SVG, written by hand: elements as strings, scales, axes.

Every element is built by `element`, which escapes text and attribute values. A chart mark (a
point, a bar, a line that carries data) gets the class `mark` and `data-` attributes holding the
published values, so a test can count the marks and read their numbers back; its tooltip is an
SVG `<title>`, which browsers show on hover without any script.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape

Attr = str | int | float | None


def _value(value: Attr) -> str:
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return str(value)


def attrs(**values: Attr) -> str:
    """` name="value"` pairs; `None` is left out, `_` in a name becomes `-` (data_tier -> data-tier)."""
    return "".join(
        f' {name.rstrip("_").replace("_", "-")}="{escape(_value(value), quote=True)}"'
        for name, value in values.items()
        if value is not None
    )


def element(tag: str, children: Iterable[str] | str = (), **values: Attr) -> str:
    inner = children if isinstance(children, str) else "".join(children)
    return f"<{tag}{attrs(**values)}>{inner}</{tag}>" if inner else f"<{tag}{attrs(**values)}/>"


def text(x: float, y: float, content: str, **values: Attr) -> str:
    return element("text", escape(content), x=x, y=y, **values)


def tooltip(content: str) -> str:
    return f"<title>{escape(content)}</title>"


def mark(tag: str, tip: str, data: dict[str, Attr], **values: Attr) -> str:
    """A drawn data mark: class `mark`, `data-*` attributes, a hover tooltip."""
    classes = " ".join(filter(None, ["mark", values.pop("class_", None)]))
    data_attrs = {f"data_{k}": v for k, v in data.items()}
    return element(tag, tooltip(tip), class_=classes, **values, **data_attrs)


def svg(width: int, height: int, children: Iterable[str], label: str, **values: Attr) -> str:
    return element(
        "svg", children, xmlns="http://www.w3.org/2000/svg", viewBox=f"0 0 {width} {height}",
        width=width, height=height, role="img", aria_label=label, **values,
    )


def polyline(points: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in points)


# -- scales ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Linear:
    lo: float
    hi: float
    start: float  # pixel of lo
    end: float  # pixel of hi

    def __call__(self, value: float) -> float:
        span = (self.hi - self.lo) or 1.0
        return self.start + (float(value) - self.lo) / span * (self.end - self.start)

    def ticks(self, count: int = 5) -> list[float]:
        step = nice_step((self.hi - self.lo) / max(count, 1))
        first = math.ceil(self.lo / step) * step
        return [first + i * step for i in range(int((self.hi - first) / step + 1e-9) + 1)]


@dataclass(frozen=True)
class Log:
    lo: float
    hi: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        v = min(max(float(value), self.lo), self.hi)
        span = math.log10(self.hi) - math.log10(self.lo)
        return self.start + (math.log10(v) - math.log10(self.lo)) / span * (self.end - self.start)

    def ticks(self) -> list[float]:
        out = []
        for exponent in range(math.floor(math.log10(self.lo)), math.ceil(math.log10(self.hi)) + 1):
            for m in (1, 3):
                v = m * 10.0**exponent
                if self.lo <= v * (1 + 1e-9) and v <= self.hi * (1 + 1e-9):
                    out.append(v)
        return out


@dataclass(frozen=True)
class Bands:
    """Evenly spaced categories; `center(i)` is the middle of band i, `width` its usable width."""

    count: int
    start: float
    end: float
    padding: float = 0.2

    @property
    def step(self) -> float:
        return (self.end - self.start) / max(self.count, 1)

    @property
    def width(self) -> float:
        return self.step * (1 - self.padding)

    def center(self, index: int) -> float:
        return self.start + self.step * (index + 0.5)


def nice_step(raw: float) -> float:
    if raw <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * magnitude:
            return m * magnitude
    return 10 * magnitude


def log_bounds(values: Iterable[float], floor: float = 0.01) -> tuple[float, float]:
    """A power-of-ten-ish range around positive values (1-3-10 steps)."""
    positive = [float(v) for v in values if v is not None and float(v) > 0] or [1.0]
    lo, hi = max(min(positive), floor), max(positive)

    def down(v: float) -> float:
        e = 10 ** math.floor(math.log10(v))
        return 3 * e if v >= 3 * e else e

    def up(v: float) -> float:
        e = 10 ** math.floor(math.log10(v))
        return e if v <= e else 3 * e if v <= 3 * e else 10 * e

    return down(lo), up(hi * 1.05)


# -- axes and furniture ------------------------------------------------------------------------
def y_axis(scale: Linear | Log, ticks: Iterable[float], label: str, left: float, right: float, fmt) -> str:
    parts = []
    for t in ticks:
        y = scale(t)
        parts.append(element("line", x1=left, x2=right, y1=round(y, 1), y2=round(y, 1), class_="grid"))
        parts.append(text(left - 6, y + 4, fmt(t), class_="tick", text_anchor="end"))
    parts.append(text(left - 6, min(scale.start, scale.end) - 10, label, class_="axis-label", text_anchor="start"))
    return element("g", parts, class_="axis")


def x_labels(bands: Bands, labels: Sequence[str], y: float) -> str:
    return element(
        "g",
        (text(bands.center(i), y, label, class_="tick", text_anchor="middle") for i, label in enumerate(labels)),
        class_="axis",
    )


def legend(items: Sequence[tuple[str, str, str]], x: float, y: float, spacing: float = 130) -> str:
    """(label, colour, shape) with shape 'rect', 'circle' or 'hollow'."""
    parts = []
    for i, (label, colour, shape) in enumerate(items):
        cx = x + i * spacing
        if shape == "rect":
            parts.append(element("rect", x=cx, y=y - 9, width=12, height=12, fill=colour))
        elif shape == "line":
            parts.append(element("line", x1=cx, x2=cx + 14, y1=y - 3, y2=y - 3, stroke=colour, stroke_width=3))
        else:
            fill = "#fff" if shape == "hollow" else colour
            parts.append(element("circle", cx=cx + 6, cy=y - 3, r=5, fill=fill, stroke=colour, stroke_width=2))
        parts.append(text(cx + 18, y + 1, label, class_="legend"))
    return element("g", parts, class_="legend")
