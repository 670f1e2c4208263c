"""Loading is strict: every kind of bad input names the file, the line, the key and the fix,
and leaves an existing state file untouched."""

from __future__ import annotations

import pytest

from goap.loading.catalog import CatalogError, load_catalog

GOOD = """\
version: 1
name: t
state:
  a.done: false
  a.count: {type: int, default: 0}
  a.name: ""
goal:
  a.done: true
  a.count: ">= 2"
actions:
  step:
    cost: 2
    pre: {a.name: ""}
    effects: {a.count: "+=1"}
    cmd: ["true"]
  finish:
    pre: {a.count: ">= 2"}
    effects: {a.done: true}
    run: goap.executor:ActionFailed
"""


def test_good_catalog_compiles():
    catalog = load_catalog("good.yaml", GOOD)
    assert [v.name for v in catalog.schema.variables] == ["a.done", "a.count", "a.name"]
    assert catalog.schema["a.count"].type == "int"
    step = catalog.action("step")
    assert step.cost == 2 and str(step.effects[0]) == "a.count += 1"
    assert [str(c) for c in catalog.goal] == ["a.done == true", "a.count >= 2"]
    assert catalog.action("finish").line == 16


def replace(old: str, new: str) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new, 1)


# (catalog text, line, words that must appear in the message)
BAD = {
    "unknown variable in goal": (
        replace("  a.done: true\n", "  a.dnoe: true\n"),
        8,
        ["goal.a.dnoe", "unknown state variable", "state:"],
    ),
    "unknown variable in effect": (
        replace('{a.count: "+=1"}', '{b.count: "+=1"}'),
        14,
        ["effects.b.count", "unknown state variable"],
    ),
    "wrong type in effect": (
        replace("effects: {a.done: true}", "effects: {a.done: yes please}"),
        18,
        ["a.done is bool", "write a value of type bool"],
    ),
    "wrong type in condition": (
        replace('a.count: ">= 2"\nactions', 'a.count: "> two"\nactions'),
        9,
        ["a.count is int", "'two'"],
    ),
    "unknown key": (
        replace("    cost: 2\n", "    costs: 2\n"),
        12,
        ["actions.step.costs", "unknown key", "cost"],
    ),
    "duplicate action": (
        GOOD + "  step:\n    effects: {a.done: true}\n    cmd: [x]\n",
        20,
        ["actions.step", "duplicate key", "line 11"],
    ),
    "duplicate key in action": (
        replace("    cost: 2\n", "    cost: 2\n    cost: 3\n"),
        13,
        ["actions.step.cost", "duplicate key"],
    ),
    "non-positive cost": (
        replace("    cost: 2\n", "    cost: 0\n"),
        12,
        ["actions.step.cost", "greater than 0", "positive"],
    ),
    "ordering a string": (
        replace('pre: {a.name: ""}', 'pre: {a.name: ">= x"}'),
        13,
        ["a.name is str", "only == and !="],
    ),
    "bad condition mapping": (
        replace('pre: {a.name: ""}', 'pre: {a.count: {op: "~", value: 1}}'),
        13,
        ["unknown operator", ">="],
    ),
    "increment a bool": (
        replace("effects: {a.done: true}", 'effects: {a.done: "+=1"}'),
        18,
        ["increment", "a.done is bool", "int or float"],
    ),
    "run module missing": (
        replace("run: goap.executor:ActionFailed", "run: nosuch.mod:fn"),
        19,
        ["actions.finish.run", "nosuch.mod", "cannot be found"],
    ),
    "run not a target": (
        replace("run: goap.executor:ActionFailed", "run: just_a_name"),
        19,
        ["not a Python target", "module:function"],
    ),
    "cmd and run": (
        replace('    cmd: ["true"]\n', '    cmd: ["true"]\n    run: goap.x:y\n'),
        16,
        ["either cmd or run"],
    ),
    "bad env reference": (
        replace('cmd: ["true"]', 'cmd: ["echo", "${HF-TOKEN}"]'),
        15,
        ["HF-TOKEN", "environment variable"],
    ),
    "yaml syntax": (replace("  a.done: false\n", "  a.done: [false\n"), 5, ["invalid YAML"]),
    "missing version": (
        replace("version: 1\n", ""),
        1,
        ["version", "required key is missing", "add `version:`"],
    ),
    "wrong version": (replace("version: 1\n", "version: 2\n"), 1, ["version", "version: 1"]),
    "untyped default": (replace('  a.name: ""\n', "  a.name: null\n"), 6, ["cannot infer a type"]),
    "bad variable type": (
        replace("{type: int, default: 0}", "{type: integer, default: 0}"),
        5,
        ["state.a.count.type", "types: bool, int, float, str"],
    ),
    "unknown key in a variable": (
        replace("{type: int, default: 0}", "{type: int, dflt: 0}"),
        5,
        ["state.a.count.dflt", "unknown key", "type, default, description"],
    ),
    "cost not a number": (
        replace("    cost: 2\n", "    cost: two\n"),
        12,
        ["actions.step.cost", "must be a number, not 'two'", "positive"],
    ),
    "empty cmd": (
        replace('cmd: ["true"]', "cmd: []"),
        15,
        ["actions.step.cmd", "must not be empty", "[ruff, .]"],
    ),
    "unknown retry key": (
        replace("    cost: 2\n", "    cost: 2\n    retry: {attempts: 0, tries: 3}\n"),
        13,
        ["actions.step.retry.tries", "unknown key", "attempts, backoff, delay"],
    ),
    "retry attempts below 1": (
        replace("    cost: 2\n", "    cost: 2\n    retry: {attempts: 0}\n"),
        13,
        ["actions.step.retry.attempts", "at least 1"],
    ),
    "action not a mapping": (GOOD + "  third: 5\n", 20, ["actions.third", "must be a mapping"]),
    "observe not strings": (
        replace('cmd: ["true"]', 'cmd: ["true"]\n    observe: {a.count: 3}'),
        16,
        ["actions.step.observe", "a.count: 3 is not a string"],
    ),
    "sensors not a list": (
        GOOD + "sensors: {run: goap.executor:ActionFailed}\n",
        20,
        ["sensors", "must be a list of sensors", "- run:"],
    ),
    "failure budget below 1": (GOOD + "failure_budget: 0\n", 20, ["failure_budget", "at least 1"]),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_catalog_names_file_line_key_and_fix(case, tmp_path, cli):
    text, line, words = BAD[case]
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    message = str(info.value)
    assert str(path) in message
    if line is not None:
        assert f"{path}:{line}:" in message, message
    for word in words:
        assert word in message, (word, message)
    # the CLI says the same, with no traceback, exit 2, and the state file is untouched
    state = tmp_path / "state.json"
    state.write_text('{"precious": true}\n')
    before = state.read_bytes()
    for command in (["plan", str(path)], ["run", str(path), "--state", str(state)]):
        code, out, err = cli(*command)
        assert code == 2, (command, out, err)
        assert "Traceback" not in out + err
        assert words[0] in " ".join(err.split())
        assert all(word in " ".join(err.split()) for word in words), err  # [x] is not markup
    assert state.read_bytes() == before


def test_shape_problems_do_not_hide_the_others(tmp_path):
    """An unknown key used to stop loading before the meaning was checked."""
    text = replace("name: t\n", "name: t\ncolour: blue\n").replace(
        "    pre: {a.count:", "    pre: {a.cuont:"
    )
    text = text.replace("run: goap.executor:ActionFailed", "run: goap.exector:ActionFailed")
    with pytest.raises(CatalogError) as info:
        load_catalog(tmp_path / "c.yaml", text)
    found = [(e.line, e.key) for e in info.value.errors]
    assert found == [(3, "colour"), (18, "actions.finish.pre.a.cuont"), (20, "actions.finish.run")]


@pytest.mark.parametrize(
    "old, new",
    [
        ("  finish:\n", "  broken: 5\n  finish:\n"),  # an action that is not a mapping
        ('effects: {a.count: "+=1"}', "effects: 5"),  # no effects "can never help"
        ("state:\n", "state: 5\nstale:\n"),  # no "unknown variable" for every use
        ("actions:\n", "actions: [1]\nold:\n"),  # no "no actions"
        ('    cmd: ["true"]\n', "    cmd: 5\n    with: {a: 1}\n"),  # no "with, but no run"
        ("    cost: 2\n", "    cost: 2\n    retry: 3\n"),
    ],
)
def test_a_wrong_value_is_reported_once_without_follow_up_errors(old, new, tmp_path):
    with pytest.raises(CatalogError) as info:
        load_catalog(tmp_path / "c.yaml", replace(old, new))
    problems = [e.render() for e in info.value.errors]
    unknown = [p for p in problems if "unknown key" in p]  # state: 5 leaves `stale:` unknown
    assert len(problems) - len(unknown) == 1, problems


def test_all_problems_reported_at_once(tmp_path):
    text = GOOD.replace("a.dnoe", "x").replace("  a.done: true\n", "  a.dnoe: true\n", 1)
    text = text.replace("    cost: 2\n", "    cost: -1\n")
    with pytest.raises(CatalogError) as info:
        load_catalog(tmp_path / "c.yaml", text)
    assert len(info.value.errors) >= 1
    text = GOOD.replace("  a.done: true\n", "  a.dnoe: true\n", 1).replace(
        "effects: {a.done: true}", 'effects: {a.done: "+=1"}'
    )
    with pytest.raises(CatalogError) as info:
        load_catalog(tmp_path / "c.yaml", text)
    assert len(info.value.errors) == 2


def test_condition_forms():
    text = GOOD.replace('  a.count: ">= 2"\n', '  a.count: {op: "<", value: 5}\n  a.name: "!= x"\n')
    catalog = load_catalog("c.yaml", text)
    assert [str(c) for c in catalog.goal] == ["a.done == true", "a.count < 5", "a.name != 'x'"]


def test_run_target_found_without_import(tmp_path, monkeypatch):
    """A `run` module is located without importing it (planning stays light)."""
    pkg = tmp_path / "heavy_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("raise RuntimeError('imported!')\n")
    (pkg / "mod.py").write_text("def fn():\n    return {}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    text = GOOD.replace("run: goap.executor:ActionFailed", "run: heavy_pkg.mod:fn")
    catalog = load_catalog("c.yaml", text)
    assert catalog.action("finish").executor.run == "heavy_pkg.mod:fn"
    text = GOOD.replace("run: goap.executor:ActionFailed", "run: heavy_pkg.nope:fn")
    with pytest.raises(CatalogError, match="heavy_pkg.nope"):
        load_catalog("c.yaml", text)


def test_env_values_are_not_resolved_at_load(monkeypatch):
    monkeypatch.setenv("SOME_TOKEN", "hf_secret_value_123")
    text = GOOD.replace('cmd: ["true"]', 'cmd: ["echo", "${SOME_TOKEN}"]')
    catalog = load_catalog("c.yaml", text)
    assert catalog.action("step").executor.cmd == ("echo", "${SOME_TOKEN}")


def test_skill_descriptions_belong_to_the_catalog():
    text = GOOD.replace("actions:\n  step:\n", "actions:\n  step:\n    skill: counting\n", 1)
    described = text + "skills: {counting: Count to two.}\n"
    assert load_catalog("s.yaml", described).skills == {"counting": "Count to two."}
    with pytest.raises(CatalogError) as caught:
        load_catalog("s.yaml", text + "skills: {countng: Count to two.}\n")
    message = str(caught.value)
    assert "s.yaml:" in message and "skills.countng" in message
    assert "no action has skill 'countng'" in message and "skills in use: counting" in message
