"""Executors declare their facts: the declaration, the suite's drift check, the generated
reference in actions/README.md, and what the worker and `goap skill list --json` publish."""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
import typing

import pytest
from conftest import GUARDED, ROOT, goap_cmd
from facts_guard import VIOLATIONS, guarded
from pydantic import BaseModel

import actions.ci
import actions.git
from actions.reference import BEGIN, END, README, argument_rows, executors
from goap.executor import ActionFailed, facts
from goap.running.facts import CHECK_ENV, declared_facts, undeclared
from goap.running.worker import args_model, handle

TARGETS = [e.target for e in executors()]


class TinyArgs(BaseModel):
    size: int = 1


def tiny(args: TinyArgs) -> dict[str, typing.Any]:
    """A tiny executor: returns a declared fact and one it does not declare."""
    if args.size < 0:
        raise ActionFailed("negative", facts={"size": args.size, "why": "negative", "odd": 1})
    return {"size": args.size, "surprise": True}


def run_reference(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "actions.reference", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


# ------------------------------------------------------------------------------ declaration


def test_the_declaration_leaves_the_function_as_it_was() -> None:
    def plain(args: TinyArgs) -> dict[str, typing.Any]:
        return {}

    signature, hints = inspect.signature(plain), typing.get_type_hints(plain)
    declared = facts("size", "<part>_seen", failure=("why",), note="One sentence.")(plain)
    assert declared is plain
    assert inspect.signature(declared) == signature and typing.get_type_hints(declared) == hints
    assert args_model(declared) == (TinyArgs, True)  # the runner builds the same model
    assert declared_facts(declared) == {
        "names": ["size", "<part>_seen"],
        "on_failure": ["why"],
        "note": "One sentence.",
    }


@pytest.mark.parametrize(
    "names, failure", [((), ()), (("Bad-Name",), ()), (("a", "a"), ()), (("a",), ("a",))]
)
def test_a_bad_declaration_is_refused_at_import(names, failure) -> None:
    with pytest.raises(ValueError, match="@facts: give at least one fact name"):
        facts(*names, failure=failure)


def test_a_placeholder_matches_any_part_and_failure_names_only_on_failure() -> None:
    declared = declared_facts(facts("<group>_committed", "ahead", failure=("why",))(tiny))
    assert undeclared(declared, {"code_committed": True, "ahead": 1}, failed=False) == []
    assert undeclared(declared, {"_committed": True, "why": "x"}, failed=False) == [
        "_committed",
        "why",
    ]
    assert undeclared(declared, {"why": "x"}, failed=True) == []


def test_every_shipped_executor_declares_its_facts() -> None:
    assert len(TARGETS) >= 27
    assert [t for t in TARGETS if declared_facts(dict(executors_by_target())[t]) is None] == []


def test_every_run_target_of_the_plans_and_the_demo_is_a_declared_executor() -> None:
    used = set()
    for path in [*ROOT.glob("plans/**/*.yaml"), *ROOT.glob("demo/**/*.py")]:
        used |= set(re.findall(r"\brun: *[\"']?(actions\.\w+:\w+)", path.read_text()))
    assert len(used) >= 20
    assert sorted(used - set(TARGETS)) == []


def executors_by_target() -> list[tuple[str, typing.Any]]:
    return [(e.target, e.fn) for e in executors()]


# ------------------------------------------------------------------------------ drift check


def test_the_guard_records_an_undeclared_fact_and_the_failure_facts_it_allows() -> None:
    checked = guarded("tests:tiny", facts("size", failure=("why",))(tiny))
    assert checked(TinyArgs(size=2)) == {"size": 2, "surprise": True}
    with pytest.raises(ActionFailed):
        checked(TinyArgs(size=-1))
    found = VIOLATIONS[-2:]
    del VIOLATIONS[-2:]  # recorded on purpose: this test's teardown must not fail on them
    assert found == [
        "tests:tiny returned undeclared fact(s) surprise; add them to the names of its "
        "@facts(...) and run `python -m actions.reference`",
        "tests:tiny failed with undeclared fact(s) odd; add them to failure=(...) of its "
        "@facts(...) and run `python -m actions.reference`",
    ]
    assert inspect.signature(checked) == inspect.signature(tiny)
    assert args_model(checked) == (TinyArgs, True)


def test_the_guard_covers_every_shipped_executor_and_the_names_that_import_it() -> None:
    assert sorted(GUARDED) == sorted(TARGETS)
    assert actions.git.git_state.__wrapped__.__name__ == "git_state"
    assert actions.ci.commit is actions.git.commit  # resolve_ci_failure's commit is checked
    assert os.environ[CHECK_ENV] == "1"  # and so are the workers goap starts


def test_a_worker_child_refuses_an_undeclared_fact_under_goap_check_facts(tmp_path) -> None:
    (tmp_path / "tiny_exec.py").write_text(
        "from pydantic import BaseModel\n"
        "from goap.executor import facts\n\n\n"
        "class Args(BaseModel):\n    size: int = 1\n\n\n"
        "@facts('size')\n"
        "def tiny(args: Args) -> dict:\n    return {'size': args.size, 'surprise': True}\n"
    )
    request = {"op": "call", "target": "tiny_exec:tiny", "args": {}, "where": "action tiny"}
    (tmp_path / "request.json").write_text(json.dumps({**request, "workdir": str(tmp_path)}))
    answers = {}
    for check in ("1", "0"):
        env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}", CHECK_ENV: check}
        answer = tmp_path / f"answer-{check}.json"
        done = subprocess.run(
            [sys.executable, "-P", "-m", "goap.running.worker", "request.json", str(answer)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        answers[check] = json.loads(answer.read_text())
    assert answers["1"]["ok"] is False and answers["1"]["retryable"] is False
    assert "tiny_exec:tiny returned undeclared fact(s) surprise" in answers["1"]["error"]
    assert answers["0"] == {"ok": True, "facts": {"size": 1, "surprise": True}}


# ------------------------------------------------------------------------ what is published


def test_the_worker_check_answers_each_schema_and_declaration() -> None:
    answer = handle({"op": "check", "targets": TARGETS, "calls": [], "workdir": "."})
    assert answer["ok"], answer["problems"]
    for executor in executors():
        assert answer["facts"][executor.target] == declared_facts(executor.fn)
        # the reference renders the very schema agents are given
        assert answer["schemas"][executor.target] == executor.model.model_json_schema()


def test_skill_list_json_carries_each_executors_facts(tmp_path) -> None:
    catalog = ROOT / "plans" / "deployment.yaml"
    proc = goap_cmd("skill", "list", str(catalog), "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    listed = {a["name"]: a["executor"] for a in json.loads(proc.stdout)["actions"]}
    assert listed["push_to_github"]["facts"] == declared_facts(actions.git.push)
    assert "pushed" in listed["push_to_github"]["facts"]["names"]
    assert listed["push_to_github"]["args_schema"]["properties"]["remote"]
    assert listed["monitor_ci_status"]["facts"]["on_failure"] == ["token_env", "token_present"]


# ------------------------------------------------------------------------ the reference


def test_the_committed_reference_is_current() -> None:
    done = run_reference("--check")
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_stale_reference_fails_the_check_with_a_diff_and_is_rewritten(tmp_path) -> None:
    stale = tmp_path / "README.md"
    text = README.read_text(encoding="utf-8")
    assert text.count(BEGIN) == 1 and text.count(END) == 1
    assert "`remote_has_head`" in text
    stale.write_text(text.replace("`remote_has_head`", "`remote_has_it`"), encoding="utf-8")
    done = run_reference("--check", "--file", str(stale))
    assert done.returncode == 1
    assert "-Facts: `is_repo`" in done.stdout and "+Facts: `is_repo`" in done.stdout
    assert "is stale; run `python -m actions.reference`" in done.stdout
    assert run_reference("--file", str(stale)).returncode == 0
    assert stale.read_text(encoding="utf-8") == text
    assert run_reference("--check", "--file", str(stale)).returncode == 0


def test_a_readme_without_markers_is_refused_naming_the_fix(tmp_path) -> None:
    bare = tmp_path / "README.md"
    bare.write_text("# actions\n", encoding="utf-8")
    done = run_reference("--check", "--file", str(bare))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"no generated part to replace; put the line {BEGIN}" in done.stderr


def test_the_reference_imports_no_heavy_library() -> None:
    code = (
        "import sys, actions.reference as r; r.render(); "
        "print([m for m in ('torch', 'onnxruntime', 'modal') if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_every_argument_the_reference_lists_is_described() -> None:
    """Agents read the same descriptions in the schema: nested fields included."""
    missing = [
        f"{e.target}: {row[0]}" for e in executors() for row in argument_rows(e.model) if not row[4]
    ]
    assert missing == []
