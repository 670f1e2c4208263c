"""``goap graph``: which action enables which, as Mermaid or Graphviz dot."""

from __future__ import annotations

import networkx as nx

from goap.loading.catalog import Catalog
from goap.planning.relaxed import Relaxation
from goap.planning.task import compile_task

GOAL = "GOAL"


def enables(catalog: Catalog) -> nx.DiGraph:
    """Edge a -> b when an effect of a can make a precondition of b true (labelled by it)."""
    relaxation = Relaxation(compile_task(catalog, catalog.initial))
    graph = nx.DiGraph()
    for action in catalog.actions:
        graph.add_node(action.name, label=f"{action.id + ' ' if action.id else ''}{action.name}")
    graph.add_node(GOAL, label="goal")
    for k, adds in enumerate(relaxation.adds):
        source = catalog.actions[k].name
        for atom in adds:
            for user in relaxation.users[atom]:
                target = catalog.actions[user].name
                if target != source:
                    _label(graph, source, target, relaxation.atoms_text(atom))
            if atom in relaxation.goal:
                _label(graph, source, GOAL, relaxation.atoms_text(atom))
    return graph


def _label(graph: nx.DiGraph, source: str, target: str, text: str) -> None:
    if graph.has_edge(source, target):
        graph[source][target]["labels"].append(text)
    else:
        graph.add_edge(source, target, labels=[text])


def _id(name: str) -> str:
    return "n_" + "".join(ch if ch.isalnum() else "_" for ch in name)


def to_mermaid(graph: nx.DiGraph) -> str:
    lines = ["flowchart TD"]
    for node, data in graph.nodes(data=True):
        lines.append(f'    {_id(node)}["{data["label"]}"]')
    for source, target, data in graph.edges(data=True):
        label = ", ".join(data["labels"]).replace('"', "'")
        lines.append(f'    {_id(source)} -->|"{label}"| {_id(target)}')
    return "\n".join(lines)


def to_dot(graph: nx.DiGraph) -> str:
    lines = ["digraph goap {", "    rankdir=TB;"]
    for node, data in graph.nodes(data=True):
        lines.append(f'    {_id(node)} [label="{data["label"]}"];')
    for source, target, data in graph.edges(data=True):
        label = ", ".join(data["labels"]).replace('"', "'")
        lines.append(f'    {_id(source)} -> {_id(target)} [label="{label}"];')
    lines.append("}")
    return "\n".join(lines)
