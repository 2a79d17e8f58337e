"""Draw a ``Diagram`` as SVG with a simple layered layout, and wrap it in a self-contained page.

Stages are placed in columns by their distance from the initial stage; moves forward are
curves to the right, moves back (a reopen, a dissatisfied customer) loop underneath, work done
in a stage loops above it. No JavaScript and nothing fetched: the page works offline.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from html import escape

from .diagram import Diagram, Edge, Highlight, Node

FONT = '"DejaVu Sans", "WenQuanYi Micro Hei", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif'
TEXT, SMALL, LINE, SMALL_LINE = 13, 11, 17, 14
PAD, ROW_GAP, MIN_COLUMN_GAP = 10, 36, 90
WRAP_NODE, WRAP_LABEL = 46.0, 27.0
COLOURS = {"event": "#334155", "timeout": "#7c3aed", "breach": "#dc2626", "taken": "#1d4ed8"}


def text_width(text: str, size: int) -> float:
    """Estimated width: CJK and full-width characters are square, the rest about 0.6 em."""
    return sum(size * (1.0 if ord(char) >= 0x2E80 else 0.6) for char in text)


def wrap(text: str, ems: float) -> list[str]:
    """Greedy wrapping at spaces, or anywhere inside a word too long for a line."""
    lines, current = [], ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if text_width(candidate, 10) <= ems * 10:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = ""
        for char in word:
            if text_width(current + char, 10) > ems * 10:
                lines.append(current)
                current = ""
            current += char
    return [*lines, current] if current else lines


@dataclass
class Box:
    node: Node
    heading: list[str]
    detail: list[str]
    x: float = 0.0
    y: float = 0.0

    @property
    def width(self) -> float:
        widths = [text_width(line, TEXT) for line in self.heading]
        widths += [text_width(line, SMALL) for line in self.detail]
        return max(150.0, *widths) + 2 * PAD

    @property
    def height(self) -> float:
        return len(self.heading) * LINE + len(self.detail) * SMALL_LINE + 2 * PAD


def _columns(diagram: Diagram) -> list[list[str]]:
    """Stages by breadth-first distance from the initial stage; unreachable ones last."""
    after: dict[str, list[str]] = {node.name: [] for node in diagram.nodes}
    for edge in diagram.edges:
        after[edge.source].append(edge.target)
    start = next(node.name for node in diagram.nodes if node.initial)
    depth, queue = {start: 0}, deque([start])
    while queue:
        name = queue.popleft()
        for target in after[name]:
            if target not in depth:
                depth[target], queue = depth[name] + 1, queue + deque([target])
    last = max(depth.values()) + 1
    columns: list[list[str]] = [[] for _ in range(last + 1)]
    for node in diagram.nodes:
        columns[depth.get(node.name, last)].append(node.name)
    return [column for column in columns if column]


def _merged(edges: list[Edge]) -> dict[tuple[str, str], list[Edge]]:
    """Moves between the same two stages share one line with every label on it."""
    merged: dict[tuple[str, str], list[Edge]] = {}
    for edge in edges:
        merged.setdefault((edge.source, edge.target), []).append(edge)
    return merged


def _label(edges: list[Edge]) -> list[str]:
    return [part for edge in edges for line in edge.lines() for part in wrap(line, WRAP_LABEL)]


class Layout:
    def __init__(self, diagram: Diagram) -> None:
        self.diagram = diagram
        self.boxes = {node.name: _box(diagram, node) for node in diagram.nodes}
        self.columns = _columns(diagram)
        self.column_of = {name: i for i, column in enumerate(self.columns) for name in column}
        self.edges = _merged([edge for edge in diagram.edges if edge.source != edge.target])
        self.loops = {edge.source for edge in diagram.edges if edge.source == edge.target}
        self._place()

    def _gap_after(self, index: int) -> float:
        widest = [
            max(text_width(line, SMALL) for line in _label(edges))
            + (110 if source != target and self.column_of[target] == index else 0)
            for (source, target), edges in self.edges.items()
            if self.column_of[source] == index
            and self.column_of[target] in (index, index + 1)
            and source != target
        ]
        return max([MIN_COLUMN_GAP, *[width + 40 for width in widest]])

    def _place(self) -> None:
        heights = [
            sum(self.boxes[name].height for name in column) + ROW_GAP * (len(column) - 1)
            for column in self.columns
        ]
        tallest, x = max(heights), 30.0
        self.top = 40.0
        for index, column in enumerate(self.columns):
            y = self.top + (tallest - heights[index]) / 2
            for name in column:
                box = self.boxes[name]
                box.x, box.y = x, y
                y += box.height + ROW_GAP
            x += max(self.boxes[name].width for name in column) + self._gap_after(index)
        self.graph_bottom = self.top + tallest
        self.width = x
        # Moves back run under the graph, each on its own level with its label below it.
        self.back_level: dict[tuple[str, str], float] = {}
        level = self.graph_bottom + 40
        for key, edges in self.edges.items():
            if self._is_back(key):
                self.back_level[key] = level
                level += len(_label(edges)) * SMALL_LINE + 34
        self.loop_depth = level - self.graph_bottom

    def _is_back(self, key: tuple[str, str]) -> bool:
        source, target = key
        return source != target and self.column_of[target] < self.column_of[source]

    def is_beside(self, key: tuple[str, str]) -> bool:
        source, target = key
        return source != target and self.column_of[target] == self.column_of[source]

    def port(self, name: str, key: tuple[str, str]) -> float:
        """Where on a box's bottom a move back leaves or arrives: spread, not on one spot."""
        box = self.boxes[name]
        keys = [k for k in self.back_level if name in k]
        step = min(24.0, box.width / (len(keys) + 1))
        return box.x + box.width / 2 + step * (keys.index(key) - (len(keys) - 1) / 2)


def _box(diagram: Diagram, node: Node) -> Box:
    heading = [
        node.name + ("  [start]" if node.initial else "") + ("  [end]" if node.final else "")
    ]
    if node.title:
        heading += wrap(node.title, WRAP_NODE * SMALL / TEXT)
    # Decision tables and deadlines are listed once, under the graph; work done in the stage
    # (an event that stays) is listed in the box rather than on a loop over its neighbours.
    notes = node.lines()
    for edge in diagram.edges:
        if edge.source == edge.target == node.name:
            first, *rest = edge.lines()
            notes += [f"↻ {first}", *(f"   {line}" for line in rest)]
    detail = [part for line in notes for part in wrap(line, WRAP_NODE)]
    return Box(node, heading, detail)


def render_svg(diagram: Diagram, highlight: Highlight | None = None) -> str:
    layout = Layout(diagram)
    highlight = highlight or Highlight()
    drawn: list[tuple[str, str]] = []
    for key, edges in layout.edges.items():
        taken = key in highlight.taken
        if key in layout.back_level:
            drawn.append(_back_edge(layout, key, edges, taken))
        elif layout.is_beside(key):
            drawn.append(_beside_edge(layout, key, edges, taken))
        else:
            drawn.append(_edge(layout, key, edges, taken))
    # Lines under the stages, labels over them: a label is never hidden behind a box.
    parts = [path for path, _ in drawn]
    parts += [_node(box, highlight) for box in layout.boxes.values()]
    parts += [label for _, label in drawn]
    bottom = layout.graph_bottom + layout.loop_depth
    legend, height = _legend(diagram, bottom)
    width = max(layout.width, 900.0)
    return "\n".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" font-family=\'{FONT}\' role="img">',
        f"<title>{escape(diagram.heading)}</title>",
        _defs(),
        '<rect width="100%" height="100%" fill="#ffffff"/>',
        *parts,
        legend,
        "</svg>",
    ])  # fmt: skip


def _defs() -> str:
    markers = "".join(
        f'<marker id="arrow-{name}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="10" '
        f'markerHeight="10" markerUnits="userSpaceOnUse" orient="auto-start-reverse">'
        f'<path d="M0,0 L10,5 L0,10 z" '
        f'fill="{colour}"/></marker>'
        for name, colour in COLOURS.items()
    )
    return f"<defs>{markers}</defs>"


def _stroke(edges: list[Edge], taken: bool) -> tuple[str, str]:
    kind = "taken" if taken else edges[0].kind
    dash = ' stroke-dasharray="6 4"' if edges[0].kind != "event" and not taken else ""
    width = 3 if taken else 1.5
    attributes = f'stroke="{COLOURS[kind]}" stroke-width="{width}" fill="none"{dash}'
    return attributes + f' marker-end="url(#arrow-{kind})"', kind


def _drawn(kind: str, path: str, attributes: str, label: str) -> tuple[str, str]:
    return f'<path class="edge {kind}" d="{path}" {attributes}/>', f'<g class="label">{label}</g>'


def _text_block(lines: list[str], x: float, y: float, anchor: str = "middle") -> str:
    if not lines:
        return ""
    width = max(text_width(line, SMALL) for line in lines) + 8
    left = x - width / 2 if anchor == "middle" else x - 4
    top = y - SMALL_LINE + 3
    rows = "".join(
        f'<text x="{x:.1f}" y="{y + i * SMALL_LINE:.1f}" font-size="{SMALL}" '
        f'text-anchor="{anchor}">{escape(line)}</text>'
        for i, line in enumerate(lines)
    )
    return (
        f'<rect x="{left:.1f}" y="{top:.1f}" width="{width:.1f}" '
        f'height="{len(lines) * SMALL_LINE + 4}" fill="#ffffff" fill-opacity="0.85" rx="3"/>' + rows
    )


def _edge(layout: Layout, key: tuple[str, str], edges: list[Edge], taken: bool) -> tuple[str, str]:
    source, target = (layout.boxes[name] for name in key)
    attributes, kind = _stroke(edges, taken)
    lines = _label(edges)
    x1, y1 = source.x + source.width, source.y + source.height / 2
    x2, y2 = target.x, target.y + target.height / 2
    bend = (x2 - x1) / 2
    path = (
        f"M{x1:.1f},{y1:.1f} C{x1 + bend:.1f},{y1:.1f} {x2 - bend:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
    )
    middle_y = (y1 + y2) / 2 - SMALL_LINE * (len(lines) - 1) / 2
    label = _text_block(lines, (x1 + x2) / 2, middle_y + 4)
    return _drawn(kind, path, attributes, label)


def _back_edge(
    layout: Layout, key: tuple[str, str], edges: list[Edge], taken: bool
) -> tuple[str, str]:
    """A move back to an earlier stage: down from the source, under the graph, up to the target."""
    source, target = (layout.boxes[name] for name in key)
    attributes, kind = _stroke(edges, taken)
    x1, y1 = layout.port(key[0], key), source.y + source.height
    x2, y2 = layout.port(key[1], key), target.y + target.height
    low = layout.back_level[key]
    path = f"M{x1:.1f},{y1:.1f} L{x1:.1f},{low:.1f} L{x2:.1f},{low:.1f} L{x2:.1f},{y2:.1f}"
    label = _text_block(_label(edges), (x1 + x2) / 2, low + SMALL_LINE + 2)
    return _drawn(f"back {kind}", path, attributes, label)


def _beside_edge(
    layout: Layout, key: tuple[str, str], edges: list[Edge], taken: bool
) -> tuple[str, str]:
    """A move between stages of one column: an arc on their right."""
    source, target = (layout.boxes[name] for name in key)
    attributes, kind = _stroke(edges, taken)
    down = target.y > source.y
    x1 = source.x + source.width
    y1 = source.y + source.height * (0.75 if down else 0.25)
    x2 = target.x + target.width
    y2 = target.y + target.height * (0.25 if down else 0.75)
    reach = max(x1, x2) + (60 if down else 110)
    path = f"M{x1:.1f},{y1:.1f} C{reach:.1f},{y1:.1f} {reach:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
    lines = _label(edges)
    middle = (y1 + y2) / 2 - SMALL_LINE * (len(lines) - 1) / 2 + 4
    label = _text_block(lines, reach - 18, middle, anchor="start")
    return _drawn(f"beside {kind}", path, attributes, label)


def _node(box: Box, highlight: Highlight) -> str:
    name = box.node.name
    fill, stroke, width = "#f8fafc", "#475569", 1.5
    if name in highlight.visited:
        fill, stroke = "#dbeafe", "#1d4ed8"
    if name == highlight.current:
        fill, stroke, width = "#fde68a", "#b45309", 3.5
    final = box.node.final
    parts = [
        f'<g class="stage{" current" if name == highlight.current else ""}" data-stage="{name}">',
        f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" height="{box.height:.1f}"'
        f' rx="8" fill="{fill}" stroke="{stroke}" stroke-width="{width}"/>',
    ]
    if final:
        parts.append(
            f'<rect x="{box.x + 3:.1f}" y="{box.y + 3:.1f}" width="{box.width - 6:.1f}" '
            f'height="{box.height - 6:.1f}" rx="6" fill="none" stroke="{stroke}"/>'
        )
    y = box.y + PAD + TEXT
    for index, line in enumerate(box.heading):
        weight = ' font-weight="bold"' if index == 0 else ""
        parts.append(
            f'<text x="{box.x + PAD:.1f}" y="{y:.1f}" font-size="{TEXT}"{weight}>'
            f"{escape(line)}</text>"
        )
        y += LINE
    for line in box.detail:
        colour = "#0f766e" if line.split(":")[0] in ("enter", "leave", "opened") else "#475569"
        if line.startswith("pauses"):
            colour = "#0f766e"
        parts.append(
            f'<text x="{box.x + PAD:.1f}" y="{y:.1f}" font-size="{SMALL}" fill="{colour}">'
            f"{escape(line)}</text>"
        )
        y += SMALL_LINE
    parts.append("</g>")
    return "".join(parts)


def _legend(diagram: Diagram, top: float) -> tuple[str, float]:
    lines = [("bold", "Deadlines 期限")]
    lines += [("", line) for line in diagram.deadlines] or [("", "(none)")]
    for table, rules in diagram.decisions.items():
        lines.append(("bold", f"Decision table {table} (first matching rule)"))
        lines += [("", f"{index}. {rule}") for index, rule in enumerate(rules, start=1)]
    lines.append(("bold", "Lines"))
    lines.append(("", "solid: an event · dashed violet: stage timeout · dashed red: breach move"))
    parts, y = [], top + 10
    for style, line in lines:
        weight = ' font-weight="bold"' if style else ""
        size = TEXT if style else SMALL
        y += LINE if style else SMALL_LINE
        parts.append(f'<text x="30" y="{y:.1f}" font-size="{size}"{weight}>{escape(line)}</text>')
    return "".join(parts), y + 20
