"""Import a STRIPS PDDL domain and problem as a goap catalog, so goap plans public benchmarks.

goap's own catalogs are written by this project; the planning competitions' tasks are not,
and they bring the combinatorial structure (blocks, logistics, rovers...) an optimal planner
must hold up on. This module reads them the way a classical planner's front end does:

1. parse (``:strips``, ``:typing``, constants, ``=``, negative preconditions and goals,
   ``:action-costs`` through ``(increase (total-cost) ...)`` with a number or a static
   function of the parameters); anything else (``or``, ``forall``, ``when``, derived
   predicates, numeric fluents) is refused where it is written, with the file and the line;
2. ground by relaxed reachability: starting from the initial facts, instantiate every
   operator whose positive preconditions are reached, add what it adds, until nothing new is
   reached (negative preconditions are assumed satisfiable, which over-approximates, so no
   reachable operator is lost);
3. simplify without changing the solutions: static facts (no operator changes them) are
   compiled into the operators; operators and facts the goal cannot need are dropped
   (backward relevance); a fact that is provably the complement of another one (goap's
   own ``(x)``/``(not-x)`` export twins, two-valued switches) becomes that one being false.

What remains is one bool variable per fact and one action per operator. ``Imported.check``
replays a plan on the full ground task (static facts included), which is independent of the
catalog: a wrong import or a wrong plan both fail it.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from goap.loading.yamlsrc import SourceError

Fact = tuple[str, ...]  # (predicate, object, ...)

UNSUPPORTED = {
    "or": "disjunction",
    "imply": "implication",
    "exists": "existential quantification",
    "forall": "universal quantification",
    "when": "conditional effects",
}
STRIPS_ONLY = (
    "goap imports STRIPS with typing, equality, negative conditions and action costs; "
    "compile the rest away first (Fast Downward's translator, or a STRIPS version of the domain)"
)


SYNTAX = (
    "compare with the STRIPS forms: (define (domain NAME) (:requirements ...) (:types ...) "
    "(:predicates (P ?x - T)) (:action NAME :parameters (...) :precondition (and ...) "
    ":effect (and ...))) and (define (problem NAME) (:domain NAME) (:objects ...) (:init ...) "
    "(:goal (and ...)))"
)


class PddlError(SourceError):
    """PDDL goap cannot import: the file, the line, what is wrong and how to fix it."""

    def __init__(self, file: str | Path, line: int | None, problem: str, fix: str = ""):
        super().__init__(file, line, "", problem, fix)


# ---------------------------------------------------------------- s-expressions


class Word(str):
    """A symbol, lowercased (PDDL is case-insensitive), with the line it was read on."""

    line: int

    def __new__(cls, text: str, line: int) -> Word:
        word = super().__new__(cls, text.lower())
        word.line = line
        return word


class Expr(list):
    """A parenthesised list, with the line of its opening bracket."""

    def __init__(self, line: int):
        super().__init__()
        self.line = line


_TOKEN = re.compile(r";[^\n]*|\(|\)|\n|[^\s();]+")


def parse_sexpr(text: str, file: str | Path) -> Expr:
    """The one top-level ``( ... )`` of a PDDL file."""
    line = 1
    stack: list[Expr] = []
    top: Expr | None = None
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token == "\n":
            line += 1
        elif token[0] == ";":
            continue
        elif token == "(":
            if top is not None and not stack:
                raise PddlError(file, line, "text after the end of the definition", "remove it")
            expr = Expr(line)
            if stack:
                stack[-1].append(expr)
            stack.append(expr)
        elif token == ")":
            if not stack:
                raise PddlError(file, line, "unmatched ')'", "remove it, or open it with '('")
            top = stack.pop()
        else:
            if not stack:
                raise PddlError(file, line, f"{token!r} outside any '( ... )'", "remove it")
            stack[-1].append(Word(token, line))
    if stack:
        raise PddlError(
            file, stack[-1].line, "'(' opened here is never closed", "add the missing ')'"
        )
    if top is None:
        raise PddlError(file, None, "no PDDL definition found", "the file starts with (define")
    return top


# ---------------------------------------------------------------- the lifted task


@dataclass(frozen=True)
class Atom:
    predicate: str
    args: tuple[str, ...]  # variables (?x) or constants
    line: int


@dataclass(frozen=True)
class Schema:
    """A PDDL action with parameters: the operators are its groundings."""

    name: str
    params: tuple[tuple[str, tuple[str, ...]], ...]  # (?x, allowed types)
    pos: tuple[Atom, ...]
    neg: tuple[Atom, ...]
    equal: tuple[tuple[str, str], ...]
    unequal: tuple[tuple[str, str], ...]
    add: tuple[Atom, ...]
    delete: tuple[Atom, ...]
    cost: float | Atom | None  # a number, a function term, or no cost effect
    line: int


@dataclass
class Domain:
    file: str
    name: str = ""
    requirements: set[str] = field(default_factory=set)
    parents: dict[str, set[str]] = field(default_factory=dict)  # type -> its supertypes
    constants: dict[str, tuple[str, ...]] = field(default_factory=dict)
    predicates: dict[str, int] = field(default_factory=dict)  # name -> arity
    functions: dict[str, int] = field(default_factory=dict)
    schemas: list[Schema] = field(default_factory=list)


@dataclass
class Problem:
    file: str
    name: str = ""
    domain: str = ""
    objects: dict[str, tuple[str, ...]] = field(default_factory=dict)
    init: set[Fact] = field(default_factory=set)
    values: dict[Fact, float] = field(default_factory=dict)  # static function values
    goal_pos: list[Atom] = field(default_factory=list)
    goal_neg: list[Atom] = field(default_factory=list)
    metric: bool = False  # (:metric minimize (total-cost))


class _Reader:
    """Shared checks for reading domain and problem: every error names the file and line."""

    def __init__(self, file: str):
        self.file = file

    def fail(self, where: Any, problem: str, fix: str = "") -> PddlError:
        return PddlError(self.file, getattr(where, "line", None), problem, fix or SYNTAX)

    def word(self, item: Any, what: str, parent: Any) -> Word:
        if not isinstance(item, Word):
            raise self.fail(item if isinstance(item, Expr) else parent, f"expected {what}")
        return item

    def expr(self, item: Any, what: str, parent: Any) -> Expr:
        if not isinstance(item, Expr):
            raise self.fail(item if isinstance(item, Word) else parent, f"expected {what}")
        return item

    def header(self, tree: Expr, kind: str) -> tuple[Word, list[Any]]:
        """``(define (KIND name) sections...)``: the name and the sections."""
        if not tree or tree[0] != "define":
            raise self.fail(tree, "a PDDL file starts with (define", f"write (define ({kind} NAME)")
        head = self.expr(tree[1] if len(tree) > 1 else None, f"({kind} NAME)", tree)
        if len(head) != 2 or head[0] != kind:
            raise self.fail(head, f"expected ({kind} NAME)", "check domain and problem order")
        return self.word(head[1], "a name", head), tree[2:]

    def typed_list(self, items: Iterable[Any], parent: Any) -> list[tuple[Word, tuple[str, ...]]]:
        """``a b - t c - (either u v) d``: names with their types (``object`` if none)."""
        out: list[tuple[Word, tuple[str, ...]]] = []
        pending: list[Word] = []
        items = list(items)
        i = 0
        while i < len(items):
            item = items[i]
            if item == "-":
                if i + 1 >= len(items):
                    raise self.fail(item, "'-' with no type after it", "write '- TYPE'")
                kind = items[i + 1]
                if isinstance(kind, Expr):
                    if not kind or kind[0] != "either":
                        raise self.fail(kind, "a type is a name or (either t1 t2 ...)")
                    types = tuple(self.word(t, "a type name", kind) for t in kind[1:])
                else:
                    types = (kind,)
                if not pending:
                    raise self.fail(item, "'- TYPE' with no name before it")
                out.extend((name, types) for name in pending)
                pending = []
                i += 2
                continue
            pending.append(self.word(item, "a name", parent))
            i += 1
        out.extend((name, ("object",)) for name in pending)
        return out

    def atom(self, expr: Any, parent: Any, variables: bool) -> Atom:
        expr = self.expr(expr, "an atom such as (on ?x ?y)", parent)
        if not expr:
            raise self.fail(expr, "empty atom ()", "write (PREDICATE ARG ...)")
        name = self.word(expr[0], "a predicate name", expr)
        if name in UNSUPPORTED:
            raise self.fail(expr, f"{UNSUPPORTED[name]} ({name}) is not STRIPS", STRIPS_ONLY)
        args = tuple(self.word(a, "an argument (a name or ?variable)", expr) for a in expr[1:])
        if not variables:
            for a in args:
                if a.startswith("?"):
                    raise self.fail(expr, f"variable {a} in a ground fact", "use object names")
        return Atom(str(name), tuple(str(a) for a in args), expr.line)

    def literals(
        self, formula: Any, parent: Any, variables: bool = True
    ) -> list[tuple[bool, Atom]]:
        """A conjunction of literals: ``(and ...)``, an atom, ``(not atom)`` or ``()``."""
        formula = self.expr(formula, "a condition", parent)
        if not formula:
            return []
        head = formula[0]
        if head == "and":
            return [lit for part in formula[1:] for lit in self.literals(part, formula, variables)]
        if head == "not":
            if len(formula) != 2:
                raise self.fail(formula, "(not ...) takes one atom")
            inner = self.expr(formula[1], "an atom inside (not ...)", formula)
            if inner and inner[0] in ("and", "not", *UNSUPPORTED):
                raise self.fail(inner, f"(not ({inner[0]} ...)) is not STRIPS", STRIPS_ONLY)
            return [(False, self.atom(inner, formula, variables))]
        return [(True, self.atom(formula, parent, variables))]


# ---------------------------------------------------------------- domain


def read_domain(path: str | Path, text: str | None = None) -> Domain:
    path = Path(path)
    text = _read(path) if text is None else text
    reader = _Reader(str(path))
    tree = parse_sexpr(text, path)
    name, sections = reader.header(tree, "domain")
    domain = Domain(str(path), name)
    for section in sections:
        section = reader.expr(section, "a section such as (:predicates ...)", tree)
        key = section[0] if section else None
        if key == ":requirements":
            domain.requirements = {str(r) for r in section[1:]}
        elif key == ":types":
            for t, parents in reader.typed_list(section[1:], section):
                domain.parents.setdefault(t, set()).update(parents)
            for parents in list(domain.parents.values()):
                for t in parents - {"object"}:
                    domain.parents.setdefault(t, {"object"})  # a type named only as a parent
        elif key == ":constants":
            for c, types in reader.typed_list(section[1:], section):
                domain.constants[c] = types
        elif key == ":predicates":
            for p in section[1:]:
                p = reader.expr(p, "a predicate such as (on ?x ?y)", section)
                pname = reader.word(p[0] if p else None, "a predicate name", p)
                domain.predicates[pname] = len(reader.typed_list(p[1:], p))
        elif key == ":functions":
            for f in section[1:]:
                if isinstance(f, Word):
                    continue  # "- number" after a function
                fname = reader.word(f[0] if f else None, "a function name", f)
                domain.functions[fname] = len(reader.typed_list(f[1:], f))
        elif key == ":action":
            domain.schemas.append(_schema(reader, domain, section))
        elif key in (":derived", ":durative-action", ":process", ":event"):
            raise reader.fail(section, f"{key} is not STRIPS", STRIPS_ONLY)
        else:
            raise reader.fail(section, f"unknown domain section {key}", STRIPS_ONLY)
    if not domain.schemas:
        raise reader.fail(tree, "the domain has no (:action ...)", "declare at least one action")
    return domain


def _schema(reader: _Reader, domain: Domain, section: Expr) -> Schema:
    name = reader.word(section[1] if len(section) > 1 else None, "an action name", section)
    parts: dict[str, Any] = {}
    items = section[2:]
    for i in range(0, len(items), 2):
        key = reader.word(items[i], "a key such as :precondition", section)
        if key not in (":parameters", ":precondition", ":effect"):
            raise reader.fail(
                key, f"unknown action key {key}", "use :parameters, :precondition, :effect"
            )
        if i + 1 >= len(items):
            raise reader.fail(key, f"{key} has no value", f"write {key} (...) or remove it")
        parts[key] = items[i + 1]
    params_expr = parts.get(":parameters", Expr(section.line))
    params = reader.typed_list(reader.expr(params_expr, "(?x - type ...)", section), section)
    variables = {p for p, _ in params}
    for p, types in params:
        for t in types:
            if t != "object" and t not in domain.parents:
                raise reader.fail(p, f"unknown type {t} of {p}", "declare it in :types")
    for p, _ in params:
        if not p.startswith("?"):
            raise reader.fail(p, f"parameter {p} must start with '?'", f"write ?{p}")
    pos, neg, equal, unequal = [], [], [], []
    for positive, atom in reader.literals(parts.get(":precondition", Expr(section.line)), section):
        _check_atom(reader, domain, atom, variables)
        if atom.predicate == "=":
            pair = (atom.args[0], atom.args[1])
            (equal if positive else unequal).append(pair)
        else:
            (pos if positive else neg).append(atom)
    add, delete = [], []
    cost: float | Atom | None = None
    for item in _effect_items(reader, parts.get(":effect", Expr(section.line)), section):
        if item[0] == "increase":
            cost = _cost_term(reader, domain, item, variables)
            continue
        for positive, atom in reader.literals(item, section):
            _check_atom(reader, domain, atom, variables)
            if atom.predicate == "=":
                raise reader.fail(atom, "an effect cannot be an equality")
            (add if positive else delete).append(atom)
    return Schema(
        name,
        tuple((p, t) for p, t in params),
        tuple(pos),
        tuple(neg),
        tuple(equal),
        tuple(unequal),
        tuple(add),
        tuple(delete),
        cost,
        section.line,
    )


def _effect_items(reader: _Reader, effect: Any, parent: Any) -> Iterator[Expr]:
    effect = reader.expr(effect, "an effect", parent)
    if effect and effect[0] == "and":
        for part in effect[1:]:
            yield from _effect_items(reader, part, effect)
    elif effect:
        if effect[0] in ("assign", "decrease", "scale-up", "scale-down"):
            raise reader.fail(
                effect, f"numeric effect ({effect[0]} ...) is not STRIPS", STRIPS_ONLY
            )
        yield effect


def _cost_term(reader: _Reader, domain: Domain, item: Expr, variables: set[str]) -> float | Atom:
    if len(item) != 3 or not isinstance(item[1], Expr) or list(item[1]) != ["total-cost"]:
        raise reader.fail(
            item,
            "the only numeric effect goap reads is (increase (total-cost) AMOUNT)",
            STRIPS_ONLY,
        )
    amount = item[2]
    if isinstance(amount, Word):
        return _number(reader, amount)
    atom = reader.atom(amount, item, variables=True)
    if atom.predicate not in domain.functions:
        raise reader.fail(amount, f"unknown function {atom.predicate}", "declare it in :functions")
    for a in atom.args:
        if a.startswith("?") and a not in variables:
            raise reader.fail(
                amount, f"{a} is not a parameter of the action", "add it to :parameters"
            )
    return atom


def _number(reader: _Reader, word: Word) -> float:
    try:
        value = float(word)
    except ValueError:
        raise reader.fail(word, f"{word!r} is not a number", "write a number") from None
    if value < 0 or value != value or value == float("inf"):
        raise reader.fail(word, f"cost {word} must be a finite number >= 0", "write 0 or more")
    return value


def _check_atom(reader: _Reader, domain: Domain, atom: Atom, variables: set[str] | None) -> None:
    if atom.predicate == "=":
        if len(atom.args) != 2:
            raise reader.fail(atom, "(= a b) takes two arguments")
        return
    arity = domain.predicates.get(atom.predicate)
    if arity is None:
        known = ", ".join(sorted(domain.predicates)) or "none"
        raise reader.fail(
            atom, f"unknown predicate {atom.predicate}", f"declare it in :predicates ({known})"
        )
    if arity != len(atom.args):
        raise reader.fail(
            atom,
            f"{atom.predicate} takes {arity} arguments, not {len(atom.args)}",
            "match its declaration in :predicates",
        )
    for a in atom.args:
        if a.startswith("?") and variables is not None and a not in variables:
            raise reader.fail(
                atom, f"{a} is not a parameter of the action", "add it to :parameters"
            )
        if not a.startswith("?") and a not in domain.constants and variables is not None:
            raise reader.fail(atom, f"unknown constant {a}", "declare it in :constants")


# ---------------------------------------------------------------- problem


def read_problem(path: str | Path, domain: Domain, text: str | None = None) -> Problem:
    path = Path(path)
    text = _read(path) if text is None else text
    reader = _Reader(str(path))
    tree = parse_sexpr(text, path)
    name, sections = reader.header(tree, "problem")
    problem = Problem(str(path), name)
    goal_seen = False
    for section in sections:
        section = reader.expr(section, "a section such as (:init ...)", tree)
        key = section[0] if section else None
        if key == ":domain":
            problem.domain = reader.word(
                section[1] if len(section) > 1 else None, "a name", section
            )
        elif key == ":requirements":
            continue
        elif key == ":objects":
            for o, types in reader.typed_list(section[1:], section):
                problem.objects[o] = types
        elif key == ":init":
            for item in section[1:]:
                item = reader.expr(item, "a fact such as (on a b)", section)
                if item and item[0] == "=":
                    _init_value(reader, domain, problem, item)
                    continue
                atom = reader.atom(item, section, variables=False)
                _check_atom(reader, domain, atom, None)
                problem.init.add((atom.predicate, *atom.args))
        elif key == ":goal":
            goal_seen = True
            goal = section[1] if len(section) > 1 else Expr(section.line)
            for positive, atom in reader.literals(goal, section, variables=False):
                _check_atom(reader, domain, atom, None)
                if atom.predicate == "=":
                    raise reader.fail(atom, "an equality goal is not supported", "remove it")
                (problem.goal_pos if positive else problem.goal_neg).append(atom)
        elif key == ":metric":
            if list(section[1:2]) != ["minimize"] or len(section) != 3:
                raise reader.fail(section, "goap reads only (:metric minimize (total-cost))")
            term = section[2]
            if not isinstance(term, Expr) or list(term) != ["total-cost"]:
                raise reader.fail(section, "goap reads only (:metric minimize (total-cost))")
            problem.metric = True
        else:
            raise reader.fail(section, f"unknown problem section {key}", STRIPS_ONLY)
    if not goal_seen:
        raise reader.fail(tree, "the problem has no (:goal ...)", "add (:goal (and ...))")
    for atom in problem.goal_pos + problem.goal_neg:
        _check_objects(reader, domain, problem, atom)
    for fact in problem.init:
        missing = [o for o in fact[1:] if o not in problem.objects and o not in domain.constants]
        if missing:
            raise reader.fail(
                tree,
                f"({' '.join(fact)}) in :init names unknown object {missing[0]}",
                "declare it in :objects",
            )
    return problem


def _init_value(reader: _Reader, domain: Domain, problem: Problem, item: Expr) -> None:
    if len(item) != 3:
        raise reader.fail(item, "(= (FUNCTION ARGS) NUMBER) takes two parts")
    term = reader.expr(item[1], "(FUNCTION ARGS)", item)
    fname = reader.word(term[0] if term else None, "a function name", term)
    if fname not in domain.functions:
        raise reader.fail(term, f"unknown function {fname}", "declare it in :functions")
    value = _number(reader, reader.word(item[2], "a number", item))
    problem.values[(fname, *(reader.word(a, "an object", term) for a in term[1:]))] = value


def _check_objects(reader: _Reader, domain: Domain, problem: Problem, atom: Atom) -> None:
    for a in atom.args:
        if a not in problem.objects and a not in domain.constants:
            raise reader.fail(atom, f"unknown object {a}", "declare it in :objects")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PddlError(path, None, "file not found", "check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PddlError(path, None, f"cannot read the file: {exc}") from None


# ---------------------------------------------------------------- grounding


@dataclass(frozen=True)
class Operator:
    """One grounded action, over every fact (static ones included)."""

    name: str  # the catalog action name
    pddl: str  # "(move b1 b2 b3)"
    pre: frozenset[Fact]
    pre_false: frozenset[Fact]
    add: frozenset[Fact]
    delete: frozenset[Fact]
    cost: float


def ground(domain: Domain, problem: Problem) -> tuple[list[Operator], set[Fact]]:
    """Operators reachable from the initial state in the delete relaxation, and the facts
    they can make true (the initial ones included)."""
    objects = {**domain.constants, **problem.objects}
    of_type: dict[str, list[str]] = defaultdict(list)
    for o, types in objects.items():
        for t in types:
            for parent in [t, *_above(domain, t)]:
                if o not in of_type[parent]:
                    of_type[parent].append(o)
    of_type["object"] = list(objects)
    fluent = {a.predicate for s in domain.schemas for a in (*s.add, *s.delete)}
    reached: set[Fact] = set(problem.init)
    index: dict[tuple[str, int, str], list[Fact]] = defaultdict(list)
    by_predicate: dict[str, list[Fact]] = defaultdict(list)

    def file(fact: Fact) -> None:
        by_predicate[fact[0]].append(fact)
        for k, o in enumerate(fact[1:]):
            index[(fact[0], k, o)].append(fact)

    for fact in sorted(reached):
        file(fact)
    found: dict[tuple[int, tuple[str, ...]], Operator] = {}
    while True:
        new: set[Fact] = set()
        for k, schema in enumerate(domain.schemas):
            for args in _bindings(schema, by_predicate, index, reached, fluent, of_type, objects):
                if (k, args) in found:
                    continue
                op = _instantiate(domain, problem, schema, args)
                if op is None:
                    continue
                found[(k, args)] = op
                new.update(f for f in op.add if f not in reached)
        if not new:
            break
        for fact in sorted(new):
            reached.add(fact)
            file(fact)
    operators = []
    taken: set[str] = set()
    for key in sorted(found):
        op = found[key]
        name, n = op.name, 1
        while name in taken:  # two PDDL names that differ only in - and _
            n += 1
            name = f"{op.name}__{n}"
        taken.add(name)
        operators.append(op if name == op.name else replace(op, name=name))
    return operators, reached


def _above(domain: Domain, t: str) -> set[str]:
    seen, stack = set(), list(domain.parents.get(t, ()))
    while stack:
        p = stack.pop()
        if p not in seen:
            seen.add(p)
            stack.extend(domain.parents.get(p, ()))
    return seen


def _bindings(
    schema: Schema,
    by_predicate: dict[str, list[Fact]],
    index: dict[tuple[str, int, str], list[Fact]],
    reached: set[Fact],
    fluent: set[str],
    of_type: dict[str, list[str]],
    objects: dict[str, tuple[str, ...]],
) -> Iterator[tuple[str, ...]]:
    """Parameter values for which every positive precondition is a reached fact, the types
    fit and the equalities hold (a join over the preconditions, most bound one first)."""
    allowed = {p: {o for t in types for o in of_type.get(t, ())} for p, types in schema.params}
    names = [p for p, _ in schema.params]
    binding: dict[str, str] = {}

    def fits(var: str, value: str) -> bool:
        return value in allowed[var]

    def rest_ok() -> bool:
        value = binding.get
        for a, b in schema.equal:
            if value(a, a) != value(b, b):
                return False
        for a, b in schema.unequal:
            if value(a, a) == value(b, b):
                return False
        for atom in schema.neg:
            if atom.predicate not in fluent:
                if (atom.predicate, *(value(a, a) for a in atom.args)) in reached:
                    return False
        return True

    def join(pending: list[Atom]) -> Iterator[None]:
        if not pending:
            free = [p for p in names if p not in binding]
            for values in itertools.product(*(sorted(allowed[p]) for p in free)):
                binding.update(zip(free, values, strict=True))
                if rest_ok():
                    yield None
            for p in free:
                binding.pop(p, None)
            return
        atom = max(pending, key=lambda a: sum(1 for x in a.args if x in binding or x[0] != "?"))
        others = [a for a in pending if a is not atom]
        bound = [
            (k, binding.get(x, x)) for k, x in enumerate(atom.args) if x in binding or x[0] != "?"
        ]
        if bound:
            k, o = bound[0]
            candidates = index.get((atom.predicate, k, o), ())
        else:
            candidates = by_predicate.get(atom.predicate, ())
        for fact in candidates:
            added = []
            ok = True
            for x, o in zip(atom.args, fact[1:], strict=True):
                if x[0] != "?":
                    if x != o:
                        ok = False
                        break
                elif x in binding:
                    if binding[x] != o:
                        ok = False
                        break
                elif fits(x, o):
                    binding[x] = o
                    added.append(x)
                else:
                    ok = False
                    break
            if ok:
                yield from join(others)
            for x in added:
                del binding[x]

    for _ in join(list(schema.pos)):
        yield tuple(binding[p] for p in names)


def _instantiate(
    domain: Domain, problem: Problem, schema: Schema, args: tuple[str, ...]
) -> Operator | None:
    value = dict(zip((p for p, _ in schema.params), args, strict=True))

    def facts(atoms: Iterable[Atom]) -> frozenset[Fact]:
        return frozenset((a.predicate, *(value.get(x, x) for x in a.args)) for a in atoms)

    pre, pre_false = facts(schema.pos), facts(schema.neg)
    if pre & pre_false:
        return None  # needs a fact true and false at once: never applicable
    # an effect the preconditions already guarantee changes nothing: left out, so that
    # what an operator lists is what it changes (the complement analysis relies on it)
    add = facts(schema.add) - pre
    delete = facts(schema.delete) - facts(schema.add) - pre_false  # PDDL: deletes, then adds
    if not add and not delete:
        return None  # changes nothing
    cost = 1.0
    if problem.metric:
        if schema.cost is None:
            cost = 0.0
        elif isinstance(schema.cost, Atom):
            term = (schema.cost.predicate, *(value.get(x, x) for x in schema.cost.args))
            if term not in problem.values:
                raise PddlError(
                    problem.file,
                    None,
                    f"({' '.join(term)}) has no value in :init, but action {schema.name} "
                    f"(line {schema.cost.line} of {domain.file}) costs it",
                    f"add (= ({' '.join(term)}) N) to :init",
                )
            cost = problem.values[term]
        else:
            cost = schema.cost
    text = " ".join((schema.name, *args))
    return Operator(_ident(text), f"({text})", pre, pre_false, add, delete, cost)


def _ident(text: str) -> str:
    """A goap name for a PDDL name: letters, digits and ``_`` (``-`` and spaces become ``_``)."""
    name = re.sub(r"[^a-z0-9_]", "_", text.lower())
    return name if name[:1].isalpha() or name[:1] == "_" else "_" + name


# ---------------------------------------------------------------- the catalog


@dataclass(frozen=True)
class Imported:
    """A grounded PDDL task and the goap catalog document made from it."""

    catalog: dict[str, Any]  # the catalog document (dump it as YAML, or load it)
    operators: dict[str, Operator]  # catalog action name -> its operator
    init: frozenset[Fact]
    goal: frozenset[Fact]
    goal_false: frozenset[Fact]
    fact_names: dict[str, Fact]  # catalog variable -> the fact it stands for
    notes: tuple[str, ...]
    grounded: int  # operators reachable before the relevance analysis

    def check(self, steps: Iterable[str]) -> tuple[float, str]:
        """Replay catalog action names on the full ground task: (cost, "") when the plan
        applies step by step and ends in a goal state, else (inf, why not)."""
        state = set(self.init)
        cost = 0.0
        for k, name in enumerate(steps):
            op = self.operators.get(name)
            if op is None:
                return float("inf"), f"step {k + 1}: {name} is not an action of this task"
            if not op.pre <= state or op.pre_false & state:
                missing = sorted(op.pre - state) + sorted(op.pre_false & state)
                return float("inf"), f"step {k + 1}: {op.pddl} is not applicable: {missing[0]}"
            state -= op.delete
            state |= op.add
            cost += op.cost
        if not self.goal <= state or self.goal_false & state:
            return float("inf"), "the plan does not reach the goal"
        return cost, ""


def import_pddl(
    domain_path: str | Path,
    problem_path: str | Path,
    unit_costs: bool = False,
    domain_text: str | None = None,
    problem_text: str | None = None,
) -> Imported:
    """Parse, ground and simplify a STRIPS task into a goap catalog document."""
    domain = read_domain(domain_path, domain_text)
    problem = read_problem(problem_path, domain, problem_text)
    notes: list[str] = []
    if problem.domain and problem.domain != domain.name:
        notes.append(f"the problem names domain {problem.domain}, the domain file {domain.name}")
    if unit_costs and problem.metric:
        notes.append("action costs ignored (--unit-costs): every action costs 1")
        problem.metric = False
    operators, _ = ground(domain, problem)
    grounded = len(operators)
    init = frozenset(problem.init)
    goal = frozenset((a.predicate, *a.args) for a in problem.goal_pos)
    goal_false = frozenset((a.predicate, *a.args) for a in problem.goal_neg)
    kept_ops, variables = _simplify(operators, init, goal, goal_false)
    complement = _complements(kept_ops, variables, init)
    if complement:
        notes.append(f"{len(complement)} facts are the complement of another one: not kept")
    zero = [op.pddl for op in kept_ops if op.cost <= 0]
    if zero:
        raise PddlError(
            domain.file,
            None,
            f"{len(zero)} operators cost 0 (e.g. {zero[0]}); goap actions cost more than 0",
            "import with --unit-costs (plan length), or give those actions a positive cost",
        )
    names = _fact_names(sorted(variables - set(complement)))
    catalog = _catalog_doc(
        f"{domain.name}-{problem.name}", kept_ops, names, complement, init, goal, goal_false
    )
    notes.append(
        f"{grounded} operators reachable, {len(catalog['actions'])} relevant to the goal; "
        f"{len(names)} variables (one per fact that can change and matters)"
    )
    return Imported(
        catalog,
        {op.name: op for op in kept_ops},
        init,
        goal,
        goal_false,
        {name: fact for fact, name in names.items()},
        tuple(notes),
        grounded,
    )


def _simplify(
    operators: list[Operator],
    init: frozenset[Fact],
    goal: frozenset[Fact],
    goal_false: frozenset[Fact],
) -> tuple[list[Operator], set[Fact]]:
    """The operators that can run and can help, and the facts that change and matter.

    Repeated until nothing more goes, as each step can enable the others: grounding assumed
    every negative precondition satisfiable, but one that needs false a fact true from the
    start that no operator deletes never is; a fact no operator left changes keeps its
    initial value, so a condition on it is always met (dropped) or never (the operator
    goes); operators that cannot help the goal go (``_relevant``); and what is no longer
    reachable forward goes.
    """
    while True:
        before = len(operators)
        operators = _reachable(operators, init)
        deleted = {f for op in operators for f in op.delete}
        stuck = init - deleted
        operators = [op for op in operators if not op.pre_false & stuck]
        fluent = {f for op in operators for f in (*op.add, *op.delete)}
        operators, variables = _relevant(operators, goal, goal_false, fluent)
        changed = {f for op in operators for f in (*op.add, *op.delete)}
        operators = [
            op
            for op in operators
            if op.pre - changed <= init and not (op.pre_false - changed) & init
        ]
        if len(operators) == before:
            return operators, (variables & changed) | goal | goal_false


def _reachable(operators: list[Operator], init: frozenset[Fact]) -> list[Operator]:
    """Operators whose preconditions the delete relaxation reaches (negative ones assumed)."""
    reached = set(init)
    waiting: dict[Fact, list[int]] = defaultdict(list)
    missing = []
    ready = []
    for k, op in enumerate(operators):
        need = op.pre - reached
        missing.append(len(need))
        for f in need:
            waiting[f].append(k)
        if not need:
            ready.append(k)
    fired = set()
    while ready:
        k = ready.pop()
        fired.add(k)
        for f in operators[k].add:
            if f not in reached:
                reached.add(f)
                for j in waiting.pop(f, ()):
                    missing[j] -= 1
                    if missing[j] == 0:
                        ready.append(j)
    return [op for k, op in enumerate(operators) if k in fired]


def _relevant(
    operators: list[Operator],
    goal: frozenset[Fact],
    goal_false: frozenset[Fact],
    fluent: set[Fact],
) -> tuple[list[Operator], set[Fact]]:
    """Operators that can help the goal, backward from it, and the changing facts they read.

    An operator matters if it adds a fact something needs true, or deletes one something
    needs false; dropping the others keeps every plan valid (they only make needed facts
    less true or more false) and never raises its cost.
    """
    need_true = {f for f in goal if f in fluent}
    need_false = {f for f in goal_false if f in fluent}
    adders: dict[Fact, list[int]] = defaultdict(list)
    deleters: dict[Fact, list[int]] = defaultdict(list)
    for k, op in enumerate(operators):
        for f in op.add:
            adders[f].append(k)
        for f in op.delete:
            deleters[f].append(k)
    chosen: set[int] = set()
    stack = [(f, True) for f in need_true] + [(f, False) for f in need_false]
    while stack:
        fact, value = stack.pop()
        for k in (adders if value else deleters).get(fact, ()):
            if k in chosen:
                continue
            chosen.add(k)
            op = operators[k]
            for f in op.pre & fluent:
                if f not in need_true:
                    need_true.add(f)
                    stack.append((f, True))
            for f in op.pre_false & fluent:
                if f not in need_false:
                    need_false.add(f)
                    stack.append((f, False))
    kept = need_true | need_false | goal | goal_false
    return [operators[k] for k in sorted(chosen)], kept


def _complements(
    operators: list[Operator], variables: set[Fact], init: frozenset[Fact]
) -> dict[Fact, Fact]:
    """Facts q that always equal ``not p`` for another kept fact p: {q: p}.

    Holds when exactly one of them is true initially and every operator that changes one
    changes the other the opposite way (adds p iff it deletes q, and the reverse).
    """
    changes: dict[Fact, set[tuple[int, bool]]] = defaultdict(set)
    for k, op in enumerate(operators):
        for f in op.add & variables:
            changes[f].add((k, True))
        for f in op.delete & variables:
            changes[f].add((k, False))
    by_signature: dict[frozenset[tuple[int, bool]], list[Fact]] = defaultdict(list)
    for f, signature in changes.items():
        by_signature[frozenset(signature)].append(f)
    out: dict[Fact, Fact] = {}
    for f in sorted(changes, key=_keep_first):
        if f in out or f in out.values():
            continue
        mirrored = frozenset((k, not value) for k, value in changes[f])
        for q in sorted(by_signature.get(mirrored, ()), key=_keep_first):
            if q != f and q not in out and q not in out.values() and (f in init) != (q in init):
                out[q] = f
                break
    return out


def _keep_first(fact: Fact) -> tuple[bool, Fact]:
    """Of two complementary facts, keep the one not named like a negation (``not-x``)."""
    return (fact[0].startswith(("not-", "not_")), fact)


def _fact_names(facts: list[Fact]) -> dict[Fact, str]:
    names: dict[Fact, str] = {}
    taken: set[str] = set()
    for fact in facts:
        base = _ident("_".join(fact))
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}__{n}"
        taken.add(name)
        names[fact] = name
    return names


def _catalog_doc(
    name: str,
    operators: list[Operator],
    names: dict[Fact, str],
    complement: dict[Fact, Fact],
    init: frozenset[Fact],
    goal: frozenset[Fact],
    goal_false: frozenset[Fact],
) -> dict[str, Any]:
    def literal(fact: Fact, value: bool) -> tuple[str, bool] | None:
        if fact in complement:
            fact, value = complement[fact], not value
        return (names[fact], value) if fact in names else None

    def conditions(true: Iterable[Fact], false: Iterable[Fact]) -> dict[str, bool]:
        out: dict[str, bool] = {}
        for fact, value in [(f, True) for f in sorted(true)] + [(f, False) for f in sorted(false)]:
            lit = literal(fact, value)
            if lit is not None:
                out[lit[0]] = lit[1]
        return out

    actions: dict[str, Any] = {}
    for op in operators:
        pre = conditions(op.pre, op.pre_false)
        effects = {
            var: value
            for var, value in conditions(op.add, op.delete - op.add).items()
            if pre.get(var) != value  # already so whenever the action applies
        }
        if not effects:
            continue
        action: dict[str, Any] = {}
        if op.cost != 1:
            action["cost"] = int(op.cost) if op.cost == int(op.cost) else op.cost
        if pre:
            action["pre"] = pre
        action["effects"] = effects
        actions[op.name] = action
    state = {names[f]: f in init for f in names}
    return {
        "version": 1,
        "name": name,
        "description": "imported from PDDL by goap import --pddl",
        "state": state,
        "goal": conditions(goal, goal_false),
        "actions": actions,
    }
