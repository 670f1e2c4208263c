"""What the machine can hold at once: resource capacities, and who fits beside whom.

An action may declare what it holds while it runs (``resources: {gpu: 1, cpu: 2}``); the
runner starts it only when that fits beside what the running actions hold. Capacities
come from the machine (``cpu``: its cores, ``memory_gb``: its memory, ``gpu``: its NVIDIA
devices), and ``goap.toml``'s ``[resources]`` table in the working directory overrides
them or names more (``git = 1`` makes a lock: one holder at a time). A resource nobody
declared, or a need above the capacity, is refused before anything runs.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from goap.loading.catalog import Action
from goap.running.errors import RunError

# Steps run at once by default (`goap run --jobs`). Most steps wait on a child process, git,
# CI or the network, not on a core; 4 keeps the live view readable and the machine
# responsive, and a step that needs cores or a GPU says so with `resources:`.
DEFAULT_JOBS = 4


def machine() -> dict[str, float]:
    """The machine's own capacities."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": float(cpus or 1), "memory_gb": _memory_gb(), "gpu": float(_gpus())}


def _memory_gb() -> float:
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return math.inf  # unknown: memory is not what limits us
    match = re.search(r"^MemTotal:\s+(\d+) kB", text, re.MULTILINE)
    return round(int(match.group(1)) / 2**20, 1) if match else math.inf


def _gpus() -> int:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    try:
        return sum(1 for name in os.listdir("/dev") if re.fullmatch(r"nvidia\d+", name))
    except OSError:
        return 0


def goap_toml(workdir: Path) -> tuple[Path, dict[str, Any]]:
    """``workdir/goap.toml`` as a document (empty when there is none), read once per run:
    the engine's tables (``[resources]``, ``[jobs]``) are checked by their readers."""
    path = workdir / "goap.toml"
    try:
        return path, tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return path, {}
    except (OSError, UnicodeDecodeError) as exc:
        raise RunError(f"{path}: cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise RunError(f"{path}: {exc}; fix the TOML syntax") from None


def capacities(path: Path, document: dict[str, Any]) -> dict[str, float]:
    """The machine's capacities with ``[resources]`` of goap.toml (``document``) laid over."""
    found = machine()
    table = document.get("resources", {})
    if not isinstance(table, dict):
        raise RunError(f"{path}: [resources] must be a table, e.g. [resources] gpu = 1")
    for name, amount in table.items():
        if isinstance(amount, bool) or not isinstance(amount, int | float) or amount < 0:
            raise RunError(
                f"{path}: [resources] {name} = {amount!r}: write an amount of at least 0, "
                f"e.g. {name} = 1"
            )
        found[name] = float(amount)
    return found


# Niceness of a step that is not on the plan's longest chain while one that is runs
# (goap.toml: [schedule] nice). Where steps outnumber the cores, the kernel then gives the
# critical path its core and the others the rest, instead of slowing every step alike.
OFF_PATH_NICE = 10


def off_path_nice(path: Path, document: dict[str, Any]) -> int:
    """``[schedule] nice`` of goap.toml (``document``): 0 to 19, 0 treats all steps alike."""
    table = document.get("schedule", {})
    if not isinstance(table, dict):
        raise RunError(f"{path}: [schedule] must be a table, e.g. [schedule] nice = 10")
    unknown = sorted(set(table) - {"nice"})
    if unknown:
        raise RunError(f"{path}: [schedule] has no {', '.join(unknown)}; it takes nice = 0..19")
    nice = table.get("nice", OFF_PATH_NICE)
    if isinstance(nice, bool) or not isinstance(nice, int) or not 0 <= nice <= 19:
        raise RunError(
            f"{path}: [schedule] nice = {nice!r}: write a whole number from 0 (every step "
            f"alike) to 19, e.g. nice = {OFF_PATH_NICE}"
        )
    return nice


def problems(actions: Iterable[Action], capacity: Mapping[str, float]) -> list[str]:
    """Every action whose needs name an unknown resource or exceed the capacity."""
    out = []
    for action in actions:
        for name, amount in action.resources:
            where = f"action {action.name} (line {action.line})" if action.line else action.name
            if name not in capacity:
                known = ", ".join(sorted(capacity))
                out.append(
                    f"{where} needs the resource {name!r}, which nobody declared: use one of "
                    f"{known}, or declare it in goap.toml, e.g. [resources] {name} = 1"
                )
            elif amount > capacity[name]:
                out.append(
                    f"{where} needs {name} {amount:g}, but the capacity is "
                    f"{capacity[name]:g}: lower its `resources:`, or raise [resources] "
                    f"{name} in goap.toml if the machine really has more"
                )
    return out


def fits(action: Action, held: Mapping[str, float], capacity: Mapping[str, float]) -> bool:
    """Whether ``action`` can start beside what the running actions ``held``."""
    return all(held.get(name, 0.0) + amount <= capacity[name] for name, amount in action.resources)


def hold(held: dict[str, float], action: Action, sign: int) -> None:
    """Take (``sign`` 1) or give back (-1) what ``action`` holds."""
    for name, amount in action.resources:
        held[name] = held.get(name, 0.0) + sign * amount
