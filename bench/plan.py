"""Planner benchmark: plan time and nodes expanded, goap's default against a named baseline.

Baseline: uniform-cost search (blind A*) with neither relevance pruning, independent-part
decomposition nor lookahead, measured in the same run on the same catalogs; the default is
also run without its lookahead, to show what that buys. Usage:

    python -m bench.plan [--sizes 10,100,1000] [--repeat 3] [--out bench/results/plan.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.catalogs import SHAPES
from goap.loading.catalog import Catalog, load_catalog
from goap.planning.planner import PlanOptions, plan

SEED = Path(__file__).resolve().parent.parent / "tests" / "catalogs" / "seed.yaml"
DEFAULT = PlanOptions()
NO_LOOKAHEAD = PlanOptions(lookahead=False, timeout=10)
BASELINE = PlanOptions(heuristic="blind", prune=False, decompose=False, lookahead=False, timeout=10)


def measure(catalog: Catalog, options: PlanOptions, repeat: int) -> dict:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = plan(catalog, catalog.initial, options=options)
        times.append(time.perf_counter() - start)
        if result.status == "limit":
            break
    assert result is not None
    return {
        "status": result.status,
        "cost": result.cost if result.found else None,
        "expanded": result.expanded,
        "ms": statistics.median(times) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench/results/plan.json"))
    args = parser.parse_args()
    problems = [("seed A01-A15", load_catalog(SEED))]
    for size in (int(s) for s in args.sizes.split(",")):
        for shape, make in SHAPES.items():
            problems.append(
                (f"{shape}-{size}", load_catalog(f"{shape}.yaml", json.dumps(make(size))))
            )
    table = Table(
        title="goap plan: default (A* + h_max, pruning, independent parts, lookahead) vs "
        "baseline (uniform-cost search)",
        header_style="bold",
    )
    for col in (
        "problem",
        "actions",
        "cost",
        "expanded",
        "ms",
        "no-lookahead expanded",
        "no-lookahead ms",
        "baseline cost",
        "baseline expanded",
        "baseline ms",
        "speed-up",
    ):
        table.add_column(col, justify="left" if col == "problem" else "right")
    rows = []
    for name, catalog in problems:
        ours = measure(catalog, DEFAULT, args.repeat)
        plain = measure(catalog, NO_LOOKAHEAD, 1 if len(catalog.actions) > 100 else args.repeat)
        base = measure(catalog, BASELINE, 1 if len(catalog.actions) > 100 else args.repeat)
        if ours["cost"] is not None and base["cost"] is not None:
            assert abs(ours["cost"] - base["cost"]) < 1e-9, (name, ours, base)
        speedup = base["ms"] / ours["ms"] if base["status"] == "found" else None
        rows.append(
            {
                "problem": name,
                "actions": len(catalog.actions),
                "goap": ours,
                "no_lookahead": plain,
                "baseline": base,
                "speedup": speedup,
            }
        )
        table.add_row(
            name,
            str(len(catalog.actions)),
            _num(ours["cost"]),
            str(ours["expanded"]),
            f"{ours['ms']:.2f}",
            str(plain["expanded"]) if plain["status"] == "found" else plain["status"],
            f"{plain['ms']:.2f}",
            _num(base["cost"]) if base["status"] == "found" else base["status"],
            str(base["expanded"]),
            f"{base['ms']:.2f}",
            f"{speedup:.1f}x" if speedup else f">{base['ms'] / ours['ms']:.0f}x (limit)",
        )
    Console(width=200).print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {"machine": platform.platform(), "python": platform.python_version(), "rows": rows},
            indent=2,
        )
        + "\n"
    )
    print(f"results: {args.out}")


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


if __name__ == "__main__":
    main()
