"""Split a catalog into independent sub-problems, to learn an optimum a planner cannot reach whole.

Two state variables belong together when one action reads or writes both. Every action and
every goal condition then lies inside one group of variables (a component), so a plan for the
catalog is an interleaving of plans for its components and the optimal cost of the catalog is
the sum of the optimal costs of its components. Components without a goal variable cannot
help and are left out.

Fast Downward's ``astar(lmcut())`` grows much faster than linearly with the number of
independent goals (wide-1000: about 4 minutes); solving the components in chunks of at most
``max_actions`` actions gives its optimum of the whole in seconds. The split reads only the
catalog document (the names under ``pre``, ``effects`` and ``goal``), independently of goap's
own decomposition (``goap.planning.planner.independent_parts``), so a fault there cannot hide here.
"""

from __future__ import annotations

from typing import Any

Doc = dict[str, Any]


def split(doc: Doc, max_actions: int = 100) -> list[Doc]:
    """Sub-catalogs whose optimal costs add up to the optimal cost of ``doc``."""
    parent = {name: name for name in doc["state"]}

    def find(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    actions = doc["actions"]
    touched = {name: [*a.get("pre", {}), *a.get("effects", {})] for name, a in actions.items()}
    for names in touched.values():
        for other in names[1:]:
            parent[find(other)] = find(names[0])

    components = {find(name): [] for name in doc["goal"]}  # root -> its actions, in order
    for name, names in touched.items():
        if names and find(names[0]) in components:
            components[find(names[0])].append(name)

    chunks: list[list[str]] = []  # component roots per sub-catalog
    size = 0
    for root in components:
        if not chunks or size + len(components[root]) > max_actions:
            chunks.append([])
            size = 0
        chunks[-1].append(root)
        size += len(components[root])
    return [_sub_catalog(doc, set(roots), components, find, i) for i, roots in enumerate(chunks)]


def _sub_catalog(doc: Doc, roots: set[str], components: dict, find: Any, index: int) -> Doc:
    sub = {key: value for key, value in doc.items() if key not in ("sensors", "failure_budget")}
    sub["name"] = f"{doc['name']}-part{index}"
    sub["state"] = {name: spec for name, spec in doc["state"].items() if find(name) in roots}
    sub["goal"] = {name: value for name, value in doc["goal"].items() if find(name) in roots}
    names = {name for root in roots for name in components[root]}
    sub["actions"] = {
        name: {key: value for key, value in action.items() if key in ("cost", "pre", "effects")}
        for name, action in doc["actions"].items()
        if name in names
    }
    return sub
