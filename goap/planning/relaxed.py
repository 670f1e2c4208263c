"""The delete relaxation: what planning would be if effects never made anything false.

Every distinct condition of the goal and of the preconditions is an *atom*. An action
*achieves* an atom if it can turn it from false to true: a set whose value satisfies it, or an
add that moves the number in the right direction. That static relation is sound (whatever
flips an atom to true in a real plan is one of its achievers), so costs computed on it are
lower bounds. It gives us:

- reachability: goal conditions no sequence of actions can satisfy (named before searching);
- relevance: actions that cannot contribute to the goal (pruned before searching);
- heuristics: h_max and LM-cut (admissible), h_add, h_FF and goal count (fast, inadmissible);
- lookahead: a relaxed plan tried in the real task, which often is a real plan.

Atoms, actions and their relations are lists of integers, built once per plan call.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import NamedTuple

from goap.loading.logic import OPS, Condition
from goap.planning.task import State, Task, TaskAction

INF = float("inf")
OP_NAMES = {fn: name for name, fn in OPS.items()}
RAISES = (">", ">=", "==", "!=")  # atoms an increase can make true
LOWERS = ("<", "<=", "==", "!=")


class Atom(NamedTuple):
    var: int
    op: str
    value: object


class Relaxation:
    """Atoms, achievers and users of a task, precomputed once per plan call.

    Atoms and actions are numbered (an action's number is its position in ``actions``), and
    everything below is a list indexed by one of them, so the hot loops read integers:

    - ``atoms[k]``: atom k as (variable index, operator name, value);
    - ``tests[k]``: the same atom as a test ``(variable index, operator function, value)``;
    - ``by_var[i]``: the atoms on variable i;
    - ``goal_atoms[j]``: the atom of goal condition j (aligned with ``task.goal``);
    - ``goal``: the distinct goal atoms, sorted;
    - ``is_goal_atom[k]``: whether atom k is in ``goal``;
    - ``pre[a]``: the atoms action a needs (sorted, distinct);
    - ``npre[a]``: ``len(pre[a])``, the count propagation ticks down;
    - ``no_pre``: the actions with no precondition (they fire in every state);
    - ``achieves[a]``: the atoms action a can make true;
    - ``achievers[k]``: the actions that can make atom k true (the inverse of ``achieves``);
    - ``users[k]``: the actions that need atom k (the inverse of ``pre``);
    - ``costs[a]``: the cost of action a.
    """

    def __init__(self, task: Task, actions: Sequence[TaskAction] | None = None):
        self.task = task
        self.actions = tuple(task.actions if actions is None else actions)
        self.atoms: list[Atom] = []
        ids: dict[tuple, int] = {}

        def atom_id(test: tuple) -> int:
            k = ids.get(test)
            if k is None:
                k = ids[test] = len(self.atoms)
                self.atoms.append(Atom(test[0], OP_NAMES[test[1]], test[2]))
            return k

        self.goal_atoms = [atom_id(t) for t in task.goal]  # aligned with task.goal
        self.goal = tuple(sorted(set(self.goal_atoms)))
        self.pre = [tuple(sorted({atom_id(t) for t in a.pre})) for a in self.actions]
        self.tests = [(a.var, OPS[a.op], a.value) for a in self.atoms]
        self.by_var: dict[int, list[int]] = {}
        for k, atom in enumerate(self.atoms):
            self.by_var.setdefault(atom.var, []).append(k)
        self.achieves = [self._achieved(a) for a in self.actions]
        self.users: list[list[int]] = [[] for _ in self.atoms]
        for k, pre in enumerate(self.pre):
            for p in pre:
                self.users[p].append(k)
        self.achievers: list[list[int]] = [[] for _ in self.atoms]
        for k, achieved in enumerate(self.achieves):
            for e in achieved:
                self.achievers[e].append(k)
        self.costs = [a.cost for a in self.actions]
        self.no_pre = [k for k, pre in enumerate(self.pre) if not pre]
        self.npre = [len(p) for p in self.pre]
        self._lm: tuple | None = None  # LM-cut's graph (h_lmcut builds it on first use)
        self._last: tuple | None = None  # (state, its relaxed plan): see relaxed_plan_at
        self.is_goal_atom = [False] * len(self.atoms)
        for g in self.goal:
            self.is_goal_atom[g] = True

    def _achieved(self, action: TaskAction) -> tuple[int, ...]:
        out = set()
        tests = self.tests
        for i, value in action.sets:
            for k in self.by_var.get(i, ()):
                if tests[k][1](value, tests[k][2]):
                    out.add(k)
        for i, delta, _, _ in action.adds:
            wanted = RAISES if delta > 0 else LOWERS if delta < 0 else ()
            out.update(k for k in self.by_var.get(i, ()) if self.atoms[k].op in wanted)
        return tuple(sorted(out))

    def atom_text(self, k: int) -> str:
        """Atom k as the condition a catalog would write (``tests.passed == true``)."""
        atom = self.atoms[k]
        return str(Condition(self.task.names[atom.var], atom.op, atom.value))

    def holding(self, state: State) -> list[bool]:
        return [op(state[i], value) for i, op, value in self.tests]

    # ------------------------------------------------------------ cost propagation

    def propagate(
        self,
        state: State,
        combine: str = "max",
        costs: Sequence[float] | None = None,
        complete: bool = True,
    ) -> tuple[list[float], list[int]]:
        """Generalized Dijkstra over atoms: cost of each atom and its cheapest achiever.

        ``combine`` is how an action's precondition costs add up: "max" (h_max) or "sum"
        (h_add). Atoms true in ``state`` cost 0; unreachable ones cost INF. Unless
        ``complete``, h_max stops as soon as every goal atom is settled (the costs of atoms
        not yet settled are then upper bounds, not final).
        """
        costs = self.costs if costs is None else costs
        cost = [INF] * len(self.atoms)
        supporter = [-1] * len(self.atoms)
        pre, achieves, users, is_goal = self.pre, self.achieves, self.users, self.is_goal_atom
        unsat = self.npre[:]
        goals_left = len(self.goal)
        ready = list(self.no_pre)  # actions whose preconditions all hold: they fire at 0
        for k, (i, op, value) in enumerate(self.tests):
            if op(state[i], value):
                cost[k] = 0.0
                goals_left -= is_goal[k]
                for a in users[k]:
                    unsat[a] -= 1
                    if unsat[a] == 0:
                        ready.append(a)
        use_sum = combine == "sum"
        stop = not complete and not use_sum
        if stop and goals_left == 0:
            return cost, supporter
        heap: list[tuple[float, int]] = []
        for a in ready:
            value = costs[a]
            for e in achieves[a]:
                if value < cost[e]:
                    cost[e] = value
                    supporter[e] = a
                    heap.append((value, e))
        heapq.heapify(heap)
        push, pop = heapq.heappush, heapq.heappop
        while heap:
            c, atom = pop(heap)
            if c > cost[atom]:
                continue  # stale entry: a cheaper one was popped already
            if stop and is_goal[atom]:
                goals_left -= 1
                if goals_left == 0:
                    break
            for a in users[atom]:
                unsat[a] -= 1
                if unsat[a] == 0:
                    value = (sum([cost[p] for p in pre[a]]) if use_sum else c) + costs[a]
                    for e in achieves[a]:
                        if value < cost[e]:
                            cost[e] = value
                            supporter[e] = a
                            push(heap, (value, e))
        return cost, supporter

    def h_max(self, state: State) -> float:
        cost, _ = self.propagate(state, "max", complete=False)
        return max([cost[g] for g in self.goal], default=0.0)

    def h_add(self, state: State) -> float:
        cost, _ = self.propagate(state, "sum")
        return sum([cost[g] for g in self.goal])

    def relaxed_plan(self, cost: list[float], supporter: list[int]) -> list[int]:
        """Actions of the relaxed plan read off best supporters, in an order that applies.

        An action comes after the supporters of its preconditions: with positive costs its
        "level" (the cost of its preconditions) is larger than theirs.
        """
        chosen: set[int] = set()
        stack = [g for g in self.goal if cost[g] > 0]
        seen: set[int] = set()
        while stack:
            atom = stack.pop()
            if atom in seen:
                continue
            seen.add(atom)
            k = supporter[atom]
            if k not in chosen:
                chosen.add(k)
                stack.extend(p for p in self.pre[k] if cost[p] > 0)
        return sorted(chosen, key=lambda k: (sum([cost[p] for p in self.pre[k]]), k))

    def relaxed_plan_at(self, state: State) -> list[int] | None:
        """The relaxed plan from ``state`` (h_add's best supporters), None where the goal is
        unreachable. The last one is kept: at the start the lookahead and the landmark
        bound both read it."""
        if self._last is not None and self._last[0] is state:
            return self._last[1]
        cost, supporter = self.propagate(state, "sum")
        steps = None
        if all(cost[g] < INF for g in self.goal):
            steps = self.relaxed_plan(cost, supporter)
        self._last = (state, steps)
        return steps

    def h_ff(self, state: State) -> float:
        """Cost of a relaxed plan read off the h_add best supporters."""
        cost, supporter = self.propagate(state, "sum")
        if any(cost[g] == INF for g in self.goal):
            return INF
        return sum(self.costs[k] for k in self.relaxed_plan(cost, supporter))

    def _cut_graph(self) -> tuple[list, list, list, list]:
        """LM-cut's graph, built on first use: every action gets a precondition (an
        always-true atom INIT if it has none) and one more action, of cost 0, needs the
        whole goal and achieves the atom GOAL. Atoms INIT and GOAL come after the others.
        Preconditions are listed from the highest atom number down (LM-cut's tie-breaking,
        see h_lmcut)."""
        if self._lm is None:
            n, goal_action = len(self.atoms), len(self.actions)
            init, goal = n + 1, n
            pre = [p[::-1] or (init,) for p in self.pre] + [self.goal[::-1] or (init,)]
            eff = [*self.achieves, (goal,)]
            users: list[list[int]] = [[] for _ in range(n + 2)]
            achievers: list[list[int]] = [[] for _ in range(n + 2)]
            for a in range(goal_action + 1):
                for q in pre[a]:
                    users[q].append(a)
                for e in eff[a]:
                    achievers[e].append(a)
            self._lm = (pre, eff, users, achievers)
        return self._lm

    def h_lmcut(self, state: State) -> float:
        """LM-cut (Helmert & Domshlak 2009): admissible, and exact on independent goals.

        Repeatedly: find a cut of actions that every relaxed plan must use (a disjunctive
        action landmark) in the graph of each action's costliest precondition (h_max),
        add its cheapest cost and discount those actions. As in Fast Downward, h_max is
        computed once per state and then only lowered where the discounts reach, instead
        of from scratch for every cut.

        Ties decide which precondition is an action's pcf, and so the cuts: atoms of equal
        cost leave the queue from the highest number down (goal atoms are numbered first,
        so they come last), and a pcf moves only to a costlier precondition, the first in
        ``_cut_graph``'s order. Chosen by measurement on bench/ipc: at the start of its 63
        tasks this is never below Fast Downward's value and above it on 7 (ascending
        order: below on 5, above on 5).
        """
        pre, eff, users, achievers = self._cut_graph()
        n = len(self.atoms)
        goal, init = n, n + 1
        opcost = [*self.costs, 0.0]
        cost = [INF] * (n + 2)
        pcf = [-1] * len(pre)  # each action's costliest precondition (-1: not reached)
        unsat = [len(p) for p in pre]
        true = [k for k, (i, op, value) in enumerate(self.tests) if op(state[i], value)]
        true.append(init)
        heap = [(0.0, -k) for k in true]
        heapq.heapify(heap)
        for k in true:
            cost[k] = 0.0
        done = bytearray(n + 2)
        push, pop = heapq.heappush, heapq.heappop
        while heap:
            c, atom = pop(heap)
            atom = -atom
            if done[atom]:
                continue
            done[atom] = 1
            for a in users[atom]:
                unsat[a] -= 1
                if unsat[a] == 0:
                    pcf[a] = atom
                    v = c + opcost[a]
                    for e in eff[a]:
                        if v < cost[e]:
                            cost[e] = v
                            push(heap, (v, -e))
        if cost[goal] == INF:
            return INF
        chosen: list[list[int]] = [[] for _ in range(n + 2)]  # the actions pcf points atom at
        for a, p in enumerate(pcf):
            if p >= 0:
                chosen[p].append(a)
        total = 0.0
        while cost[goal] > 0:
            zone = self._goal_zone(pcf, chosen, cost, opcost)
            seen = bytearray(n + 2)  # reached from the state without entering the zone
            for k in true:
                seen[k] = 1
            stack = list(true)
            cut = []
            while stack:
                for a in chosen[stack.pop()]:
                    effects = eff[a]
                    for e in effects:
                        if zone[e]:
                            cut.append(a)  # its other effects stay unreached (as in FD)
                            break
                    else:
                        for e in effects:
                            if not seen[e]:
                                seen[e] = 1
                                stack.append(e)
            step = min([opcost[a] for a in cut])
            total += step
            heap = []
            for a in cut:
                opcost[a] -= step
                v = cost[pcf[a]] + opcost[a]
                for e in eff[a]:
                    if v < cost[e]:
                        cost[e] = v
                        heap.append((v, -e))
            heapq.heapify(heap)
            while heap:  # lower h_max where the discounts reach (values only go down)
                c, atom = pop(heap)
                atom = -atom
                if c > cost[atom]:
                    continue
                for a in list(chosen[atom]):  # the others have a costlier precondition
                    best, top = atom, c
                    for q in pre[a]:
                        if cost[q] > top:
                            best, top = q, cost[q]
                    if best != atom:
                        chosen[atom].remove(a)
                        chosen[best].append(a)
                        pcf[a] = best
                    v = top + opcost[a]
                    for e in eff[a]:
                        if v < cost[e]:
                            cost[e] = v
                            push(heap, (v, -e))
        return total

    def _goal_zone(
        self, pcf: list[int], chosen: list[list[int]], cost: list[float], opcost: list[float]
    ) -> bytearray:
        """The atoms that reach GOAL along zero-cost actions and their pcf (depth first).

        Where a zero-cost action has several costliest preconditions, its pcf moves to one
        that no zero-cost action achieves (the zone's border) or that is in the zone already,
        as Fast Downward does: the cuts then separate the goals' landmarks instead of
        merging them (scanalyzer 4 -> 6, openstacks 9 -> 16 at the start).
        """
        pre, _, _, achievers = self._cut_graph()
        goal = len(self.atoms)
        zone = bytearray(goal + 2)
        zone[goal] = 1
        atoms, at = [goal], [0]  # the recursion's frames: an atom, its next achiever
        while atoms:
            todo = achievers[atoms[-1]]
            k = at[-1]
            while k < len(todo) and (opcost[todo[k]] != 0 or pcf[todo[k]] < 0):
                k += 1
            if k == len(todo):
                atoms.pop()
                at.pop()
                continue
            at[-1] = k + 1
            a = todo[k]
            top = cost[pcf[a]]
            for q in pre[a]:
                if cost[q] == top and (zone[q] or all(opcost[b] != 0 for b in achievers[q])):
                    if q != pcf[a]:
                        chosen[pcf[a]].remove(a)
                        chosen[q].append(a)
                        pcf[a] = q
                    break
            p = pcf[a]
            if not zone[p]:
                zone[p] = 1
                atoms.append(p)
                at.append(0)
        return zone

    def goal_count(self, state: State) -> float:
        return float(sum(1 for i, op, value in self.task.goal if not op(state[i], value)))

    # ------------------------------------------------------------ lookahead

    def lookahead(self, state: State, budget: float = INF) -> tuple[list[TaskAction], float]:
        """Try the relaxed plan in the real task; return (steps, cost), or ([], INF).

        The relaxed plan (h_add best supporters, in level order) is applied pass after
        pass, each action when it applies and changes the state, until the goal holds.
        When it works, and its cost equals an admissible estimate, the search is over:
        no plan can be cheaper than a lower bound (YAHSP's lookahead, kept optimal).
        """
        relaxed = self.relaxed_plan_at(state)
        if relaxed is None:
            return [], INF
        task = self.task
        pending = [self.actions[k] for k in relaxed]
        values = list(state)
        steps: list[TaskAction] = []
        total = 0.0
        limit = 2 * len(pending) + 8
        while not task.is_goal(values):
            progress = False
            for action in pending:
                if not task.applicable(action, values) or not task.apply_in_place(action, values):
                    continue
                progress, total = True, total + action.cost
                steps.append(action)
                if total >= budget or len(steps) > limit:
                    return [], INF
                if task.is_goal(values):
                    return steps, total
            if not progress:
                return [], INF
        return steps, total

    def landmark_bound(self, state: State) -> float:
        """Sum of the costs of the actions that every relaxed plan from ``state`` uses.

        Every real plan is a relaxed plan, so it uses each of these actions at least once:
        an admissible bound, often above h_max on parallel branches (validate three things,
        then commit three times...). Only actions of one relaxed plan can qualify, and each
        is tested by one reachability pass without it.
        """
        relaxed = self.relaxed_plan_at(state)
        if relaxed is None:
            return INF
        return sum(self.costs[k] for k in relaxed if not self.reachable_without(state, k))

    def reachable_without(self, state: State, banned: int) -> bool:
        """Whether the relaxed goal is reachable from ``state`` without action ``banned``."""
        reached = self.holding(state)
        unsat = self.npre[:]
        queue = [k for k, holds in enumerate(reached) if holds]
        for a in self.no_pre:
            if a != banned:
                for e in self.achieves[a]:
                    if not reached[e]:
                        reached[e] = True
                        queue.append(e)
        users, achieves = self.users, self.achieves
        while queue:
            for a in users[queue.pop()]:
                unsat[a] -= 1
                if unsat[a] == 0 and a != banned:
                    for e in achieves[a]:
                        if not reached[e]:
                            reached[e] = True
                            queue.append(e)
        return all(reached[g] for g in self.goal)

    # ------------------------------------------------------------ analysis

    def unreachable_goals(self, state: State) -> list[int]:
        """Goal conditions (indices into task.goal) that no sequence of actions can make true."""
        cost, _ = self.propagate(state, "max")
        return [i for i, g in enumerate(self.goal_atoms) if cost[g] == INF]

    def relevant(self) -> list[TaskAction]:
        """Actions that can contribute to the goal, found backward from it.

        An action is relevant when it achieves a relevant atom, or when it sets a number that
        a relevant action adds to (set-then-increment can be cheaper than incrementing alone).
        """
        relevant_atoms = set(self.goal)
        stack = list(self.goal)
        chosen: set[int] = set()
        counted_vars: set[int] = set()
        setters: dict[int, list[int]] = {}
        for k, action in enumerate(self.actions):
            for i, _ in action.sets:
                setters.setdefault(i, []).append(k)

        def choose(k: int) -> None:
            if k in chosen:
                return
            chosen.add(k)
            for p in self.pre[k]:
                if p not in relevant_atoms:
                    relevant_atoms.add(p)
                    stack.append(p)
            for i, *_ in self.actions[k].adds:
                if i not in counted_vars:
                    counted_vars.add(i)
                    for s in setters.get(i, ()):
                        choose(s)

        while stack:
            for k in self.achievers[stack.pop()]:
                choose(k)
        return [a for k, a in enumerate(self.actions) if k in chosen]
