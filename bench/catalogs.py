"""Generated catalogs for benchmarks: the shapes real catalogs take, at any size.

Each generator returns a catalog as a plain dict (dump it as YAML/JSON, or load it with
``goap.loading.catalog.load_catalog(name, json.dumps(doc))``). Costs are deterministic per seed.
"""

from __future__ import annotations

import random
from typing import Any

Doc = dict[str, Any]


def _doc(name: str, state: dict[str, Any], goal: dict[str, Any], actions: dict[str, Any]) -> Doc:
    return {"version": 1, "name": name, "state": state, "goal": goal, "actions": actions}


def _cost(rng: random.Random, unit: bool) -> int:
    return 1 if unit else rng.randint(1, 9)


def chain(n: int, unit: bool = False, seed: int = 0) -> Doc:
    """A deployment-like pipeline: step i needs step i-1; the goal is the last step."""
    rng = random.Random(seed)
    state = {f"chain.s{i}": False for i in range(n)}
    actions = {
        f"step{i}": {
            "cost": _cost(rng, unit),
            "pre": {f"chain.s{i - 1}": True} if i else {},
            "effects": {f"chain.s{i}": True},
        }
        for i in range(n)
    }
    return _doc(f"chain-{n}", state, {f"chain.s{n - 1}": True}, actions)


def wide(n: int, unit: bool = False, seed: int = 0) -> Doc:
    """Independent goals: n flags, each set by its own action (and a costlier alternative)."""
    rng = random.Random(seed)
    goals = max(1, n // 2)
    state = {f"wide.g{i}": False for i in range(goals)}
    actions: dict[str, Any] = {}
    for i in range(goals):
        actions[f"do{i}"] = {"cost": _cost(rng, unit), "effects": {f"wide.g{i}": True}}
        actions[f"alt{i}"] = {
            "cost": _cost(rng, unit) + (0 if unit else 5),
            "effects": {f"wide.g{i}": True},
        }
    return _doc(f"wide-{n}", state, {f"wide.g{i}": True for i in range(goals)}, actions)


def padded(n: int, relevant: int = 10, unit: bool = False, seed: int = 0) -> Doc:
    """A short chain hidden among n - relevant actions that cannot help the goal."""
    rng = random.Random(seed)
    doc = chain(relevant, unit, seed)
    doc["name"] = f"padded-{n}"
    noise = n - relevant
    for i in range(noise):
        doc["state"][f"noise.x{i}"] = False
    for i in range(noise):
        pre = {f"noise.x{rng.randrange(noise)}": True} if i and rng.random() < 0.5 else {}
        doc["actions"][f"noise{i}"] = {
            "cost": _cost(rng, unit),
            "pre": pre,
            "effects": {f"noise.x{i}": True},
        }
    return doc


def counters(n: int, unit: bool = False, seed: int = 0) -> Doc:
    """Numeric counters: commits and retries counted up to thresholds, gated by flags."""
    rng = random.Random(seed)
    groups = max(1, n // 5)
    state: dict[str, Any] = {}
    goal: dict[str, Any] = {}
    actions: dict[str, Any] = {}
    for g in range(groups):
        state[f"c{g}.ready"] = False
        state[f"c{g}.count"] = 0
        state[f"c{g}.done"] = False
        actions[f"prepare{g}"] = {"cost": _cost(rng, unit), "effects": {f"c{g}.ready": True}}
        actions[f"add_one{g}"] = {
            "cost": _cost(rng, unit),
            "pre": {f"c{g}.ready": True},
            "effects": {f"c{g}.count": "+=1"},
        }
        actions[f"add_two{g}"] = {
            "cost": _cost(rng, unit) + (0 if unit else 1),
            "pre": {f"c{g}.ready": True},
            "effects": {f"c{g}.count": "+=2"},
        }
        actions[f"reset{g}"] = {"cost": _cost(rng, unit), "effects": {f"c{g}.count": 0}}
        actions[f"finish{g}"] = {
            "cost": _cost(rng, unit),
            "pre": {f"c{g}.count": ">= 3"},
            "effects": {f"c{g}.done": True},
        }
        goal[f"c{g}.done"] = True
    return _doc(f"counters-{n}", state, goal, actions)


SHAPES = {"chain": chain, "wide": wide, "padded": padded, "counters": counters}
