"""goap's planner against classical planners, on the same problems, in one run.

Every problem (the seed catalog, then generated chains, wide independent goals, padded
catalogs and numeric counters of 10 to 5,000 actions, each with costs and with unit costs)
is planned by goap in-process (median of ``--repeat`` calls of ``goap.planning.planner.plan`` on the
loaded catalog) and exported with ``goap.planning.pddl.export`` for:

- Fast Downward, ``astar(lmcut())`` (optimal), timed end to end as a process, the way it is
  used (its own start-up and translation included); every problem;
- pyperplan, A* with LM-cut (optimal), timed in-process from parsing to plan; unit-cost
  problems only, since it has no action costs.

Where Fast Downward does not finish a problem within the timeout, its optimal cost is still
learned when the problem splits into independent parts (``bench.parts``): Fast Downward
solves each chunk of parts and the costs add up ("FD by parts", marked ``*``). Its time on
the whole problem stays a timeout in the ratios.

Optimal costs must agree: a mismatch is printed and makes the exit status 1. Usage:

    python -m bench.planner [--sizes 10,100,1000,5000] [--repeat 5] [--timeout 30]
                            [--only REGEX] [--no-fd] [--no-pyperplan] [--out FILE]

``--only chain-5000 --timeout 3600 --no-pyperplan --out ...`` gives Fast Downward an hour
on one problem, to check a cost it cannot reach within the suite's timeout.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from bench.catalogs import SHAPES
from bench.classical import Run, fast_downward, pyperplan
from bench.parts import split
from goap.loading.catalog import Catalog, load_catalog
from goap.planning.pddl import export
from goap.planning.planner import PlanOptions, plan

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "tests" / "catalogs" / "seed.yaml"
OPTIONS = PlanOptions()  # the default: A* with auto (LM-cut or h_max), optimal
# modules `goap plan` must not load: heavy, or (pydantic) 0.1 s of start-up on their own
HEAVY = ("torch", "numpy", "networkx", "pydantic", "pyperplan", "up_fast_downward")


def problems(sizes: list[int]) -> list[tuple[str, str, str]]:
    """(name, file name, YAML/JSON text) of every problem of the suite."""
    out = [("seed A01-A15", str(SEED), SEED.read_text())]
    for size in sizes:
        for unit in (False, True):
            for shape, make in SHAPES.items():
                name = f"{shape}-{size}{'/unit' if unit else ''}"
                out.append((name, f"{shape}.yaml", json.dumps(make(size, unit=unit))))
    return out


def time_load(path: str, text: str) -> tuple[Catalog, float]:
    """The catalog, and the median time to load it (parse, validate, compile)."""
    times = []
    catalog = None
    while not times or (sum(times) < 0.5 and len(times) < 20):
        start = time.perf_counter()
        catalog = load_catalog(path, text)
        times.append(time.perf_counter() - start)
    assert catalog is not None
    return catalog, statistics.median(times)


def time_goap(catalog: Catalog, repeat: int) -> dict:
    """Median of at least ``repeat`` calls, more (up to 200) while they take under 0.5 s."""
    times: list[float] = []
    result = None
    while len(times) < repeat or (sum(times) < 0.5 and len(times) < 200):
        start = time.perf_counter()
        result = plan(catalog, catalog.initial, options=OPTIONS)
        times.append(time.perf_counter() - start)
    assert result is not None
    return {
        "status": result.status,
        "cost": result.cost if result.found else None,
        "expanded": result.expanded,
        "seconds": statistics.median(times),
    }


def time_process(path: Path, text: str, ours: dict, repeat: int) -> float:
    """Median wall time of ``goap plan FILE --json`` as a new process (start-up, load, plan),
    the way a script or an agent calls it; its cost must be the in-process one."""
    path.write_text(text)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "goap", "plan", str(path), "--json"],
            capture_output=True,
            text=True,
        )
        times.append(time.perf_counter() - start)
        if json.loads(proc.stdout)["cost"] != ours["cost"]:
            raise AssertionError(f"{path}: goap plan as a process found another cost")
    return statistics.median(times)


def time_other(run: Callable[[], Run], repeat: int) -> dict:
    """Median of ``repeat`` runs; a run over 2 s is not repeated."""
    runs = [run()]
    while len(runs) < repeat and runs[0].status == "found" and (runs[0].seconds or 0) < 2:
        runs.append(run())
    first = runs[0]
    seconds = [r.seconds for r in runs if r.seconds is not None]
    return {
        "status": first.status,
        "cost": first.cost,
        "expanded": first.expanded,
        "seconds": statistics.median(seconds) if seconds else None,
        "message": first.message,
    }


def fast_downward_by_parts(
    text: str, directory: Path, timeout: float, max_actions: int = 100
) -> dict:
    """Fast Downward on each independent chunk of the catalog; the optimal costs add up."""
    parts = split(yaml.safe_load(text), max_actions)
    if len(parts) < 2:
        return {"status": "one part"}
    cost, expanded, seconds = 0.0, 0, 0.0
    for part in parts:
        exported = export(load_catalog(f"{part['name']}.yaml", json.dumps(part)))
        files = exported.write(directory / part["name"])
        run = fast_downward(*files, timeout, exported.cost_scale)
        if run.status != "found":
            return {"status": run.status, "parts": len(parts), "message": run.message}
        cost += run.cost or 0.0
        expanded += run.expanded or 0
        seconds += run.seconds or 0.0
    return {
        "status": "found",
        "cost": cost,
        "expanded": expanded,
        "seconds": seconds,
        "parts": len(parts),
    }


def fresh_process(repeat: int) -> dict:
    """``goap plan`` on the seed catalog as a new process (table, then ``--json``), and what
    it imported; ``python -c pass`` is the floor no command can go under."""
    commands = {
        "seconds": ["-m", "goap", "plan", str(SEED)],
        "json_seconds": ["-m", "goap", "plan", str(SEED), "--json"],
        "python_seconds": ["-c", "pass"],
    }
    times: dict[str, list[float]] = {key: [] for key in commands}
    for _ in range(repeat):
        for key, command in commands.items():  # interleaved: load changes hit all three
            start = time.perf_counter()
            subprocess.run([sys.executable, *command], capture_output=True, check=True)
            times[key].append(time.perf_counter() - start)
    probe = (
        "import runpy, sys\n"
        f"sys.argv = ['goap', 'plan', {str(SEED)!r}]\n"
        "try:\n    runpy.run_module('goap', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    heavy = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.splitlines()[-1]
    return {
        **{key: statistics.median(values) for key, values in times.items()},
        "heavy_modules": [m for m in heavy.split(",") if m],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10,100,1000,5000")
    parser.add_argument("--repeat", type=int, default=5, help="goap runs per problem (median)")
    parser.add_argument("--other-repeat", type=int, default=3, help="runs of FD and pyperplan")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds, FD and pyperplan")
    parser.add_argument("--fresh-repeat", type=int, default=5, help="fresh `goap plan` runs")
    parser.add_argument("--only", help="regular expression: run the problems it finds")
    parser.add_argument("--no-fd", action="store_true")
    parser.add_argument("--no-pyperplan", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "planner.json")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    mismatches = []
    header = (
        f"{'problem':<22}{'actions':>8}  {'cost goap/FD/pp':<22}{'expanded goap/FD/pp':<24}"
        f"{'goap ms':>9}{'load ms':>9}{'proc ms':>9}{'FD ms':>9}{'pp ms':>10}{'goap/FD':>9}"
        f"{'goap/pp':>9}"
    )
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory(prefix="goap-bench-") as tmp:
        for name, path, text in problems(sizes):
            if args.only and not re.search(args.only, name):
                continue
            catalog, load_seconds = time_load(path, text)
            unit = all(a.cost == 1 for a in catalog.actions)
            ours = time_goap(catalog, args.repeat)
            ours["load_seconds"] = load_seconds
            directory = Path(tmp) / name.replace("/", "-").replace(" ", "-")
            exported = export(catalog)
            files = exported.write(directory)
            ours["process_seconds"] = time_process(directory / "catalog.yaml", text, ours, 3)
            fd = (
                {"status": "skipped"}
                if args.no_fd
                else time_other(
                    lambda f=files, s=exported.cost_scale: fast_downward(*f, args.timeout, s),
                    args.other_repeat,
                )
            )
            if fd["status"] == "timeout":
                fd["by_parts"] = fast_downward_by_parts(text, Path(tmp) / "parts", args.timeout)
            pp = (
                {"status": "skipped"}
                if args.no_pyperplan
                else {"status": "n/a (costs)"}
                if not unit
                else time_other(lambda f=files: pyperplan(*f, args.timeout), args.other_repeat)
            )
            for other, who in (
                (fd, "Fast Downward"),
                (fd.get("by_parts", {}), "Fast Downward by parts"),
                (pp, "pyperplan"),
            ):
                if other.get("status") == "found" and other["cost"] != ours["cost"]:
                    mismatches.append(f"{name}: goap {ours['cost']} != {who} {other['cost']}")
            row = {
                "problem": name,
                "actions": len(catalog.actions),
                "unit_costs": unit,
                "goap": ours,
                "fast_downward": fd,
                "pyperplan": pp,
            }
            rows.append(row)
            print(_line(row), flush=True)
    fresh = fresh_process(args.fresh_repeat)
    summary = _summary(rows, fresh, mismatches)
    print()
    for line in summary:
        print(line)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "machine": platform.platform(),
                "python": platform.python_version(),
                "cpus": _cpus(),
                "date": time.strftime("%Y-%m-%d %H:%M"),
                "command": " ".join(["python -m bench.planner", *(argv or sys.argv[1:])]),
                "goap_options": {"heuristic": OPTIONS.heuristic, "search": OPTIONS.search},
                "rows": rows,
                "fresh_process": fresh,
                "summary": summary,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"results: {args.out}")
    return 1 if mismatches else 0


def _line(row: dict) -> str:
    g, fd, pp = row["goap"], row["fast_downward"], row["pyperplan"]
    costs = "/".join(_cost(r) for r in (g, fd, pp))
    if fd.get("by_parts", {}).get("status") == "found":
        costs = "/".join([_cost(g), f"{fd['by_parts']['cost']:g}*", _cost(pp)])
    expanded = "/".join(
        str(r.get("expanded")) if r["status"] == "found" else "-" for r in (g, fd, pp)
    )
    return (
        f"{row['problem']:<22}{row['actions']:>8}  {costs:<22}{expanded:<24}"
        f"{g['seconds'] * 1000:>9.2f}{g['load_seconds'] * 1000:>9.1f}"
        f"{g['process_seconds'] * 1000:>9.0f}{_ms(fd):>9}{_ms(pp):>10}"
        f"{_ratio(g, fd):>9}{_ratio(g, pp):>9}"
    )


def _cost(run: dict) -> str:
    if run["status"] == "found":
        return f"{run['cost']:g}"
    return {"not installed": "n/i", "n/a (costs)": "n/a", "skipped": "skip"}.get(
        run["status"], run["status"]
    )


def _ms(run: dict) -> str:
    if run.get("seconds") is None:
        return "-"
    prefix = ">" if run["status"] == "timeout" else ""
    return f"{prefix}{run['seconds'] * 1000:.1f}"


def _ratio(ours: dict, other: dict) -> str:
    if other.get("seconds") is None or other["status"] not in ("found", "timeout"):
        return "-"
    prefix = "<" if other["status"] == "timeout" else ""
    return f"{prefix}{ours['seconds'] / other['seconds']:.2g}"


def _summary(rows: list[dict], fresh: dict, mismatches: list[str]) -> list[str]:
    out = []
    for row in rows:
        if row["problem"] == "seed A01-A15":
            seed = row["goap"]["seconds"] * 1000
            out.append(f"seed catalog, in-process plan(): {seed:.2f} ms (target < 1 ms)")
    out.append(
        f"goap plan as a fresh process on the seed: {fresh['seconds']:.3f} s with the table, "
        f"{fresh['json_seconds']:.3f} s with --json (target < 0.3 s; `python -c pass`: "
        f"{fresh['python_seconds']:.3f} s); "
        f"heavy modules imported: {', '.join(fresh['heavy_modules']) or 'none'}"
    )
    for key, who in (("fast_downward", "Fast Downward"), ("pyperplan", "pyperplan")):
        compared = [r for r in rows if r[key]["status"] in ("found", "timeout")]
        if not compared:
            status = {r[key]["status"] for r in rows} - {"n/a (costs)"}
            out.append(f"{who}: {', '.join(sorted(status)) or 'no unit-cost problem'}")
            continue
        ratios = [r["goap"]["seconds"] / r[key]["seconds"] for r in compared]
        small = [r["goap"]["seconds"] / r[key]["seconds"] for r in compared if r["actions"] <= 1000]
        slower = [r["problem"] for r in compared if r["goap"]["seconds"] >= r[key]["seconds"]]
        solved = [r for r in compared if _optimum(r[key]) is not None]
        equal = sum(1 for r in solved if _optimum(r[key]) == r["goap"]["cost"])
        by_parts = sum(1 for r in solved if r[key]["status"] != "found")
        unsolved = [r["problem"] for r in compared if _optimum(r[key]) is None]
        parts = f", {by_parts} of them by parts" if by_parts else ""
        out.append(
            f"{who}: {len(compared)} problems, equal optimal cost on {equal}/{len(solved)} "
            f"solved{parts}; not solved: {', '.join(unsolved) or 'none'}; "
            f"time goap/{who}: median {statistics.median(ratios):.2g} "
            f"(<= 1,000 actions: {_spread(small)}); goap slower on: {', '.join(slower) or 'none'}"
        )
    fd = [r for r in rows if r["fast_downward"]["status"] in ("found", "timeout")]
    ways = {
        "goap end to end in-process (load the catalog, then plan)": lambda g: (
            g["seconds"] + g["load_seconds"]
        ),
        "`goap plan --json` as a process (start-up, load, plan)": lambda g: g["process_seconds"],
    }
    for label, seconds in ways.items() if fd else ():
        both = [(r, seconds(r["goap"]) / r["fast_downward"]["seconds"]) for r in fd]
        small = [ratio for r, ratio in both if r["actions"] <= 1000]
        out.append(
            f"{label} / Fast Downward end to end: "
            f"median {statistics.median(ratio for _, ratio in both):.2g} "
            f"(<= 1,000 actions: {_spread(small)}); "
            f"slower on: {', '.join(r['problem'] for r, ratio in both if ratio >= 1) or 'none'}"
        )
    out.extend(f"COST MISMATCH {m}" for m in mismatches)
    return out


def _spread(ratios: list[float]) -> str:
    if not ratios:
        return "none"
    return f"median {statistics.median(ratios):.2g}, worst {max(ratios):.2g}"


def _optimum(run: dict) -> float | None:
    """The planner's optimal cost: of the whole problem, else summed over its parts."""
    if run["status"] == "found":
        return run["cost"]
    if run.get("by_parts", {}).get("status") == "found":
        return run["by_parts"]["cost"]
    return None


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    raise SystemExit(main())
