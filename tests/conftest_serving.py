"""Shared fixtures of the serving tests: a registry with real versions, and a real server.

The workspace is made by the real pipeline steps (dataset, two short trainings, ONNX export,
int8, gates, publish: v1). Further versions are real ONNX graphs made from v1's classifier:
``same`` (v1's graph: a good candidate), ``shuffled`` (a Gather permutes the logits: valid
probabilities, wrong breeds), ``slow`` (a chain of input-dependent MatMuls of 32 rows by 3072x3072,
which onnxruntime cannot fold away, added to the logits times zero: compute-bound, about 30 ms
on one core; one row was memory-bound and only 5 ms on a fast machine), ``nan`` (logits times NaN).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

NAME = "tiny-cats"
REGISTRY = ".goap/registry"


def build_workspace(root: Path) -> Path:
    """v1 by the real pipeline steps: a classifier trained long enough (about 0.8 on the
    probes) that a shuffled candidate is measurably worse."""
    from conftest_models import torch_threads
    from conftest_web import build_models

    (root / "goap.toml").write_text("[train]\nthreads = 1\n")
    with torch_threads(1):
        build_models(root, per_class=12, classifier_steps=120, classifier_batch=32,
                     description="tiny-cats for the serving tests")  # fmt: skip
    return root


def add_version(root: Path, kind: str) -> str:
    """A new registry version: v1's files with the classifier changed as ``kind`` says."""
    import onnx
    from onnx import helper, numpy_helper

    folder = root / REGISTRY / NAME
    number = max(int(p.name[1:]) for p in folder.iterdir() if p.name[1:].isdigit()) + 1
    target = folder / f"v{number}"
    shutil.copytree(folder / "v1", target)
    model = onnx.load(str(target / "classifier.int8.onnx"))
    graph = model.graph
    out = graph.output[0].name
    raw = out + "_raw"
    for node in graph.node:
        node.output[:] = [raw if o == out else o for o in node.output]
    if kind == "same":
        graph.node.append(helper.make_node("Identity", [raw], [out]))
    elif kind == "shuffled":
        perm = np.roll(np.arange(13), 5).astype(np.int64)
        graph.initializer.append(numpy_helper.from_array(perm, "goap_perm"))
        graph.node.append(helper.make_node("Gather", [raw, "goap_perm"], [out], axis=1))
    elif kind == "nan":
        graph.initializer.append(
            numpy_helper.from_array(np.array([np.nan], np.float32), "goap_nan")
        )
        graph.node.append(helper.make_node("Mul", [raw, "goap_nan"], [out]))
    elif kind == "slow":
        rng = np.random.default_rng(0)
        weight = (rng.standard_normal((3072, 3072)) / 55).astype(np.float32)
        graph.initializer.extend([
            numpy_helper.from_array(weight, "goap_w"),
            numpy_helper.from_array(np.array([-1, 3072], np.int64), "goap_flat"),
            numpy_helper.from_array(np.array([32, 1, 3072], np.int64), "goap_rows"),
            numpy_helper.from_array(np.array([0.0], np.float32), "goap_zero"),
        ])  # fmt: skip
        image = graph.input[0].name
        nodes = [helper.make_node("Reshape", [image, "goap_flat"], ["goap_r"]),
                 helper.make_node("Expand", ["goap_r", "goap_rows"], ["goap_h0"])]  # fmt: skip
        for i in range(8):
            nodes += [helper.make_node("MatMul", [f"goap_h{i}", "goap_w"], [f"goap_m{i}"]),
                      helper.make_node("Tanh", [f"goap_m{i}"], [f"goap_h{i + 1}"])]  # fmt: skip
        nodes += [
            helper.make_node("ReduceSum", ["goap_h8"], ["goap_s"], keepdims=0),
            helper.make_node("Mul", ["goap_s", "goap_zero"], ["goap_z"]),
            helper.make_node("Add", [raw, "goap_z"], [out]),
        ]
        graph.node.extend(nodes)
    else:
        raise ValueError(kind)
    onnx.save(model, str(target / "classifier.int8.onnx"))
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["version"] = target.name
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return target.name


@pytest.fixture(scope="session")
def serving_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_workspace(tmp_path_factory.mktemp("serving-ws"))


@pytest.fixture
def serving_ws(serving_base: Path, tmp_path: Path) -> Iterator[Path]:
    """A private copy of the workspace (v1 published); any server it started is stopped."""
    root = Path(shutil.copytree(serving_base, tmp_path / "ws", symlinks=True))
    yield root
    stop_server(root / ".goap" / "serve")


def stop_server(folder: Path) -> None:
    try:
        pid = json.loads((folder / "ready.json").read_text())["pid"]
        os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError, KeyError):
        return
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


class ModelServer:
    """``python -m models serve`` as a real subprocess on 127.0.0.1 (a free port)."""

    def __init__(self, root: Path, token: str = "test-token"):
        self.folder = root / "serve-test"
        self.folder.mkdir(exist_ok=True)
        (self.folder / "token").write_text(token)
        self.token = token
        ready = self.folder / "ready.json"
        ready.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "models", "serve", "--registry", str(root / REGISTRY),
             "--name", NAME, "--port", "0", "--state-dir", str(self.folder),
             "--token-file", str(self.folder / "token"), "--ready-file", str(ready)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not ready.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {self.proc.stderr.read()[-2000:]}")
            time.sleep(0.05)
        self.url = json.loads(ready.read_text())["url"]

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str) -> Any:
        import httpx

        return httpx.get(self.url + path, timeout=30).json()

    def route(self, stable: str, candidate: str | None, percent: int) -> dict[str, Any]:
        import httpx

        body = {"stable": stable, "candidate": candidate, "percent": percent}
        reply = httpx.put(self.url + "/v1/routing", json=body, headers=self.auth(), timeout=60)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


@pytest.fixture
def model_server(serving_ws: Path) -> Iterator[ModelServer]:
    server = ModelServer(serving_ws)
    yield server
    server.stop()
