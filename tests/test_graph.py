"""`goap graph`: the enables relation and its Mermaid / dot text, pinned on a small catalog.

The expected text was produced by the networkx-based version this replaced (identical on
the seed and deployment catalogs too), so the output did not change when networkx left.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError

import pytest

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


QUOTED = """
version: 1
name: q
state: {stage: "none", done: false}
goal: {done: true}
actions:
  tag-release: {effects: {stage: 'say "go"'}, cmd: ["true"]}
  finish: {pre: {stage: 'say "go"'}, effects: {done: true}, cmd: ["true"]}
"""


def test_names_become_identifiers_and_double_quotes_single_ones():
    """Also produced by the networkx version: ``-`` in a name, ``"`` inside a label."""
    quoted = enables(load_catalog("q.yaml", QUOTED))
    assert to_mermaid(quoted) == (
        "flowchart TD\n"
        '    n_tag_release["tag-release"]\n'
        '    n_finish["finish"]\n'
        '    n_GOAL["goal"]\n'
        "    n_tag_release -->|\"stage == 'say 'go''\"| n_finish\n"
        '    n_finish -->|"done == true"| n_GOAL'
    )
    assert to_dot(quoted).splitlines()[-3:] == [
        "    n_tag_release -> n_finish [label=\"stage == 'say 'go''\"];",
        '    n_finish -> n_GOAL [label="done == true"];',
        "}",
    ]


def test_the_graph_is_a_value():
    """Frozen: a caller cannot swap the node or edge tables of a graph it was given."""
    g = graph()
    with pytest.raises(FrozenInstanceError):
        g.nodes = {}  # type: ignore[misc]
    assert list(g.nodes)[-1] == GOAL
