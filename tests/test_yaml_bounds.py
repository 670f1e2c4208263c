"""YAML from untrusted hands: an alias bomb, deep nesting, huge or impossible scalars and
random bytes must each end as a CatalogError naming the line (exit code 2 from the CLI), never
as a hang, a memory blow-up or a traceback. Small anchors and aliases keep working."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, goap_cmd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goap.loading import yamlsrc
from goap.loading.catalog import CatalogError, load_catalog
from goap.loading.logic import LogicError, _literal
from goap.loading.yamlsrc import MAX_DEPTH, SourceError, load_value

GOOD = """\
version: 1
name: t
state:
  a.done: false
  a.count: {type: int, default: 0}
goal:
  a.done: true
actions:
  step:
    pre: &ready {a.done: false}
    effects: {a.count: "+=1"}
    cmd: ["true"]
  finish:
    pre: *ready
    effects: {a.done: true}
    cmd: ["true"]
"""

# Nine levels of nine aliases: 9**9 scalars once expanded. Line 5 is where it crosses the cap.
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{new}: &{new} [{', '.join(['*' + old] * 9)}]\n"
    for old, new in zip("abcdefgh", "bcdefghi", strict=True)
)
BOMB_LINE = 5
FLOW_BOMB = "{" + BOMB.strip().replace("\n", ", ") + "}"


@pytest.fixture(params=["libyaml", "python"])
def loader(request, monkeypatch):
    """Run a test with the C parser (when built) and with the pure-Python one."""
    if request.param == "python":
        monkeypatch.setattr(yamlsrc, "_LOADER", yaml.SafeLoader)
    elif not hasattr(yaml, "CSafeLoader"):
        pytest.skip("PyYAML built without libyaml")
    return request.param


def refused(text: str) -> SourceError:
    with pytest.raises(CatalogError) as info:
        load_catalog("c.yaml", text)
    [error] = info.value.errors
    return error


def test_small_anchor_reused_twice_still_loads(loader):
    catalog = load_catalog("c.yaml", GOOD)
    assert [str(c) for c in catalog.action("finish").pre] == ["a.done == false"]
    assert catalog.action("finish").line == 13


def test_alias_bomb_is_refused_at_its_line(loader):
    start = time.monotonic()
    error = refused(BOMB)
    assert time.monotonic() - start < 1
    assert error.line == BOMB_LINE and "alias *d" in error.problem and "alias bomb" in str(error)
    assert "fix:" in str(error)


def test_alias_bomb_file_fails_fast_in_a_fresh_process(tmp_path: Path):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMB)
    code = (
        "import sys\nfrom goap.loading.catalog import CatalogError, load_catalog\n"
        "try:\n    load_catalog(sys.argv[1])\nexcept CatalogError as exc:\n    print(exc)\n"
    )
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", code, str(bomb)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert time.monotonic() - start < 10, "an alias bomb must not be expanded"
    assert done.returncode == 0, done.stderr
    assert f"{bomb}:{BOMB_LINE}:" in done.stdout


def test_cli_plan_refuses_alias_bomb_with_exit_2(tmp_path: Path):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMB)
    done = goap_cmd("plan", str(bomb), timeout=30)
    assert done.returncode == 2, done.stderr
    assert f"{bomb}:{BOMB_LINE}:" in done.stderr and "alias" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_recursive_alias_is_refused(loader):
    error = refused("version: 1\nname: &n [a, *n]\n")
    assert error.line == 2 and "contains it" in error.problem


@pytest.mark.parametrize(
    "text",
    [
        "x: " + "[" * 10_000 + "]" * 10_000,
        "x: " + "{a: " * 10_000 + "1" + "}" * 10_000,
        "x:\n" + "".join("  " * i + "  k:\n" for i in range(1, 200)),
        "x: " + "- " * 10_000 + "1",
    ],
    ids=["flow-list", "flow-mapping", "block-mapping", "block-list"],
)
def test_deep_nesting_is_refused(loader, text):
    error = refused(text)
    assert error.line is not None and "fix:" in str(error)
    assert "nest" in error.problem or "invalid YAML" in error.problem  # libyaml stops at 1000


def test_nesting_limit_is_exact(loader):
    assert load_value("[" * MAX_DEPTH + "]" * MAX_DEPTH, "v") is not None
    with pytest.raises(SourceError, match=f"deeper than {MAX_DEPTH}"):
        load_value("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "v")
    deep = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    with pytest.raises(SourceError, match="alias \\*d nests"):  # depth added by an alias
        load_value(f"[&d {deep}, [*d]]", "v")


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("9" * 5000, ["integer of 5000 characters"]),
        ("0x" + "f" * 5000, ["integer of 5002 characters"]),
        ("2026-13-45", ["'2026-13-45'", "timestamp", "month"]),
        ('!!binary "a"', ["binary"]),
        ("!nope x", ["'!nope'"]),
        ("!!seq x", ["seq", "expected a sequence"]),
    ],
    ids=["decimal", "hex", "timestamp", "binary", "unknown-tag", "wrong-kind"],
)
def test_bad_scalar_is_refused_at_its_line(loader, value, words):
    error = refused(GOOD.replace("a.done: true\n", f"a.done: {value}\n", 1))
    assert error.line == 7 and error.key == "goal.a.done", error
    for word in words:
        assert word in str(error)


def test_value_reads_small_yaml_and_keeps_other_text(loader):
    assert load_value("5", "v") == 5 and load_value("{a: [1, 2]}", "v") == {"a": [1, 2]}
    assert load_value("x: [", "v") == "x: ["  # not YAML: the text itself
    assert load_value("[&s {p: 1}, *s]", "v") == [{"p": 1}, {"p": 1}]
    assert [_literal(t) for t in ["2", "true", "1.5", "'q'", "", "a: b: c"]] == [
        2,
        True,
        1.5,
        "q",
        "",
        "a: b: c",
    ]


@pytest.mark.parametrize(
    "text",
    [FLOW_BOMB, "[" * 100 + "]" * 100, "9" * 5000, "2026-13-45", "&a [1, *a]"],
    ids=["bomb", "deep", "huge-int", "timestamp", "recursive"],
)
def test_value_refuses_what_a_catalog_refuses(loader, text):
    with pytest.raises(SourceError):
        load_value(text, "--goal")
    with pytest.raises(LogicError, match="fix|quote|flatten|alias"):
        _literal(text)


def test_value_too_deep_for_the_parser_is_text_or_refused(loader):
    text = "[" * 10_000 + "]" * 10_000  # libyaml itself gives up at 1000 levels: not YAML
    try:
        assert load_value(text, "--goal") == text
    except SourceError as exc:
        assert exc.line == 1 and f"deeper than {MAX_DEPTH}" in exc.problem


# Pieces that make the parser, the bounds and the scalar constructors work.
PIECES = [
    *"[]{},:-?|>'\"#&*!\n\t ",
    "&a ", "*a", "&b ", "*b", "<<: ", "!!binary ", "!!timestamp ", "!!int ", "!!seq ", "!x ",
    "2026-13-45", "0x", "1:2:3", "9" * 5000, ".nan", "~", "---\n", "...\n", "%YAML 1.1\n",
    "version: 1\n", "name: t\n", "state:\n", "  a.done: false\n", "goal:\n", "actions:\n",
    "  a:\n    cmd: [x]\n", "\ufeff", "\x00", "\udcff", "é",
]  # fmt: skip
yamlish = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)
near_good = st.tuples(st.integers(0, len(GOOD)), yamlish).map(lambda p: GOOD[: p[0]] + p[1])
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def loads_or_refuses(path: str | Path, text: str | None = None) -> None:
    try:
        load_catalog(path, text)
    except CatalogError as exc:
        assert all(isinstance(e, SourceError) for e in exc.errors) and str(exc)


@FUZZ
@given(st.one_of(st.text(), yamlish, near_good))
def test_any_text_loads_or_raises_catalog_error(text):
    loads_or_refuses("fuzz.yaml", text)


@FUZZ
@given(st.binary())
def test_any_file_loads_or_raises_catalog_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "c.yaml"
    path.write_bytes(data)
    loads_or_refuses(path)


@FUZZ
@given(st.one_of(st.text(), yamlish))
def test_any_value_text_is_read_or_refused(text):
    try:
        _literal(text)
    except LogicError as exc:
        assert str(exc)
