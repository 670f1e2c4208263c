"""Runner overhead per action: `goap run` against running the same commands directly.

Baseline: the same N argv run one after another with subprocess.run (no planning, no state
file). The difference, divided by N, is what goap adds per action: planning, the journal,
two atomic state writes (fsync'd), log capture. Usage:

    python -m bench.runner [--actions 50] [--out bench/results/runner.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.catalogs import chain
from goap.loading.catalog import load_catalog
from goap.running.runner import Runner
from state.store import new_state, save_state

ARGV = ["true"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--actions", type=int, default=50)
    parser.add_argument("--out", type=Path, default=Path("bench/results/runner.json"))
    args = parser.parse_args()
    n = args.actions
    doc = chain(n, unit=True)
    for action in doc["actions"].values():
        action["cmd"] = ARGV
    catalog = load_catalog("chain.yaml", json.dumps(doc))
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        for _ in range(n):
            subprocess.run(ARGV, check=True)
        direct = time.perf_counter() - start

        start = time.perf_counter()
        result = Runner(catalog, Path(tmp) / "state.json", Path(tmp)).run()
        goap = time.perf_counter() - start
        assert result.status == "completed", result.message

        state = new_state(catalog.name, catalog.schema)
        start = time.perf_counter()
        for _ in range(n):
            save_state(Path(tmp) / "write.json", state)
        write = (time.perf_counter() - start) / n
    per_action = (goap - direct) / n
    table = Table(title=f"runner overhead, {n} actions of `{' '.join(ARGV)}`", header_style="bold")
    for col in ("measure", "total s", "per action ms"):
        table.add_column(col, justify="left" if col == "measure" else "right")
    table.add_row("baseline: subprocess.run, no goap", f"{direct:.3f}", f"{direct / n * 1000:.2f}")
    table.add_row("goap run (plan, journal, state writes)", f"{goap:.3f}", f"{goap / n * 1000:.2f}")
    table.add_row("overhead goap adds", f"{goap - direct:.3f}", f"{per_action * 1000:.2f}")
    table.add_row("one atomic state write (fsync)", "", f"{write * 1000:.2f}")
    Console(width=120).print(table)
    print(f"goap run / baseline: {goap / direct:.2f}x")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "machine": platform.platform(),
                "python": platform.python_version(),
                "actions": n,
                "baseline_s": direct,
                "goap_s": goap,
                "overhead_ms_per_action": per_action * 1000,
                "state_write_ms": write * 1000,
                "ratio": goap / direct,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"results: {args.out}")


if __name__ == "__main__":
    main()
