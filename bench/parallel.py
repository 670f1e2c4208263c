"""Steps at once against one by one: the seed's plan with sleep-based stand-in actions.

Every action of ``plans/deployment.yaml`` keeps its preconditions and effects; its executor
becomes ``sleep D`` with D proportional to the seed's own time estimates (training and CI
longest). Sensors are dropped (they would look at a real repository). Baseline: the same
catalog with ``--jobs 1``, in the same run. Also the runner's overhead per action on a chain
of ``true`` commands with ``--jobs 1`` and ``--jobs 4`` (a chain never runs two at once, so
this is the price of the scheduler). Usage:

    python -m bench.parallel [--scale 0.1] [--demo] [--ray] [--out bench/results/parallel.json]

``--demo`` also times ``goap demo`` from nothing with ``--jobs 1`` and ``--jobs 4`` (minutes),
and a round of the demo's sensors in its workspace, forked from the warm sensor host against
a child per sensor;
``--ray`` also times Python actions through the detached and ray job backends against a
local child, on a local Ray cluster it starts and stops.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench.catalogs import chain
from goap.loading.catalog import load_catalog
from goap.running.runner import Runner

ROOT = Path(__file__).resolve().parents[1]
# seconds per action at scale 1, after the seed's estimates (minutes become seconds)
SECONDS = {"T01": 8, "T02": 10, "A09": 5, "T00": 2, "A11": 2, "A01": 1, "A02": 1, "A03": 1}
DEFAULT_SECONDS = 0.5


def stand_in(scale: float) -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / "plans" / "deployment.yaml").read_text())
    doc.pop("sensors", None)
    for action in doc["actions"].values():
        seconds = SECONDS.get(action.get("id", ""), DEFAULT_SECONDS) * scale
        for key in ("run", "with", "observe", "cmd", "timeout", "retry", "agent"):
            action.pop(key, None)
        action["cmd"] = ["sleep", f"{seconds:.3f}"]
    return doc


def timed_run(doc: dict[str, Any], jobs: int) -> tuple[float, int]:
    catalog = load_catalog("bench.yaml", json.dumps(doc))
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = Runner(catalog, Path(tmp) / "state.json", Path(tmp), jobs=jobs).run()
        took = time.perf_counter() - start
    assert result.status == "completed", result.message
    return took, len(result.executed)


def overhead(jobs: int, n: int) -> float:
    """Milliseconds goap adds per action of a chain of `true`, against subprocess.run."""
    doc = chain(n, unit=True)
    for action in doc["actions"].values():
        action["cmd"] = ["true"]
    start = time.perf_counter()
    for _ in range(n):
        subprocess.run(["true"], check=True)
    direct = time.perf_counter() - start
    took, _ = timed_run(doc, jobs)
    return (took - direct) / n * 1000


def sense_rounds(workdir: Path, rounds: int = 5) -> dict[str, float]:
    """Seconds per round of the demo catalog's sensors in a finished demo workspace: forked
    from the warm sensor host (its start-up apart) against a child per sensor (baseline)."""
    from goap.running.execution import ChildProcesses, ExecutionContext

    catalog = load_catalog(ROOT / "plans" / "deployment.yaml")
    sensors = [(s.name, s.executor) for s in catalog.sensors]
    ctx = ExecutionContext.create(workdir, workdir / ".goap" / "bench-logs")
    log = ctx.logs / "sensors.log"
    out: dict[str, float] = {}
    for name, host in (("child_per_sensor", "0"), ("host", "1")):
        os.environ["GOAP_SENSOR_HOST"] = host
        execution = ChildProcesses()
        try:
            start = time.perf_counter()
            first = execution.sense(sensors, log, ctx)
            out[f"sense_{name}_first_s"] = time.perf_counter() - start
            assert all(o.ok for o in first), [o.error for o in first if not o.ok]
            start = time.perf_counter()
            for _ in range(rounds):
                execution.sense(sensors, log, ctx)
            out[f"sense_{name}_s"] = (time.perf_counter() - start) / rounds
        finally:
            execution.close()
            os.environ.pop("GOAP_SENSOR_HOST", None)
    out["sensors"] = len(sensors)
    return out


def stop_server(workspace: Path) -> None:
    """The demo leaves its model server running for the user; the benchmark stops it."""
    try:
        ready = json.loads((workspace / ".goap" / "serve" / "ready.json").read_text())
        os.kill(int(ready["pid"]), signal.SIGTERM)
    except (OSError, ValueError, KeyError):
        pass  # none was started, or it is gone


REMOTE = "def work(workdir: str = '.'):\n    return {'done': True}\n"


def remote_overhead(n: int, backend: str, address: str = "") -> float:
    """Seconds per action of a chain of n Python actions whose [jobs] backend is ``backend``."""
    doc = chain(n, unit=True)
    for action in doc["actions"].values():
        action["run"] = "bench_remote:work"
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "bench_remote.py").write_text(REMOTE)
        lines = ["[jobs]"] + [f'{name} = "{backend}"' for name in doc["actions"]]
        if address:
            lines += ["[jobs.ray]", f'address = "{address}"']
        (Path(tmp) / "goap.toml").write_text("\n".join(lines) + "\n")
        sys.path.insert(0, tmp)  # the catalog's module is found where a user's would be
        try:
            catalog = load_catalog(Path(tmp) / "bench.yaml", json.dumps(doc))
        finally:
            sys.path.remove(tmp)
        start = time.perf_counter()
        result = Runner(catalog, Path(tmp) / "state.json", Path(tmp), jobs=1).run()
        took = time.perf_counter() - start
    assert result.status == "completed", result.message
    return took / n


def ray_cluster() -> tuple[str, Any]:
    """A local Ray head on free ports; returns its dashboard address and a stop function."""
    import socket

    def free() -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    ray = str(Path(sys.executable).with_name("ray"))
    dashboard = free()
    subprocess.run(
        [
            ray,
            "start",
            "--head",
            f"--port={free()}",
            "--num-cpus=2",
            "--disable-usage-stats",
            "--dashboard-host=127.0.0.1",
            f"--dashboard-port={dashboard}",
        ],  # fmt: skip
        check=True,
        capture_output=True,
    )
    return f"http://127.0.0.1:{dashboard}", lambda: subprocess.run(
        [ray, "stop", "--force"], capture_output=True
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=0.1, help="stand-in seconds factor")
    parser.add_argument("--chain", type=int, default=40, help="actions for the overhead")
    parser.add_argument("--out", type=Path, default=Path("bench/results/parallel.json"))
    parser.add_argument("--ray", action="store_true", help="also: Ray Jobs against local")
    parser.add_argument("--demo", action="store_true", help="also: goap demo, 1 vs 4 jobs")
    args = parser.parse_args()
    doc = stand_in(args.scale)
    sequential, steps = timed_run(doc, 1)
    parallel, _ = timed_run(doc, 4)
    ms1, ms4 = overhead(1, args.chain), overhead(4, args.chain)
    print(f"seed plan, {steps} sleep stand-ins (scale {args.scale}):")
    print(f"  baseline --jobs 1: {sequential:.2f} s")
    print(f"  --jobs 4:          {parallel:.2f} s   ratio {parallel / sequential:.2f}")
    print(f"runner overhead per action ({args.chain}-step chain of `true`):")
    print(f"  --jobs 1: {ms1:.1f} ms   --jobs 4: {ms4:.1f} ms   ratio {ms4 / ms1:.2f}")
    demo: dict[str, float] = {}
    if args.demo:
        for jobs in (1, 4):
            with tempfile.TemporaryDirectory() as tmp:
                start = time.perf_counter()
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "goap",
                        "demo",
                        "--dir",
                        f"{tmp}/ws",
                        "--jobs",
                        str(jobs),
                        "--json",
                    ],  # fmt: skip
                    check=True,
                    capture_output=True,
                )
                demo[f"demo_jobs{jobs}_s"] = time.perf_counter() - start
                try:
                    if jobs == 4:
                        demo.update(sense_rounds(Path(tmp) / "ws"))
                finally:
                    stop_server(Path(tmp) / "ws")
        ratio = demo["demo_jobs4_s"] / demo["demo_jobs1_s"]
        print(f"goap demo from nothing: baseline --jobs 1 {demo['demo_jobs1_s']:.0f} s, "
              f"--jobs 4 {demo['demo_jobs4_s']:.0f} s, ratio {ratio:.2f}")  # fmt: skip
        child, host = demo["sense_child_per_sensor_s"], demo["sense_host_s"]
        print(
            f"a round of the demo's {demo['sensors']:.0f} sensors: baseline a child each "
            f"{child:.2f} s, forked from the warm host {host:.2f} s, ratio {host / child:.2f} "
            f"(the host's first round, with its imports: {demo['sense_host_first_s']:.2f} s)"
        )
    remote: dict[str, float] = {}
    if args.ray:
        n = 10
        remote["local_s_per_action"] = remote_overhead(n, "local")
        remote["detached_s_per_action"] = remote_overhead(n, "detached")
        address, stop = ray_cluster()
        try:
            remote["ray_s_per_action"] = remote_overhead(n, "ray", address)
        finally:
            stop()
        base = remote["local_s_per_action"]
        print(f"remote backends, {n} Python actions one by one (baseline: local child):")
        for key, value in remote.items():
            name, ms = key.split("_")[0], value * 1000
            print(f"  {name:>8}: {ms:.0f} ms per action   ratio {value / base:.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                **demo,
                **remote,
                "machine": platform.platform(),
                "python": platform.python_version(),
                "scale": args.scale,
                "steps": steps,
                "sequential_s": sequential,
                "parallel_s": parallel,
                "ratio": parallel / sequential,
                "overhead_ms_jobs1": ms1,
                "overhead_ms_jobs4": ms4,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"results: {args.out}")


if __name__ == "__main__":
    main()
