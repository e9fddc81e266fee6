"""Small HTML pieces: tables, badges, sections. Text is escaped here, once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from dashboards.svg import attrs

# text; (text, css class); or (text, css class or None, exact value shown on hover)
Cell = str | tuple[str, str | None] | tuple[str, str | None, str]


def cell(tag: str, value: Cell) -> str:
    content, css, title = (value, None, None) if isinstance(value, str) else (*value, None)[:3]
    return f"<{tag}{attrs(class_=css, title=title)}>{escape(content)}</{tag}>"


def exact_cell(shown: str, exact: str, css: str | None = None) -> Cell:
    """A rounded figure whose exact published value shows on hover (no title when they are equal)."""
    return (shown, css, exact) if exact != shown else (shown, css)


def table(headers: Sequence[Cell], rows: Iterable[Sequence[Cell]], caption: str | None = None, **values) -> str:
    head = "".join(cell("th", h) for h in headers)
    body = "".join("<tr>" + "".join(cell("td", c) for c in row) + "</tr>" for row in rows)
    cap = f"<caption class=\"note\">{escape(caption)}</caption>" if caption else ""
    return f"<div class=\"scroll\"><table{attrs(**values)}>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def badge(label: str, colour: str, title: str | None = None) -> str:
    return (f'<span class="badge" style="background:{escape(colour, quote=True)}"{attrs(title=title)}>'
            f"{escape(label)}</span>")


def section(key: str, title: str, lede: str, body: Iterable[str]) -> str:
    return (
        f'<section id="{escape(key, quote=True)}" data-section="{escape(key, quote=True)}">'
        f"<h2>{escape(title)}</h2><p class=\"lede\">{escape(lede)}</p>{''.join(body)}</section>"
    )


def panel(title: str, body: Iterable[str], **values) -> str:
    return f"<div class=\"panel\"{attrs(**values)}><h3>{escape(title)}</h3>{''.join(body)}</div>"


def paragraph(content: str, css: str = "note") -> str:
    return f'<p class="{escape(css, quote=True)}">{escape(content)}</p>'


def kpi(value: str, label: str) -> str:
    return f'<div class="kpi"><b>{escape(value)}</b><span>{escape(label)}</span></div>'
