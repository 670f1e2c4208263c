"""The action graph (``goap graph``'s edges) as SVG, the current plan and the run drawn on it.

No layout library: catalogs have tens of actions, so a layered drawing is a few loops.
Each action sits one layer below the actions that enable it (the longest chain of enabling
edges, cycles broken where Kahn's order gets stuck), the goal below all; within a layer the
nodes keep the mean position of their enablers (one barycentre pass), which is enough to
keep the common pipeline shapes uncrossed. Every label is escaped: catalog text is data.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

from goap.loading.catalog import Catalog
from goap.planning.graph import GOAL, enables

NODE_H, LAYER_GAP, NODE_GAP, CHAR_W, PAD = 40, 70, 24, 7.2, 20


@dataclass(frozen=True)
class Box:
    name: str
    label: str
    cost: float | None
    x: float
    y: float
    w: float


def layers(nodes: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Each node's layer: one more than its placed enablers', the goal last."""
    incoming: dict[str, set[str]] = {n: set() for n in nodes}
    for source, target in edges:
        if source != target:
            incoming[target].add(source)
    layer: dict[str, int] = {}
    left = [n for n in nodes if n != GOAL]
    while left:
        ready = [n for n in left if not (incoming[n] - layer.keys())]
        # a cycle: place the node with the fewest unplaced enablers (catalog order breaks ties)
        pick = ready or [min(left, key=lambda n: len(incoming[n] - layer.keys()))]
        for node in pick:
            layer[node] = 1 + max((layer[s] for s in incoming[node] if s in layer), default=-1)
            left.remove(node)
    if GOAL in incoming:
        layer[GOAL] = 1 + max(layer.values(), default=-1)
    return layer


def layout(catalog: Catalog) -> tuple[list[Box], list[tuple[str, str, list[str]]], float, float]:
    """Boxes, edges (source, target, conditions), width and height of the drawing."""
    graph = enables(catalog)
    names = list(graph.nodes)
    layer = layers(names, list(graph.edges))
    costs = {a.name: a.cost for a in catalog.actions}
    rows: dict[int, list[str]] = {}
    for name in names:
        rows.setdefault(layer[name], []).append(name)
    order: dict[str, float] = {}
    for k in sorted(rows):

        def mean(name: str) -> float:
            above = [order[s] for (s, t) in graph.edges if t == name and s in order]
            return sum(above) / len(above) if above else names.index(name) / len(names)

        row = sorted(rows[k], key=mean)
        for i, name in enumerate(row):
            order[name] = i / max(1, len(row) - 1) if len(row) > 1 else 0.5
        rows[k] = row
    widths = {n: max(90.0, CHAR_W * (len(graph.nodes[n]) + 4) + 24) for n in names}  # "12. "
    row_w = {k: sum(widths[n] for n in row) + NODE_GAP * (len(row) - 1) for k, row in rows.items()}
    width = max(row_w.values(), default=200) + 2 * PAD
    boxes = []
    for k, row in sorted(rows.items()):
        x = (width - row_w[k]) / 2
        for name in row:
            y = PAD + k * (NODE_H + LAYER_GAP)
            boxes.append(Box(name, graph.nodes[name], costs.get(name), x, y, widths[name]))
            x += widths[name] + NODE_GAP
    height = PAD * 2 + len(rows) * (NODE_H + LAYER_GAP) - LAYER_GAP
    edges = [(s, t, texts) for (s, t), texts in graph.edges.items()]
    return boxes, edges, width, height


def node_states(document: dict[str, Any]) -> dict[str, str]:
    """Each action's look from a snapshot: running, failed, done (this run), else none."""
    states: dict[str, str] = {}
    run_id = document.get("run_id")
    for attempt in document.get("attempts", []):
        if attempt["run_id"] != run_id:
            continue
        look = {"succeeded": "done", "failed": "failed", "started": "running"}
        states[attempt["action"]] = look.get(attempt["outcome"], "interrupted")
    for attempt in document.get("in_flight", []):
        states[attempt["action"]] = "running"
    return states


def svg(catalog: Catalog, document: dict[str, Any]) -> str:
    """The graph with the snapshot's optimal plan (numbered, its edges bold) and each action's
    state in this run; ``data-action`` names every node for the page and the tests."""
    boxes, edges, width, height = layout(catalog)
    at = {b.name: b for b in boxes}
    planned = (document.get("next_plan") or {}).get("plan") or []
    step = {name: i for i, name in enumerate(planned, 1)}
    states = node_states(document)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="graph" viewBox="0 0 {width:.0f} '
        f'{height:.0f}" width="{width:.0f}" height="{height:.0f}" role="img" '
        f'aria-label="action graph of {escape(catalog.name)}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="5" '
        'markerHeight="5" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker>'
        "</defs>",
    ]
    for source, target, texts in edges:
        a, b = at[source], at[target]
        x1, y1 = a.x + a.w / 2, a.y + NODE_H
        x2, y2 = b.x + b.w / 2, b.y
        bend = max(30.0, abs(y2 - y1) / 2)
        if y2 <= y1:  # an edge back up (a cycle): around the side
            x1, y1, y2 = a.x + a.w, a.y + NODE_H / 2, b.y + NODE_H / 2
            x2 = b.x + b.w
        on_plan = source in step and (target == GOAL or step.get(target, 0) > step[source])
        cls = "edge plan" if on_plan else "edge"
        out.append(
            f'<path class="{cls}" d="M{x1:.1f},{y1:.1f} C{x1:.1f},{y1 + bend:.1f} '
            f'{x2:.1f},{y2 - bend:.1f} {x2:.1f},{y2:.1f}" marker-end="url(#arrow)">'
            f"<title>{escape(source)} → {escape(target)}: {escape(', '.join(texts))}</title>"
            "</path>"
        )
    for box in boxes:
        classes = ["node"]
        if box.name == GOAL:
            classes.append("goal")
        if box.name in step:
            classes.append("plan")
        if box.name in states:
            classes.append(states[box.name])
        cost = "" if box.cost is None else f"cost {box.cost:g}"
        badge = f"{step[box.name]}. " if box.name in step else ""
        out.append(
            f'<g class="{" ".join(classes)}" data-action="{escape(box.name)}" '
            f'data-state="{states.get(box.name, "")}" '
            f'transform="translate({box.x:.1f},{box.y:.1f})">'
            f'<rect width="{box.w:.1f}" height="{NODE_H}" rx="6"/>'
            f'<text x="{box.w / 2:.1f}" y="17" text-anchor="middle">{escape(badge + box.label)}'
            f"</text>"
            f'<text class="cost" x="{box.w / 2:.1f}" y="32" text-anchor="middle">{cost}</text>'
            f"<title>{escape(box.label)}{' · ' + cost if cost else ''}</title></g>"
        )
    out.append("</svg>")
    return "\n".join(out)
