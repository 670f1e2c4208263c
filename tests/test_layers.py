"""The intended import rules, checked by reading every import of the source tree.

Layers, from the bottom: ``state`` (the file format) < ``goap.loading`` < ``goap.planning``
< ``goap.running`` < ``goap.faces``; beside them ``models`` (the ML half, standalone) and
``actions`` (executors, which see only goap's public contract); ``demo`` on top of all, and
``dashboard`` (``goap ui``) above the engine, beside it.
Every import counts, at module level or inside a function (goap imports lazily to start
fast) or under TYPE_CHECKING: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOP = ("goap", "state", "actions", "models", "demo", "plans", "dashboard")
WINGS = ("goap.loading", "goap.planning", "goap.running", "goap.faces")  # bottom to top


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def sources() -> dict[str, Path]:
    out = {}
    for top in TOP:
        for path in sorted((ROOT / top).rglob("*.py")):
            if "template" in path.relative_to(ROOT).parts:  # the demo's workspace files
                continue
            out[module_name(path)] = path
    return out


@cache
def imports(module: str) -> frozenset[str]:
    """Every module ``module`` imports (as the most specific name that exists)."""
    tree = ast.parse(sources()[module].read_text(encoding="utf-8"))
    found: set[str] = set()
    package = module if sources()[module].name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *filter(None, [node.module])])
            for alias in node.names:
                child = f"{base}.{alias.name}"
                found.add(child if child in sources() else base)
    return frozenset(found)


def owner(name: str, prefixes: tuple[str, ...]) -> str | None:
    return next((p for p in prefixes if name == p or name.startswith(p + ".")), None)


def offenders(importers: tuple[str, ...], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{m} imports {i}"
        for m in sources()
        if owner(m, importers)
        for i in imports(m)
        if owner(i, forbidden)
    )


@pytest.mark.parametrize(
    "importers, forbidden",
    [
        (
            ("goap",),
            ("actions", "models", "demo", "plans", "dashboard"),
        ),  # the engine stays generic
        (("dashboard",), ("actions", "models", "demo")),  # it reads the registry as JSON
        (("models",), ("goap", "actions", "state", "demo")),  # the ML half stands alone
        (("state",), ("goap", "actions", "models", "demo")),  # the file format is the floor
        (("actions",), ("demo",)),
        (("goap.loading",), ("goap.planning", "goap.running", "goap.faces")),
        (("goap.planning",), ("goap.running", "goap.faces")),
        (("goap.running",), ("goap.faces",)),
    ],
)
def test_no_import_reaches_up(importers, forbidden):
    assert offenders(importers, forbidden) == []


def test_only_the_faces_import_rich_and_typer():
    outside = tuple(m for m in sources() if owner(m, ("goap", "state")))
    found = [
        f"{m} imports {i}"
        for m in outside
        if not owner(m, ("goap.faces",))
        for i in imports(m)
        if owner(i, ("rich", "typer"))
    ]
    assert found == []


def test_executors_see_only_the_public_contract():
    allowed = ("goap.executor", "goap.loading.secrets")
    found = [
        f"{m} imports {i}"
        for m in sources()
        if owner(m, ("actions",))
        for i in imports(m)
        if owner(i, ("goap",)) and not owner(i, allowed)
    ]
    assert found == []


def test_every_engine_module_is_in_a_wing():
    """goap/ holds its four wings, the public executor contract and the entry points."""
    loose = {"goap", "goap.__main__", "goap.executor"}
    engine = [m for m in sources() if owner(m, ("goap",)) and m not in loose]
    assert [m for m in engine if not owner(m, WINGS)] == []


def test_there_is_no_import_cycle():
    graph = {m: {i for i in imports(m) if i in sources() and i != m} for m in sources()}
    cycles = []
    state: dict[str, int] = {}  # 1: on the stack, 2: done

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    assert cycles == []


def test_the_checker_sees_lazy_and_type_only_imports():
    """The rules would be empty promises if function-level imports went unseen."""
    assert "goap.running.runner" in imports("goap.faces.cli")  # imported inside run_cmd
    assert "goap.running.runner" in imports("goap.faces.documents")  # under TYPE_CHECKING
    assert offenders(("goap.faces",), ("goap.running",))  # so a forbidding rule would fire


def test_the_public_names_resolve_lazily():
    import subprocess
    import sys

    code = (
        "import sys, goap\n"
        "assert 'goap.running.runner' not in sys.modules\n"
        "from goap import load_catalog, plan, Runner, ActionFailed\n"
        "import goap.executor\n"
        "assert goap.executor.ActionFailed is ActionFailed\n"
        "print(sorted(goap.__all__))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "load_catalog" in done.stdout


def test_the_model_server_and_load_generator_never_import_torch():
    """They serve ONNX graphs and read JPEGs (models.pets, numpy, Pillow): torch would add
    seconds to every server start and hundreds of MB to a serving image."""
    seen, todo = set(), ["models.serve", "models.loadgen", "models.drift"]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        todo.extend(i for i in imports(module) if i in sources())
    assert "models.pets" in seen
    torch = sorted(f"{m} imports {i}" for m in seen for i in imports(m) if owner(i, ("torch",)))
    assert torch == []
