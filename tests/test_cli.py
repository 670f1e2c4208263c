"""The CLI's contracts: JSON outputs, exit codes, state commands, lint and graph."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, goap_cmd, read_json

SEED = Path(__file__).parent / "catalogs" / "seed.yaml"
EXAMPLE = Path(__file__).parent.parent / "plans" / "examples" / "release.yaml"


def test_plan_json_contract(cli):
    code, out, _ = cli("plan", str(SEED), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["plan"][:3] == ["validate_modal_cli", "validate_ruff", "validate_typescript"]
    assert data["cost"] == 47 and data["expanded"] > 0 and data["optimal"] is True
    assert data["ids"][0] == "A01" and data["steps"][0]["skill"] == "model-training"


def test_plan_table(cli):
    code, out, _ = cli("plan", str(SEED))
    assert code == 0
    assert "A01" in out and "total cost 47" in out and "nodes expanded" in out


def test_goal_override_and_exit_codes(cli):
    code, out, _ = cli("plan", str(SEED), "--goal", "git_state.branch_created=true", "--json")
    assert code == 0
    assert json.loads(out)["ids"] == ["A01", "A02", "A03", "A04"]
    code, out, _ = cli("plan", str(SEED), "--goal", "ci_state.ci_status_known=true", "--json")
    assert code == 0 and json.loads(out)["plan"][-1] == "monitor_ci_status"
    # resolving needs a failed pipeline, which the catalog never declares: exhausted, exit 3
    code, out, _ = cli("plan", str(SEED), "--goal", "ci_state.failures_resolved>=1", "--json")
    assert code == 3 and json.loads(out)["status"] == "no_plan"
    # unreachable: nothing sets the branch name to something else
    code, out, err = cli("plan", str(SEED), "--goal", "git_state.branch_name=main")
    assert code == 3 and "git_state.branch_name == 'main'" in " ".join(err.split())
    code, out, err = cli("plan", str(SEED), "--goal", "nope=1", "--json")
    assert code == 2 and "unknown state variable 'nope'" in json.loads(out)["error"]
    code, _, err = cli("plan", str(SEED), "--goal", "git_state.pushed=maybe")
    assert code == 2 and "write true or false" in err
    code, _, err = cli("plan", str(SEED), "--heuristic", "magic")
    assert code == 2 and "hmax" in err


def test_heuristic_choices(cli):
    for heuristic, optimal in (
        ("blind", True),
        ("hadd", False),
        ("hff", False),
        ("goal-count", False),
    ):
        code, out, _ = cli("plan", str(SEED), "--heuristic", heuristic, "--json")
        data = json.loads(out)
        assert code == 0 and data["optimal"] is optimal and data["cost"] == 47
    code, out, _ = cli("plan", str(SEED), "--search", "greedy", "--heuristic", "hff", "--json")
    assert code == 0 and json.loads(out)["optimal"] is False


def test_state_commands(tmp_path, cli):
    state = tmp_path / "s.json"
    code, _, err = cli("state", "show", str(EXAMPLE), "--state", str(state))
    assert code == 2 and "no state file" in err
    code, out, _ = cli("state", "reset", str(EXAMPLE), "--state", str(state))
    assert code == 0 and read_json(state)["world_state"]["release"]["steps_done"] == 0
    code, out, _ = cli(
        "state", "set", str(EXAMPLE), "release.steps_done", "4", "--state", str(state)
    )
    assert code == 0 and read_json(state)["world_state"]["release"]["steps_done"] == 4
    before = state.read_bytes()
    code, _, err = cli(
        "state", "set", str(EXAMPLE), "release.steps_done", "four", "--state", str(state)
    )
    assert code == 2 and "release.steps_done is int" in err and state.read_bytes() == before
    code, _, err = cli(
        "state", "set", str(EXAMPLE), "checks.compiled", "yes", "--state", str(state)
    )
    assert code == 2 and "write true or false" in err and state.read_bytes() == before
    code, _, err = cli("state", "set", str(EXAMPLE), "nope.x", "1", "--state", str(state))
    assert code == 2 and "unknown state variable" in err and state.read_bytes() == before
    code, out, _ = cli("state", "get", str(EXAMPLE), "release.steps_done", "--state", str(state))
    assert code == 0 and json.loads(out) == 4
    code, out, _ = cli("state", "get", str(EXAMPLE), "checks", "--state", str(state))
    assert json.loads(out) == {"compiled": False, "tests_passed": False}
    code, out, _ = cli("state", "show", str(EXAMPLE), "--state", str(state), "--json")
    assert json.loads(out)["world_state"]["checks"]["compiled"] is False
    # plan from the persisted state
    cli("state", "set", str(EXAMPLE), "checks.tests_passed", "true", "--state", str(state))
    code, out, _ = cli("plan", str(EXAMPLE), "--state", str(state), "--json")
    assert json.loads(out)["plan"] == ["build", "checksum", "notes"]
    cli("state", "reset", str(EXAMPLE), "--state", str(state))
    assert read_json(state.with_name("s.json.1.bak"))["world_state"]["checks"]["tests_passed"]


def test_state_schema(cli):
    code, out, _ = cli("state", "schema", str(SEED))
    schema = json.loads(out)
    assert code == 0
    git = schema["properties"]["git_state"]
    assert git["properties"]["commits_made"] == {"type": "integer", "default": 0}
    assert "branch_name" in git["required"] and git["additionalProperties"] is False


def test_validate_lints(tmp_path, cli):
    code, out, _ = cli("validate", str(SEED), "--json")
    data = json.loads(out)
    assert code == 0 and data["ok"]
    assert any("resolve_ci_failure" in f["where"] for f in data["findings"])
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "version: 1\nname: b\nstate: {x: false, y: false, z: 0, unused: ''}\n"
        "goal: {x: true}\nactions:\n"
        "  a: {pre: {y: true}, effects: {x: true}}\n"
        "  b: {effects: {z: '+=1'}}\n"
    )
    code, out, _ = cli("validate", str(bad), "--json")
    findings = {(f["severity"], f["where"]) for f in json.loads(out)["findings"]}
    assert code == 1
    assert ("error", "goal.x") in findings and ("error", "actions.a") in findings
    assert ("warning", "actions.b.effects.z") in findings
    assert ("warning", "state.unused") in findings
    # an observed variable can take any value at run time: what depends on it can apply
    sensed = tmp_path / "sensed.yaml"
    sensed.write_text(
        bad.read_text().replace(
            "actions:\n",
            "sensors:\n  - {run: actions.git:git_state, observe: {y: clean}}\nactions:\n",
        )
    )
    code, out, _ = cli("validate", str(sensed), "--json")
    assert code == 0 and json.loads(out)["ok"], out


def test_graph_formats(cli):
    code, out, _ = cli("graph", str(SEED), "--format", "mermaid")
    assert code == 0 and out.startswith("flowchart TD")
    assert "n_create_branch -->" in out and "n_push_to_github" in out
    code, out, _ = cli("graph", str(SEED), "--format", "dot")
    assert out.startswith("digraph goap {") and "n_validate_ruff -> n_create_branch" in out


def test_plan_process_does_not_import_heavy_modules():
    """`goap plan --json` stays light: no torch, numpy or networkx on the planning path, and
    not even pydantic or rich (about 0.1 s of start-up between them; typer 0.29 would bring
    pydantic back, hence its pin)."""
    heavy = ("torch", "numpy", "networkx", "pydantic", "rich")
    probe = (
        "import sys\nfrom goap.faces.cli import app\n"
        f"try:\n    app(['plan', {str(SEED)!r}, '--json'])\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert proc.stdout.strip().endswith("[]"), proc.stdout + proc.stderr


def test_real_process_plan(tmp_path):
    proc = goap_cmd("plan", str(SEED), "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["cost"] == 47


def test_commands_from_other_packages_load_and_a_broken_one_says_why(tmp_path):
    """`goap demo` comes in through the goap.commands entry point; so could anything else."""
    dist = tmp_path / "broken_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[goap.commands]\nbroken = nosuch_module:command\n")
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{ROOT}")

    def goap(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "goap", *args]
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)

    proc = goap("broken")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "goap broken cannot load (nosuch_module:command)" in " ".join(proc.stderr.split())
    listing = goap("--help").stdout
    assert "demo" in listing and "broken" in listing  # the real plugin is still there
    assert goap("plan", str(SEED), "--json").returncode == 0
