"""A diagram as one self-contained HTML page: the SVG inline, no script, nothing fetched.

Banks run kesu on networks without the internet, so the page carries everything it shows.
"""

from __future__ import annotations

from html import escape

from .diagram import Diagram, Highlight, to_mermaid
from .diagram_svg import render_svg

FORMATS = ("mermaid", "svg", "html")
MEDIA_TYPES = {
    "mermaid": "text/plain; charset=utf-8",
    "svg": "image/svg+xml; charset=utf-8",
    "html": "text/html; charset=utf-8",
}

_STYLE = """
body { font-family: "DejaVu Sans", "WenQuanYi Micro Hei", "Noto Sans CJK SC",
       "Microsoft YaHei", sans-serif; margin: 1.5rem; color: #0f172a; }
h1 { font-size: 1.4rem; margin: 0 0 .3rem; }
p.meta { color: #475569; margin: 0 0 1rem; }
.diagram { overflow: auto; border: 1px solid #cbd5e1; border-radius: 8px; }
.key span { display: inline-block; padding: 0 .5rem; margin-right: .5rem; border-radius: 4px; }
"""


def render(diagram: Diagram, form: str, highlight: Highlight | None = None, case: str = "") -> str:
    """The diagram as ``mermaid``, ``svg`` or ``html`` (ValueError for anything else)."""
    if form == "mermaid":
        return to_mermaid(diagram, highlight)
    if form == "svg":
        return render_svg(diagram, highlight)
    if form == "html":
        return render_page(diagram, highlight, case)
    raise ValueError(f"unknown diagram format {form!r}; use {', '.join(FORMATS)}")


def render_page(diagram: Diagram, highlight: Highlight | None = None, case: str = "") -> str:
    title = f"{case} — {diagram.heading}" if case else diagram.heading
    about = "Stages, the events between them (roles, [conditions], inputs needed), stage "
    about += "timeouts, and where each deadline clock starts, pauses, resumes and stops."
    body = [f"<h1>{escape(title)}</h1>", f'<p class="meta">{escape(about)}</p>']
    if highlight is not None and highlight.current is not None:
        state = "closed" if highlight.closed else "open"
        body.append(
            f'<p class="key">case {escape(case)} ({state}): '
            f'<span style="background:#fde68a">current stage {escape(highlight.current)}</span>'
            '<span style="background:#dbeafe">stages it passed</span>'
            '<span style="color:#1d4ed8">━ moves it took</span></p>'
        )
    body.append(f'<div class="diagram">{render_svg(diagram, highlight)}</div>')
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="zh-CN">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(title)}</title>",
            f"<style>{_STYLE}</style>",
            "</head>",
            "<body>",
            *body,
            "</body>",
            "</html>",
            "",
        ]
    )
