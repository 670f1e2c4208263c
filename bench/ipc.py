"""goap on IPC STRIPS tasks nobody here wrote, against Fast Downward and pyperplan.

``bench.planner`` measures catalogs this project generates; these are the planning
competitions' tasks (bench/ipc, see SOURCES.md there), imported with
``goap.planning.pddl_import``. Per task, within one time limit:

- goap in-process: ``plan()`` on the imported catalog (import and load timed apart);
- goap as a process: ``goap plan CATALOG --json`` on the catalog ``goap import`` writes;
- Fast Downward ``astar(lmcut())`` as a process on the PDDL files: end to end, and its
  search time alone (from its log), the baseline the ratios are against;
- pyperplan, A* with LM-cut, in-process (parse to plan).

Every goap plan is replayed on the full ground task (``Imported.check``); optimal costs of
all planners must agree. A wrong plan or a cost mismatch makes the exit status 1. Usage:

    python -m bench.ipc [--timeout 60] [--only REGEX] [--heuristic NAME] [--no-fd]
                        [--no-pyperplan] [--quick] [--out-dir bench/results]
    python -m bench.ipc --compare BEFORE.json AFTER.json   # goap's rows side by side
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from bench.classical import fast_downward, pyperplan
from goap.faces.importing import catalog_yaml
from goap.loading.catalog import load_catalog
from goap.planning.pddl_import import import_pddl
from goap.planning.planner import PlanOptions, plan
from state.files import write_atomic

ROOT = Path(__file__).resolve().parent.parent
IPC = ROOT / "bench" / "ipc"
QUICK = ("gripper/task01", "blocks/task01")
SLOW = 1.0  # seconds: "hard" tasks are those where some planner needs more than this


def tasks() -> list[tuple[str, Path, Path]]:
    """(domain/taskNN, domain file, problem file) of every stored task, in order."""
    out = []
    for directory in sorted(p for p in IPC.iterdir() if p.is_dir()):
        for problem in sorted(directory.glob("task*.pddl")):
            number = problem.stem.removeprefix("task")
            domain = directory / f"domain{number}.pddl"
            domain = domain if domain.exists() else directory / "domain.pddl"
            out.append((f"{directory.name}/{problem.stem}", domain, problem))
    return out


def goap_in_process(catalog, imported, options: PlanOptions) -> dict:
    """``plan()``: the median of up to 3 runs while a run takes under a second; and of its
    search alone (``PlanResult.search_seconds``: what Fast Downward's search time counts)."""
    times, searches, result = [], [], None
    while not times or (len(times) < 3 and sum(times) < 1.0 and result.found):
        start = time.perf_counter()
        result = plan(catalog, catalog.initial, options=options)
        times.append(time.perf_counter() - start)
        searches.append(result.search_seconds)
    row = {
        "status": result.status,
        "cost": result.cost if result.found else None,
        "expanded": result.expanded,
        "seconds": statistics.median(times),
        "search_seconds": statistics.median(searches),
    }
    if result.found:
        cost, why = imported.check([a.name for a in result.actions])
        row["valid"] = why == "" and cost == result.cost
        row["invalid_because"] = why or (None if row["valid"] else f"replay cost {cost}")
    return row


def goap_process(path: Path, imported, options: PlanOptions) -> dict:
    """``goap plan FILE --json`` as a new process: start-up, load, plan; its plan replayed."""
    command = [sys.executable, "-m", "goap", "plan", str(path), "--json"]
    command += ["--timeout", str(options.timeout), "--heuristic", options.heuristic]
    start = time.perf_counter()
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=options.timeout + 60)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "seconds": options.timeout + 60}
    seconds = time.perf_counter() - start
    try:
        document = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return {"status": "error", "seconds": seconds, "message": proc.stderr[-500:]}
    row = {"status": document.get("status"), "cost": document.get("cost"), "seconds": seconds}
    if row["status"] == "found":
        cost, why = imported.check(document["plan"])
        row["valid"] = why == "" and cost == row["cost"]
    return row


def run_task(name: str, domain: Path, problem: Path, args, work: Path) -> dict:
    options = PlanOptions(heuristic=args.heuristic, timeout=args.timeout)
    start = time.perf_counter()
    imported = import_pddl(domain, problem)
    import_seconds = time.perf_counter() - start
    text = json.dumps(imported.catalog)
    start = time.perf_counter()
    catalog = load_catalog(f"{name}.json", text)
    load_seconds = time.perf_counter() - start
    path = work / (name.replace("/", "-") + ".yaml")
    path.write_text(catalog_yaml(imported, domain, problem))
    row = {
        "task": name,
        "operators": imported.grounded,
        "actions": len(imported.catalog["actions"]),
        "variables": len(imported.catalog["state"]),
        "import_seconds": import_seconds,
        "load_seconds": load_seconds,
        "goap": goap_in_process(catalog, imported, options),
        "goap_process": None,
    }
    if args.no_process:
        pass
    elif row["goap"]["status"] == "limit":  # the same search in a process: the same limit
        row["goap_process"] = {"status": "limit", "note": "not run: in-process hit the limit"}
    else:
        row["goap_process"] = goap_process(path, imported, options)
    reused = args.reused.get(name, {})
    for key, run, skip in (
        ("fast_downward", lambda: fast_downward(domain, problem, args.timeout), args.no_fd),
        ("pyperplan", lambda: pyperplan(domain, problem, args.timeout), args.no_pyperplan),
    ):
        if key in reused:
            row[key] = {**reused[key], "reused": True}
            continue
        if skip:
            row[key] = {"status": "skipped"}
            continue
        result = run()
        row[key] = {
            "status": result.status,
            "cost": result.cost,
            "expanded": result.expanded,
            "seconds": result.seconds,
            "search_seconds": result.search_seconds,
            "message": result.message[-300:],
        }
    return row


def problems_of(row: dict) -> list[str]:
    """Wrong plans and optimal costs that disagree."""
    out = []
    for key in ("goap", "goap_process"):
        if row[key] and row[key].get("valid") is False:
            out.append(f"{row['task']}: {key} plan is not valid on the ground task")
    costs = {
        key: row[key]["cost"]
        for key in ("goap", "goap_process", "fast_downward", "pyperplan")
        if row[key] and row[key].get("status") == "found"
    }
    if len(set(costs.values())) > 1:
        out.append(f"{row['task']}: optimal costs disagree {costs}")
    return out


def _cell(run: dict | None, field: str, scale: float = 1.0, digits: int = 0) -> str:
    if not run or run.get("status") == "skipped":
        return "-"
    if run.get("status") != "found":
        return {"limit": "limit", "timeout": "t/o"}.get(run.get("status"), run.get("status"))
    value = run.get(field)
    return "?" if value is None else f"{value * scale:.{digits}f}"


HEADER = (
    f"{'task':<22}{'ops':>6}  {'cost goap/FD/pp':<17}{'expanded goap/FD':>18}"
    f"{'goap ms':>10}{'srch ms':>9}{'proc ms':>10}{'FD srch':>9}{'FD ms':>9}{'pp ms':>10}"
    f"{'goap/FDs':>9}"
)


def line(row: dict) -> str:
    g, p, fd, pp = row["goap"], row["goap_process"], row["fast_downward"], row["pyperplan"]
    costs = "/".join(_cell(r, "cost") for r in (g, fd, pp))
    expanded = f"{_cell(g, 'expanded')}/{_cell(fd, 'expanded')}"
    ratio = "-"
    if g["status"] == "found" and fd["status"] == "found" and fd.get("search_seconds"):
        ratio = f"{g['seconds'] / max(fd['search_seconds'], 1e-4):.3g}"
    return (
        f"{row['task']:<22}{row['operators']:>6}  {costs:<17}{expanded:>18}"
        f"{_cell(g, 'seconds', 1000):>10}{_cell(g, 'search_seconds', 1000, 2):>9}"
        f"{_cell(p, 'seconds', 1000):>10}"
        f"{_cell(fd, 'search_seconds', 1000):>9}{_cell(fd, 'seconds', 1000):>9}"
        f"{_cell(pp, 'seconds', 1000):>10}{ratio:>9}"
    )


def summary(rows: list[dict], timeout: float) -> list[str]:
    def solved(key: str) -> set[str]:
        return {r["task"] for r in rows if r[key] and r[key].get("status") == "found"}

    out = [f"coverage within {timeout:g} s, of {len(rows)} tasks:"]
    for key, who in (
        ("goap", "goap in-process"),
        ("goap_process", "goap plan as a process"),
        ("fast_downward", "Fast Downward astar(lmcut())"),
        ("pyperplan", "pyperplan astar(lmcut)"),
    ):
        if all(not r[key] or r[key].get("status") == "skipped" for r in rows):
            out.append(f"  {who}: skipped")
            continue
        out.append(f"  {who}: {len(solved(key))}")
    fd = solved("fast_downward")
    ours = solved("goap")
    if fd:
        out.append(
            f"  solved by Fast Downward, not by goap: {', '.join(sorted(fd - ours)) or 'none'}"
        )
        out.append(
            f"  solved by goap, not by Fast Downward: {', '.join(sorted(ours - fd)) or 'none'}"
        )
    both = [r for r in rows if r["task"] in fd & ours and r["fast_downward"]["search_seconds"]]
    if both:

        def ratios(pick) -> list[float]:
            return [pick(r) for r in both]

        search = ratios(
            lambda r: r["goap"]["seconds"] / max(r["fast_downward"]["search_seconds"], 1e-4)
        )
        whole = ratios(lambda r: r["goap"]["seconds"] / r["fast_downward"]["seconds"])
        alike = [
            r["goap"]["search_seconds"] / max(r["fast_downward"]["search_seconds"], 1e-4)
            for r in both
            if r["goap"].get("search_seconds") is not None
        ]
        hard = [r for r in both if max(r["goap"]["seconds"], r["fast_downward"]["seconds"]) > SLOW]
        out.append(
            f"baseline Fast Downward, on the {len(both)} tasks both solve: goap in-process / FD "
            f"search time: median {statistics.median(search):.3g}, worst {max(search):.3g}; "
            f"/ FD end to end (process, translation, search): median "
            f"{statistics.median(whole):.3g}, worst {max(whole):.3g}"
        )
        if alike:
            out.append(
                f"  goap's search alone (no compiling, relaxing, encoding) / FD search time: "
                f"median {statistics.median(alike):.3g}, worst {max(alike):.3g}"
            )
        procs = [
            r["goap_process"]["seconds"] / r["fast_downward"]["seconds"]
            for r in both
            if r["goap_process"] and r["goap_process"].get("status") == "found"
        ]
        if procs:
            out.append(
                f"  goap plan as a process / FD end to end: median {statistics.median(procs):.3g}"
            )
        if hard:
            hard_ratios = [
                r["goap"]["seconds"] / max(r["fast_downward"]["search_seconds"], 1e-4) for r in hard
            ]
            out.append(
                f"  on the {len(hard)} tasks where either needs > {SLOW:g} s: goap / FD search "
                f"median {statistics.median(hard_ratios):.3g}, worst {max(hard_ratios):.3g}"
            )
        expanded = [
            r["goap"]["expanded"] / max(r["fast_downward"]["expanded"] or 1, 1) for r in both
        ]
        out.append(f"  expanded nodes goap / FD: median {statistics.median(expanded):.3g}")
        slower = [r["task"] for r, s in zip(both, search, strict=True) if s > 1]
        out.append(f"  goap slower than FD's search on: {', '.join(slower) or 'none'}")
    return out


def compare(before: Path, after: Path) -> list[str]:
    """goap in-process per task in two result files (before and after a planner change)."""
    runs = [json.loads(path.read_text()) for path in (before, after)]
    rows = [{r["task"]: r["goap"] for r in run["rows"]} for run in runs]
    out = [
        f"goap in-process: {before.name} (heuristic {runs[0]['heuristic']}) -> {after.name} "
        f"(heuristic {runs[1]['heuristic']}), limit {runs[1]['timeout']:g} s",
        f"{'task':<22}{'expanded before':>16}{'after':>10}{'ms before':>12}{'after':>10}"
        f"{'after/before':>14}",
    ]
    ratios = []
    for task, old in rows[0].items():
        new = rows[1].get(task)
        if new is None:
            continue
        ratio = "-"
        if old["status"] == new["status"] == "found":
            ratios.append(new["seconds"] / old["seconds"])
            ratio = f"{ratios[-1]:.3g}"
        out.append(
            f"{task:<22}{_cell(old, 'expanded'):>16}{_cell(new, 'expanded'):>10}"
            f"{_cell(old, 'seconds', 1000):>12}{_cell(new, 'seconds', 1000):>10}{ratio:>14}"
        )
    solved = [sum(1 for r in row.values() if r["status"] == "found") for row in rows]
    out.append(
        f"solved {solved[0]} -> {solved[1]} of {len(rows[0])}; time after/before on the "
        f"{len(ratios)} both solve: median {statistics.median(ratios):.3g}, "
        f"best {min(ratios):.3g}, worst {max(ratios):.3g}"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per planner")
    parser.add_argument("--only", help="regular expression on domain/taskNN")
    parser.add_argument("--heuristic", default=PlanOptions().heuristic, help="goap's")
    parser.add_argument("--no-fd", action="store_true")
    parser.add_argument("--no-pyperplan", action="store_true")
    parser.add_argument("--no-process", action="store_true", help="skip goap as a process")
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}, 20 s")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--tag", default="", help="added to the result file names")
    parser.add_argument(
        "--reuse",
        type=Path,
        help="take Fast Downward's and pyperplan's rows from this earlier result JSON "
        "(they do not change when goap does)",
    )
    parser.add_argument(
        "--compare",
        nargs=2,
        type=Path,
        metavar=("BEFORE", "AFTER"),
        help="print goap's rows of two result JSONs side by side (nothing is run)",
    )
    args = parser.parse_args(argv)
    if args.compare:
        print(*compare(*args.compare), sep="\n")
        return 0
    args.reused = {}
    if args.reuse:
        earlier = json.loads(args.reuse.read_text())["rows"]
        args.reused = {
            r["task"]: {k: r[k] for k in ("fast_downward", "pyperplan")} for r in earlier
        }
    chosen = [
        t
        for t in tasks()
        if (not args.only or re.search(args.only, t[0])) and (not args.quick or t[0] in QUICK)
    ]
    if args.quick:
        args.timeout = min(args.timeout, 20.0)
    text = [
        f"bench.ipc {date.today()}: {len(chosen)} tasks, limit {args.timeout:g} s, goap "
        f"heuristic {args.heuristic}; machine: {platform.processor() or platform.machine()}, "
        f"{len(os.sched_getaffinity(0))} CPUs, Python {platform.python_version()}",
        HEADER,
        "-" * len(HEADER),
    ]
    print(*text, sep="\n", flush=True)
    rows, problems = [], []
    with tempfile.TemporaryDirectory(prefix="goap-ipc-") as tmp:
        for k, (name, domain, problem) in enumerate(chosen, 1):
            print(f"[{k}/{len(chosen)}] {name} ...", file=sys.stderr, flush=True)
            row = run_task(name, domain, problem, args, Path(tmp))
            rows.append(row)
            problems += problems_of(row)
            text.append(line(row))
            print(text[-1], flush=True)
    tail = summary(rows, args.timeout) + [f"PROBLEM {p}" for p in problems]
    if args.reuse:
        tail.append(f"Fast Downward and pyperplan rows reused from {args.reuse.name}")
    text += tail
    print(*tail, sep="\n")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"ipc-{date.today()}{'-' + args.tag if args.tag else ''}"
    write_atomic(args.out_dir / f"{stem}.txt", "\n".join(text) + "\n")
    document = {
        "date": str(date.today()),
        "timeout": args.timeout,
        "heuristic": args.heuristic,
        "machine": {
            "processor": platform.processor() or platform.machine(),
            "cpus": len(os.sched_getaffinity(0)),
            "python": platform.python_version(),
        },
        "rows": rows,
        "summary": summary(rows, args.timeout),
        "problems": problems,
    }
    write_atomic(args.out_dir / f"{stem}.json", json.dumps(document, indent=1) + "\n")
    print(f"wrote {args.out_dir / stem}.txt and .json", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
