"""``goap validate``: what is wrong or useless in a catalog, beyond what loading refuses."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from goap.loading.catalog import Catalog
from goap.planning.relaxed import INF, Relaxation
from goap.planning.task import TaskAction, compile_task


@dataclass(frozen=True)
class Finding:
    severity: str  # "error" or "warning"
    where: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def lint(catalog: Catalog) -> list[Finding]:
    task = compile_task(catalog, catalog.initial)
    observed = {v for a in catalog.actions if a.executor for v in a.executor.observe}
    observed |= {v for s in catalog.sensors for v in s.executor.observe}
    # What executors and sensors observe can take any value at run time: model each
    # observation as a free action that can make any condition on that variable true.
    atoms = Relaxation(task).atoms
    sights = [
        TaskAction(-1, "(observed)", 0.0, (), ((atom.var, _witness(atom.op, atom.value)),), ())
        for atom in atoms
        if task.names[atom.var] in observed
    ]
    relaxation = Relaxation(task, [*task.actions, *sights])
    cost, _ = relaxation.propagate(task.init, "max")
    findings = []
    for i in relaxation.unreachable_goals(task.init):
        findings.append(
            Finding(
                "error",
                f"goal.{catalog.goal[i].var}",
                f"no sequence of actions can make {catalog.goal[i]} true",
            )
        )
    for k, action in enumerate(catalog.actions):
        dead = [relaxation.atom_text(p) for p in relaxation.pre[k] if cost[p] == INF]
        if dead:
            findings.append(
                Finding(
                    "error",
                    f"actions.{action.name}",
                    f"can never apply: nothing makes {', '.join(dead)} true",
                )
            )
    relevant = {a.name for a in Relaxation(task).relevant()}
    for action in catalog.actions:
        if action.name not in relevant:
            findings.append(
                Finding(
                    "warning",
                    f"actions.{action.name}",
                    "cannot contribute to the goal (pruned when planning)",
                )
            )
    conditioned = {c.var for c in catalog.goal} | {c.var for a in catalog.actions for c in a.pre}
    changed = {e.var for a in catalog.actions for e in a.effects}
    for action in catalog.actions:
        for effect in action.effects:
            if effect.var not in conditioned:
                findings.append(
                    Finding(
                        "warning",
                        f"actions.{action.name}.effects.{effect.var}",
                        "no goal or precondition reads this variable",
                    )
                )
    for var in catalog.schema.variables:
        if var.name not in conditioned | changed | observed:
            findings.append(
                Finding(
                    "warning",
                    f"state.{var.name}",
                    "unused: no condition, effect or observation mentions it",
                )
            )
    return findings


def _witness(op: str, value: Any) -> Any:
    """A value that satisfies ``x <op> value``."""
    if op in ("==", ">=", "<="):
        return value
    if isinstance(value, bool):
        return not value
    if isinstance(value, str):
        return value + "~"
    return value + 1 if op in (">", "!=") else value - 1
