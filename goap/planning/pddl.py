"""Export a catalog as a PDDL domain and problem, so any classical planner can solve it.

The world state becomes ground facts (no objects, no parameters):

- a boolean ``x`` is the predicate ``(x)``, with a twin ``(not-x)`` kept in step, so a
  condition ``x == false`` needs no negative precondition (pyperplan has none);
- any other variable has one fact per value it can take: ``(x-is-3)``. Its values are the
  initial value, the values actions set and, for counters, every value the additions reach
  once clamped to goap's range (``goap.planning.task.counter_bounds``). A counter that moves
  both ways has no finite range: the export refuses it, naming the variable;
- a condition that holds for one value is that value's fact; one that holds for several
  (``commits >= 3``) gets a fact of its own, ``(commits-ge-3)``, added and deleted by every
  action that changes the variable, so preconditions and goals stay plain conjunctions;
- an action that adds to a counter is split into one action per current value
  (``commit--from-2``), since the new value's fact depends on the old one.

Costs use ``:action-costs`` (scaled to integers when the catalog has fractional costs) unless
every action costs 1, in which case plain STRIPS is written (pyperplan has no action costs).
Variables that no condition or goal reads are left out: they cannot change what solves.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from goap.loading.catalog import Action, Catalog
from goap.loading.logic import OPS, Condition, Effect
from goap.planning.task import counter_bounds
from state.files import write_atomic

OP_WORDS = {"!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq"}
MAX_VALUES = 1000  # values of one variable
MAX_VARIANTS = 10_000  # copies of one action


class ExportError(ValueError):
    """The catalog has no finite PDDL form (the message names the variable and why)."""


@dataclass(frozen=True)
class Export:
    domain: str
    problem: str
    actions: dict[str, str]  # PDDL action name -> catalog action name
    notes: tuple[str, ...]  # how variables were bounded, costs scaled, what was left out
    cost_scale: int  # PDDL cost = catalog cost * cost_scale
    action_costs: bool

    def write(self, directory: str | Path) -> tuple[Path, Path]:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        domain, problem = directory / "domain.pddl", directory / "problem.pddl"
        write_atomic(domain, self.domain)  # never through a link planted at the name
        write_atomic(problem, self.problem)
        return domain, problem

    def read_plan(self, catalog: Catalog, steps: Iterable[str]) -> list[Action]:
        """Catalog actions of a planner's plan: lines like ``(commit--from-2)`` or names."""
        out = []
        for step in steps:
            step = step.strip()
            if not step or step.startswith(";"):
                continue
            name = step.strip("()").split()[0].lower()
            if name not in self.actions:
                raise ExportError(f"plan step {step!r} is not an action of this export")
            out.append(catalog.action(self.actions[name]))
        return out


def export(
    catalog: Catalog,
    world: Mapping[str, Any] | None = None,
    goal: tuple[Condition, ...] | None = None,
    action_costs: bool | None = None,
) -> Export:
    """The PDDL form of planning ``catalog`` from ``world`` (default: its initial state)."""
    world = catalog.initial if world is None else world
    goal = catalog.goal if goal is None else goal
    return _Writer(catalog, world, goal, action_costs).build()


class _Writer:
    def __init__(
        self,
        catalog: Catalog,
        world: Mapping[str, Any],
        goal: tuple[Condition, ...],
        action_costs: bool | None,
    ):
        self.catalog, self.goal = catalog, goal
        self.notes: list[str] = []
        self.names: set[str] = set()
        self.facts: dict[tuple, str] = {}  # (var, value) or (var, op, value) -> predicate
        self.comments: dict[str, str] = {}
        # per variable, the facts of its conditions that hold for several values: they
        # change with it, so every action that changes it adds or deletes them
        self.condition_of: dict[str, list[tuple[str, Condition]]] = defaultdict(list)
        read = {c.var for c in goal} | {c.var for a in catalog.actions for c in a.pre}
        self.vars = [v for v in catalog.schema.variables if v.name in read]
        left_out = [v.name for v in catalog.schema.variables if v.name not in read]
        if left_out:
            self.notes.append(f"left out (no condition reads them): {', '.join(left_out)}")
        bounds = dict(zip(catalog.schema.index, counter_bounds(catalog, goal), strict=True))
        self.bounds = {v.name: bounds[v.name] for v in self.vars}
        self.init = {v.name: _clamp(world[v.name], self.bounds[v.name]) for v in self.vars}
        self.effects_on: dict[str, list[Effect]] = defaultdict(list)
        for a in catalog.actions:
            for e in a.effects:
                self.effects_on[e.var].append(e)
        self.domains = {v.name: self._values(v.name, v.type) for v in self.vars}
        costs = [a.cost for a in catalog.actions]
        self.scale = _scale(costs)
        if self.scale != 1:
            self.notes.append(f"costs multiplied by {self.scale} to make them integers")
        self.action_costs = any(c != 1 for c in costs) if action_costs is None else action_costs
        self.name = _ident(catalog.name, set())

    # ------------------------------------------------------------ values and facts

    def _values(self, var: str, type_: str) -> list[Any]:
        """Every value ``var`` can take, in a stable order."""
        if type_ == "bool":
            return [False, True]
        effects = self.effects_on[var]
        adds = [e.value for e in effects if e.kind == "add"]
        sets = [e.value for e in effects if e.kind == "set"]
        values = {self.init[var], *sets}
        bound = self.bounds[var]
        if adds and bound is None:
            ups = sorted({d for d in adds if d > 0})
            downs = sorted({d for d in adds if d <= 0})
            raise ExportError(
                f"cannot export {var}: actions add {ups} and {downs} to it, so it has no "
                f"finite range of values (goap clamps only counters that move one way); "
                f"make it move one way, or replace the counter by a bounded set of values"
            )
        frontier = list(values)
        while frontier and adds:
            value = frontier.pop()
            for delta in adds:
                new = _clamp(value + delta, bound)
                if new not in values:
                    values.add(new)
                    frontier.append(new)
                    if len(values) > MAX_VALUES:
                        raise ExportError(
                            f"cannot export {var}: more than {MAX_VALUES} values between "
                            f"{min(values)} and {max(values)}"
                        )
        if adds:
            low, high = bound
            edge, side, mentioned = (
                (high, "up", f"above {high - 1}")
                if high is not None
                else (low, "down", f"below {low + 1}")
            )
            self.notes.append(
                f"{var}: bounded to {min(values)}..{max(values)} as goap clamps it: the "
                f"catalog mentions no number {mentioned}, so every value from {edge} {side} "
                f"behaves alike and is written as {edge}"
            )
        return sorted(values, key=lambda v: (str(type(v)), v))

    def _predicate(self, key: tuple, text: str, comment: str) -> str:
        if key not in self.facts:
            self.facts[key] = _ident(text, self.names)
            self.comments[self.facts[key]] = comment
        return self.facts[key]

    def value_fact(self, var: str, value: Any) -> str:
        base = var.replace(".", "-")
        if isinstance(value, bool):
            text = base if value else f"not-{base}"
        else:
            text = f"{base}-is-{_word(value)}"
        return self._predicate((var, value), text, str(Condition(var, "==", value)))

    def condition_facts(self, var: str, allowed: list[Any], cond: Condition) -> list[str]:
        """The facts that say ``cond`` holds, given it holds exactly for ``allowed``."""
        if len(allowed) == len(self.domains[var]):
            return []
        if len(allowed) == 1:
            return [self.value_fact(var, allowed[0])]
        if not allowed:
            return [self._predicate(("never",), "impossible", "never true")]
        key = (var, cond.op, cond.value)
        if key not in self.facts:
            text = f"{var.replace('.', '-')}-{OP_WORDS[cond.op]}-{_word(cond.value)}"
            self.condition_of[var].append((self._predicate(key, text, str(cond)), cond))
        return [self.facts[key]]

    # ------------------------------------------------------------ actions

    def allowed(self, cond: Condition, values: list[Any]) -> list[Any]:
        return [v for v in values if OPS[cond.op](v, cond.value)]

    def action_blocks(self, action: Action) -> list[str]:
        allowed: dict[str, list[Any]] = {}  # values of each variable the preconditions allow
        for c in action.pre:
            allowed[c.var] = self.allowed(c, allowed.get(c.var, self.domains[c.var]))
        effects = [e for e in action.effects if e.var in self.domains]
        split = [e.var for e in effects if e.kind == "add"]
        choices = [allowed.get(var, self.domains[var]) for var in split]
        count = 1
        for values in choices:
            count *= len(values)
        if count > MAX_VARIANTS:
            raise ExportError(
                f"cannot export action {action.name}: it would become {count} actions "
                f"(one per value of {', '.join(split)})"
            )
        base = _ident(action.name, self.names)
        blocks = []
        for olds in itertools.product(*choices):
            old = dict(zip(split, olds, strict=True))
            for var, values in allowed.items():
                if var not in old and len(values) == 1:
                    old[var] = values[0]  # the precondition pins it
            pre = [self.value_fact(var, old[var]) for var in split]
            for c in action.pre:
                if c.var not in split:
                    pre += self.condition_facts(c.var, self.allowed(c, self.domains[c.var]), c)
            name = base
            if split:
                name = _ident(base + "".join(f"--from-{_word(old[v])}" for v in split), self.names)
            adds, dels = self.changes(effects, old)
            self.action_names[name] = action.name
            blocks.append(self.action_text(name, action.cost, pre, adds, dels))
        return blocks

    def changes(self, effects: list, old: dict[str, Any]) -> tuple[list[str], list[str]]:
        adds: list[str] = []
        dels: list[str] = []
        for e in effects:
            known = e.var in old
            before = old.get(e.var)
            new = e.value if e.kind == "set" else _clamp(before + e.value, self.bounds[e.var])
            if known and before == new:
                continue
            adds.append(self.value_fact(e.var, new))
            if known:
                dels.append(self.value_fact(e.var, before))
            else:
                dels += [self.value_fact(e.var, v) for v in self.domains[e.var] if v != new]
            for fact, cond in self.condition_of[e.var]:
                now = OPS[cond.op](new, cond.value)
                if known and now == OPS[cond.op](before, cond.value):
                    continue
                (adds if now else dels).append(fact)
        return adds, dels

    def action_text(
        self, name: str, cost: float, pre: list[str], adds: list[str], dels: list[str]
    ) -> str:
        effects = [f"({f})" for f in adds] + [f"(not ({f}))" for f in dels]
        if self.action_costs:
            effects.append(f"(increase (total-cost) {round(cost * self.scale)})")
        return (
            f"  (:action {name}\n"
            f"    :parameters ()\n"
            f"    :precondition (and{''.join(f' ({f})' for f in sorted(set(pre)))})\n"
            f"    :effect (and{''.join(' ' + e for e in effects)}))\n"
        )

    # ------------------------------------------------------------ files

    def build(self) -> Export:
        self.action_names: dict[str, str] = {}
        for v in self.vars:
            for value in self.domains[v.name]:
                self.value_fact(v.name, value)
        # every condition fact exists before the actions that maintain them are written
        goal_facts = []
        for c in self.goal:
            goal_facts += self.condition_facts(c.var, self.allowed(c, self.domains[c.var]), c)
        for a in self.catalog.actions:
            for c in a.pre:
                self.condition_facts(c.var, self.allowed(c, self.domains[c.var]), c)
        blocks = [b for a in self.catalog.actions for b in self.action_blocks(a)]
        init = [self.value_fact(v.name, self.init[v.name]) for v in self.vars]
        for (var, *rest), fact in list(self.facts.items()):
            if len(rest) == 2 and OPS[rest[0]](self.init[var], rest[1]):
                init.append(fact)
        requirements = ":strips :action-costs" if self.action_costs else ":strips"
        header = "".join(f"; {n}\n" for n in self.notes)
        predicates = "".join(
            f"    ({name})  ; {self.comments[name]}\n" for name in self.facts.values()
        )
        functions = "  (:functions (total-cost) - number)\n" if self.action_costs else ""
        domain = (
            f"; goap export of catalog {self.catalog.name!r}\n{header}"
            f"(define (domain {self.name})\n"
            f"  (:requirements {requirements})\n"
            f"  (:predicates\n{predicates}  )\n{functions}" + "".join(blocks) + ")\n"
        )
        metric = "  (:metric minimize (total-cost))\n" if self.action_costs else ""
        zero = " (= (total-cost) 0)" if self.action_costs else ""
        problem = (
            f"(define (problem {self.name}-problem)\n"
            f"  (:domain {self.name})\n"
            f"  (:objects)\n"
            f"  (:init{''.join(f' ({f})' for f in init)}{zero})\n"
            f"  (:goal (and{''.join(f' ({f})' for f in sorted(set(goal_facts)))}))\n"
            f"{metric})\n"
        )
        return Export(
            domain,
            problem,
            self.action_names,
            tuple(self.notes),
            self.scale,
            self.action_costs,
        )


def _clamp(value: Any, bound: tuple[Any, Any] | None) -> Any:
    if bound is None:
        return value
    low, high = bound
    if high is not None and value > high:
        return high
    if low is not None and value < low:
        return low
    return value


def _scale(costs: list[float]) -> int:
    """The smallest power of ten that makes every cost an integer."""
    for digits in range(7):
        scale = 10**digits
        if all(abs(c * scale - round(c * scale)) < 1e-9 for c in costs):
            return scale
    raise ExportError("costs need more than 6 decimal places; round them")


def _word(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value).replace("-", "m").replace(".", "_")
    return str(value) or "empty"


def _ident(text: str, taken: set[str]) -> str:
    """A PDDL name for ``text``: lowercase letters, digits, ``-`` and ``_``, and unique."""
    name = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-") or "x"
    if not name[0].isalpha():
        name = "x-" + name
    unique, n = name, 1
    while unique in taken:
        n += 1
        unique = f"{name}-{n}"
    taken.add(unique)
    return unique
