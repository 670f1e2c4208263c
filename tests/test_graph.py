"""`goap graph`: the enables relation and its Mermaid / dot text, pinned on a small catalog.

The expected text was produced by the networkx-based version this replaced (identical on
the seed and deployment catalogs too), so the output did not change when networkx left.
"""

from __future__ import annotations

from goap.loading.catalog import load_catalog
from goap.planning.graph import GOAL, enables, to_dot, to_mermaid

CATALOG = """
version: 1
name: g
state: {built: false, tested: false, shipped: false, n: 0}
goal: {shipped: true, n: ">= 1"}
actions:
  build: {id: B1, effects: {built: true}, cmd: ["true"]}
  test: {pre: {built: true}, effects: {tested: true, n: "+=1"}, cmd: ["true"]}
  ship: {pre: {built: true, tested: true}, effects: {shipped: true}, cmd: ["true"]}
"""

MERMAID = """flowchart TD
    n_build["B1 build"]
    n_test["test"]
    n_ship["ship"]
    n_GOAL["goal"]
    n_build -->|"built == true"| n_test
    n_build -->|"built == true"| n_ship
    n_test -->|"n >= 1"| n_GOAL
    n_test -->|"tested == true"| n_ship
    n_ship -->|"shipped == true"| n_GOAL"""

DOT = """digraph goap {
    rankdir=TB;
    n_build [label="B1 build"];
    n_test [label="test"];
    n_ship [label="ship"];
    n_GOAL [label="goal"];
    n_build -> n_test [label="built == true"];
    n_build -> n_ship [label="built == true"];
    n_test -> n_GOAL [label="n >= 1"];
    n_test -> n_ship [label="tested == true"];
    n_ship -> n_GOAL [label="shipped == true"];
}"""


def graph():
    return enables(load_catalog("g.yaml", CATALOG))


def test_edges_are_the_effects_that_satisfy_preconditions():
    edges = graph().edges
    assert edges[("build", "ship")] == ["built == true"]
    assert ("ship", "build") not in edges and ("build", "build") not in edges
    assert {target for source, target in edges if source == "test"} == {"ship", GOAL}


def test_mermaid_and_dot_text_are_unchanged():
    assert to_mermaid(graph()) == MERMAID
    assert to_dot(graph()) == DOT
