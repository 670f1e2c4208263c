"""``goap graph``: which action enables which, as Mermaid or Graphviz dot."""

from __future__ import annotations

from dataclasses import dataclass, field

from goap.loading.catalog import Catalog
from goap.planning.relaxed import Relaxation
from goap.planning.task import compile_task

GOAL = "GOAL"


@dataclass
class Enables:
    """Nodes (name -> label) and edges ((source, target) -> the conditions), in order."""

    nodes: dict[str, str] = field(default_factory=dict)
    edges: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def link(self, source: str, target: str, text: str) -> None:
        self.edges.setdefault((source, target), []).append(text)


def enables(catalog: Catalog) -> Enables:
    """Edge a -> b when an effect of a can make a precondition of b true (labelled by it)."""
    relaxation = Relaxation(compile_task(catalog, catalog.initial))
    graph = Enables()
    for action in catalog.actions:
        graph.nodes[action.name] = f"{action.id + ' ' if action.id else ''}{action.name}"
    graph.nodes[GOAL] = "goal"
    for k, achieved in enumerate(relaxation.adds):
        source = catalog.actions[k].name
        for atom in achieved:
            for user in relaxation.users[atom]:
                target = catalog.actions[user].name
                if target != source:
                    graph.link(source, target, relaxation.atoms_text(atom))
            if atom in relaxation.goal:
                graph.link(source, GOAL, relaxation.atoms_text(atom))
    return graph


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
