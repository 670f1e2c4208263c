"""python -m models: each subcommand end to end, --json summaries, clean errors on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from models.__main__ import main

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "models", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},  # see conftest_models.THREADS
    )  # fmt: skip


@pytest.mark.slow
def test_make_data_train_sample_evaluate_export(tmp_path: Path):
    data, out = tmp_path / "pets", tmp_path / "runs"
    made = run("make-data", str(data), "--per-class", "4", "--size", "32", "--json")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["images"] == 13 * 4

    common = ["--data", str(data), "--steps", "2", "--batch-size", "4", "--json"]
    clf = run("train", "classifier", "--out", str(out / "clf"), "--image-size", "32", *common)
    assert clf.returncode == 0, clf.stderr
    clf_result = json.loads(clf.stdout)
    assert clf_result["ok"] and clf_result["kind"] == "classifier" and clf_result["step"] == 2
    dit = run("train", "dit", "--out", str(out / "dit"), "--preset", "tiny", *common)
    assert dit.returncode == 0, dit.stderr
    dit_ckpt = json.loads(dit.stdout)["checkpoint"]

    png = tmp_path / "samples.png"
    sampled = run("sample", dit_ckpt, "--out", str(png), "--breed", "Bengal", "--breed", "other",
                  "--steps", "2", "--json")  # fmt: skip
    assert sampled.returncode == 0, sampled.stderr
    assert json.loads(sampled.stdout)["images"] == 2 and Image.open(png).size[1] == 36

    ev = run("evaluate", "classifier", clf_result["checkpoint"], "--data", str(data),
             "--report", str(tmp_path / "clf.json"), "--json")  # fmt: skip
    assert ev.returncode == 0, ev.stderr
    assert 0 <= json.loads(ev.stdout)["accuracy"] <= 1 and (tmp_path / "clf.json").is_file()
    gen = run("evaluate", "generator", dit_ckpt, "--classifier", clf_result["checkpoint"],
              "--data", str(data), "--out", str(tmp_path / "eval"), "--samples-per-class", "2",
              "--steps", "2")  # fmt: skip
    assert gen.returncode == 0, gen.stderr
    assert "recognised as the requested breed" in gen.stdout
    assert (tmp_path / "eval" / "grids" / "Bengal.png").is_file()

    exported = run("export", clf_result["checkpoint"], str(tmp_path / "clf.onnx"), "--json")
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "clf.onnx").stat().st_size > 100_000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "dit", "--data", "/nonexistent", "--out", "/tmp/x"], "trainval.txt not found"),
        (
            ["train", "dit", "--data", ".", "--out", "/tmp/x", "--preset", "huge"],
            "unknown DiT preset",
        ),
        (["train", "classifier", "--data", ".", "--out", "/tmp/x", "--steps", "0"], "steps"),
        (["train", "dit"], "data_root: Field required"),
        (["sample", "/nonexistent.pt", "--out", "/tmp/x.png"], "checkpoint not found"),
        (["sample", "/nonexistent.pt", "--out", "/tmp/x.png", "--breed", "Tabby"], "unknown breed"),
        (["evaluate", "generator", "x.pt", "--data", "."], "needs --classifier"),
    ],
)
def test_bad_input_is_a_one_line_error(args: list[str], message: str, capsys, tmp_path: Path):
    """In-process (fast); the subprocess test below checks the same path end to end."""
    args = [a.replace("/tmp/x", str(tmp_path / "x")) for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_bad_input_in_a_real_process_has_no_traceback_and_json_says_why(tmp_path: Path):
    bad = run("train", "dit", "--data", str(tmp_path), "--out", str(tmp_path / "o"), "--json")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.startswith("error: ") and "trainval.txt not found" in bad.stderr
    assert json.loads(bad.stdout) == {"ok": False, "error": bad.stderr[len("error: ") :].strip()}


def test_presets_lists_parameter_counts(capsys):
    assert main(["presets", "--json"]) == 0
    presets = json.loads(capsys.readouterr().out)["presets"]
    assert presets["dit/cats128"]["parameters"] == 32_615_232
    assert presets["dit/cats128-single"]["parameters"] == 22_885_440
    assert presets["dit/tiny"]["parameters"] == 732_624
