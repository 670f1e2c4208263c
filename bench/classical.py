"""Classical planners on goap's PDDL export: pyperplan in-process, Fast Downward as a process.

Both are benchmark-only dependencies (the ``bench`` extra): goap never imports them. Each
runner returns a ``Run`` (or one whose status says "not installed"), solving the files that
``goap.planning.pddl.export`` wrote.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path

FD_SEARCH = "astar(lmcut())"


@dataclass
class Run:
    status: str  # "found", "no_plan", "timeout", "error", "not installed"
    cost: float | None = None
    expanded: int | None = None
    seconds: float | None = None
    plan: list[str] = field(default_factory=list)
    message: str = ""
    search_seconds: float | None = None  # Fast Downward: its search alone, from its log


def fast_downward_driver() -> Path | None:
    """The ``fast-downward.py`` driver shipped by ``up-fast-downward``, if installed."""
    spec = find_spec("up_fast_downward")
    if spec is None or not spec.submodule_search_locations:
        return None
    driver = Path(next(iter(spec.submodule_search_locations))) / "downward" / "fast-downward.py"
    return driver if driver.exists() else None


def fast_downward(domain: Path, problem: Path, timeout: float = 60.0, cost_scale: int = 1) -> Run:
    """Fast Downward, A* with LM-cut (optimal), end to end: process, translation, search.

    PDDL costs are integers; ``cost_scale`` (``Export.cost_scale``) turns its plan cost back
    into the catalog's."""
    driver = fast_downward_driver()
    if driver is None:
        return Run("not installed", message="pip install up-fast-downward")
    with tempfile.TemporaryDirectory(prefix="goap-fd-") as work:
        command = [
            sys.executable,
            str(driver),
            str(domain.resolve()),
            str(problem.resolve()),
            "--search",
            FD_SEARCH,
        ]
        start = time.perf_counter()
        # its own session, so a timeout ends the search process too, not only the driver
        with subprocess.Popen(
            command,
            cwd=work,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        ) as process:
            try:
                stdout, stderr = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate()
                return Run("timeout", seconds=timeout)
        seconds = time.perf_counter() - start
        plan_file = Path(work) / "sas_plan"
        expanded = re.findall(r"Expanded (\d+) state", stdout)
        search = re.findall(r"Search time: ([\d.]+)s", stdout)
        search_seconds = float(search[-1]) if search else None
        if plan_file.exists():
            lines = plan_file.read_text().splitlines()
            cost = re.search(r"cost = (\d+)", lines[-1]) if lines else None
            return Run(
                "found",
                int(cost.group(1)) / cost_scale if cost else None,
                int(expanded[-1]) if expanded else None,
                seconds,
                [line for line in lines if line.startswith("(")],
                search_seconds=search_seconds,
            )
        if "Search stopped without finding a solution" in stdout or process.returncode == 12:
            return Run(
                "no_plan",
                None,
                int(expanded[-1]) if expanded else None,
                seconds,
                search_seconds=search_seconds,
            )
        return Run("error", seconds=seconds, message=(stdout + stderr)[-2000:])


def pyperplan(domain: Path, problem: Path, timeout: float = 60.0, heuristic: str = "lmcut") -> Run:
    """pyperplan in this process: parse, ground, A* (optimal with lmcut or hmax), unit costs."""
    if find_spec("pyperplan") is None:
        return Run("not installed", message="pip install pyperplan")
    from pyperplan.planner import HEURISTICS, _ground, _parse
    from pyperplan.search import astar_search

    counter = _ExpansionCounter()
    logger = logging.getLogger()
    old_level = logger.level
    logger.addHandler(counter)
    logger.setLevel(logging.INFO)
    old_handler = signal.signal(signal.SIGALRM, _timeout)
    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old_limit, 100_000))  # its LM-cut recurses along long chains
    signal.setitimer(signal.ITIMER_REAL, timeout)
    start = time.perf_counter()
    try:
        task = _ground(_parse(str(domain), str(problem)))
        solution = astar_search(task, HEURISTICS[heuristic](task))
    except _Timeout:
        return Run("timeout", seconds=timeout)
    except (RecursionError, MemoryError) as exc:
        return Run("error", seconds=time.perf_counter() - start, message=repr(exc))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        sys.setrecursionlimit(old_limit)
        logger.removeHandler(counter)
        logger.setLevel(old_level)
    seconds = time.perf_counter() - start
    if solution is None:
        return Run("no_plan", None, counter.expanded, seconds)
    return Run(
        "found", float(len(solution)), counter.expanded, seconds, [op.name for op in solution]
    )


class _Timeout(Exception):
    pass


def _timeout(signum: int, frame: object) -> None:
    raise _Timeout


class _ExpansionCounter(logging.Handler):
    """pyperplan reports its expansions only in a log line: "N Nodes expanded"."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.expanded: int | None = None

    def emit(self, record: logging.LogRecord) -> None:
        match = re.match(r"(\d+) Nodes expanded", record.getMessage())
        if match:
            self.expanded = int(match.group(1))
