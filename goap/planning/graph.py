"""``goap graph``: which action enables which, as Mermaid or Graphviz dot.

The graph is two ordered dicts, not a graph library: all we do is list nodes and labelled
edges in the order they were found, and that order (actions in catalog order, each one's
edges in the order its effects and their users come) is what keeps the text stable.
"""

from __future__ import annotations

from dataclasses import dataclass

from goap.loading.catalog import Catalog
from goap.planning.relaxed import Relaxation
from goap.planning.task import compile_task

GOAL = "GOAL"


@dataclass(frozen=True)
class Enables:
    """Nodes (name -> label) and edges ((source, target) -> the conditions), in order.

    Edges are grouped by source, sources in node order (as a DiGraph lists them).
    """

    nodes: dict[str, str]
    edges: dict[tuple[str, str], list[str]]


def enables(catalog: Catalog) -> Enables:
    """Edge a -> b when an effect of a can make a precondition of b true (labelled by it)."""
    relaxation = Relaxation(compile_task(catalog, catalog.initial))
    nodes = {a.name: f"{a.id + ' ' if a.id else ''}{a.name}" for a in catalog.actions}
    nodes[GOAL] = "goal"
    edges: dict[tuple[str, str], list[str]] = {}
    for k, achieved in enumerate(relaxation.achieves):
        source = catalog.actions[k].name
        for atom in achieved:
            text = relaxation.atom_text(atom)
            for user in relaxation.users[atom]:
                target = catalog.actions[user].name
                if target != source:
                    edges.setdefault((source, target), []).append(text)
            if relaxation.is_goal_atom[atom]:
                edges.setdefault((source, GOAL), []).append(text)
    return Enables(nodes, edges)


def _id(name: str) -> str:
    return "n_" + "".join(ch if ch.isalnum() else "_" for ch in name)


def _label(texts: list[str]) -> str:
    return ", ".join(texts).replace('"', "'")


def to_mermaid(graph: Enables) -> str:
    lines = ["flowchart TD"]
    lines += [f'    {_id(node)}["{label}"]' for node, label in graph.nodes.items()]
    lines += [
        f'    {_id(source)} -->|"{_label(texts)}"| {_id(target)}'
        for (source, target), texts in graph.edges.items()
    ]
    return "\n".join(lines)


def to_dot(graph: Enables) -> str:
    lines = ["digraph goap {", "    rankdir=TB;"]
    lines += [f'    {_id(node)} [label="{label}"];' for node, label in graph.nodes.items()]
    lines += [
        f'    {_id(source)} -> {_id(target)} [label="{_label(texts)}"];'
        for (source, target), texts in graph.edges.items()
    ]
    lines.append("}")
    return "\n".join(lines)
