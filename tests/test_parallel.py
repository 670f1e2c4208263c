"""Independent steps at once: the schedule, resources, failures, and kill -9 with several
steps in flight. Real commands and real processes, as in test_runner.py."""

from __future__ import annotations

import json
import random
import signal
import time
from datetime import datetime
from pathlib import Path

import pytest
from conftest import goap_cmd, read_json
from test_runner import SH, catalog, lines, spawn_run, wait_for

from goap.loading.catalog import load_catalog
from goap.planning.planner import plan
from goap.planning.schedule import conflict, durations, levels, tails, waits_for

SCHEDULE = """\
version: 1
name: s
state: {a: false, b: false, c: false, n: 0, seen: ""}
goal: {a: true, b: true, c: true}
actions:
  make_a: {effects: {a: true}, cmd: ["true"]}
  make_b: {effects: {b: true}, cmd: ["true"]}
  make_c: {pre: {a: true, b: true}, effects: {c: true}, cmd: ["true"]}
  count: {effects: {n: "+=1"}, cmd: ["true"]}
  count_too: {effects: {n: "+=1"}, cmd: ["true"]}
  look: {effects: {a: true}, run: "actions.git:git_state", observe: {seen: clean}}
  read_seen: {pre: {seen: ""}, effects: {b: true}, cmd: ["true"]}
"""


def test_the_schedule_orders_only_steps_whose_order_matters():
    cat = load_catalog("s.yaml", SCHEDULE)
    a, b, c, count, count_too, look, read_seen = (cat.action(n) for n in (
        "make_a", "make_b", "make_c", "count", "count_too", "look", "read_seen"))  # fmt: skip
    assert not conflict(a, b)  # disjoint: any order
    assert conflict(a, c) and conflict(c, a)  # c reads what a writes, either way round
    assert conflict(count, count_too)  # both write n (and += reads it)
    assert conflict(look, read_seen)  # what an executor observes is a write
    assert waits_for([a, b, c]) == [frozenset(), frozenset(), frozenset({0, 1})]
    assert levels([a, b, c]) == [[0, 1], [2]]
    assert levels([]) == []


def closure(waits: list[frozenset[int]]) -> set[tuple[int, int]]:
    """Every (i, j) where step j comes after step i through a chain of waits."""
    after: list[set[int]] = []
    for before in waits:
        after.append(set(before).union(*(after[i] for i in before)))
    return {(i, j) for j, found in enumerate(after) for i in found}


def test_the_waits_order_every_conflicting_pair_through_chains():
    rng = random.Random(7)
    names = ["p", "q", "r", "n"]
    for trial in range(40):
        actions = {}
        for k in range(12):
            pre = {v: True for v in rng.sample(names[:3], rng.randint(0, 2))}
            effects = {v: rng.random() < 0.5 for v in rng.sample(names[:3], rng.randint(0, 2))}
            if rng.random() < 0.3:
                effects["n"] = "+=1"
            actions[f"a{k}"] = {"pre": pre, "effects": effects or {"p": True}, "cmd": ["true"]}
        doc = {"version": 1, "name": "r", "state": {"p": False, "q": False, "r": False, "n": 0},
               "goal": {"p": True}, "actions": actions}  # fmt: skip
        cat = load_catalog("r.yaml", json.dumps(doc))
        steps = [cat.action(f"a{k}") for k in rng.sample(range(12), 12)]
        pairs = {(i, j) for j in range(12) for i in range(j) if conflict(steps[i], steps[j])}
        reduced = waits_for(steps)
        assert all(i < j for j, before in enumerate(reduced) for i in before)
        assert pairs <= closure(reduced), trial  # every ordered pair is kept, by a chain
        assert closure(reduced) == closure([frozenset(i for i, k in pairs if k == j)
                                            for j in range(12)]), trial  # fmt: skip


def test_the_seed_plan_runs_the_seeds_parallel_tracks_together():
    seed = load_catalog(Path(__file__).parents[1] / "plans" / "deployment.yaml")
    steps = plan(seed, seed.initial).actions
    first = {steps[i].id for i in levels(steps)[0]}
    assert {"A01", "A02", "A03"} <= first  # the seed: "A01-A03 together"
    assert "A15" in first  # the documentation track beside everything
    level = {steps[i].id: n for n, wave in enumerate(levels(steps)) for i in wave}
    assert level["A14"] > max(level["A12"], level["A13"])  # the report waits for its subjects
    trainings = next(w for w in levels(steps) if any(steps[i].id == "T01" for i in w))
    assert "T02" in {steps[i].id for i in trainings}  # two trainings side by side


def sleeper(name: str, seconds: float, then: str = "") -> list[str]:
    return [SH, "-c", f"sleep {seconds}; {then}mkdir -p counts && echo ran >> counts/{name}"]


def fan(tmp_path: Path, n: int = 3, seconds: float = 1.0, **extra: dict) -> Path:
    """n independent sleepers, then one step that needs them all."""
    actions = {
        f"w{i}": {"effects": {f"s.w{i}": True}, "cmd": sleeper(f"w{i}", seconds), **extra}
        for i in range(n)
    }
    actions["join"] = {
        "pre": {f"s.w{i}": True for i in range(n)},
        "effects": {"s.done": True},
        "cmd": sleeper("join", 0),
    }
    state = {f"s.w{i}": False for i in range(n)} | {"s.done": False}
    return catalog(tmp_path / "fan.yaml", actions, {"s.done": True}, state)


def spans(state_path: Path) -> dict[str, tuple[datetime, datetime]]:
    out = {}
    for e in read_json(state_path)["history"]:
        if e["outcome"] == "succeeded":
            out[e["action"]] = (
                datetime.fromisoformat(e["started_at"]),
                datetime.fromisoformat(e["ended_at"]),
            )
    return out


def overlapping(found: dict[str, tuple[datetime, datetime]], x: str, y: str) -> bool:
    return found[x][0] < found[y][1] and found[y][0] < found[x][1]


def test_independent_steps_run_at_once_and_reach_the_same_world(tmp_path):
    fast, slow = tmp_path / "fast", tmp_path / "slow"
    for folder, jobs in ((fast, "3"), (slow, "1")):
        folder.mkdir()
        cat = fan(folder)
        started = time.monotonic()
        proc = goap_cmd("run", str(cat), "--workdir", str(folder), "--jobs", jobs, "--json")
        took = time.monotonic() - started
        assert proc.returncode == 0, proc.stderr
        if jobs == "3":
            assert took < 3.0 + 2.0  # three 1 s steps at once, plus start-up
            found = spans(folder / "fan_state.json")
            assert overlapping(found, "w0", "w1") and overlapping(found, "w1", "w2")
            assert not overlapping(found, "w0", "join")  # join waits for all three
        else:
            found = spans(folder / "fan_state.json")
            assert not overlapping(found, "w0", "w1") and not overlapping(found, "w1", "w2")
    assert (
        read_json(fast / "fan_state.json")["world_state"]
        == read_json(slow / "fan_state.json")["world_state"]
    )
    for name in ("w0", "w1", "w2", "join"):
        assert lines(fast / "counts" / name) == 1


def test_a_resource_of_one_serialises_the_steps_that_need_it(tmp_path):
    cat = fan(tmp_path, n=3, seconds=0.5, resources={"gpu": 1})
    (tmp_path / "goap.toml").write_text("[resources]\ngpu = 1\n")
    proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--jobs", "3")
    assert proc.returncode == 0, proc.stderr
    found = spans(tmp_path / "fan_state.json")
    for x, y in (("w0", "w1"), ("w1", "w2"), ("w0", "w2")):
        assert not overlapping(found, x, y), (x, y)


def refused(cat: Path, workdir: Path, toml: str) -> str:
    """`goap run` with this goap.toml: exit 2 before anything runs; its error, unwrapped."""
    if toml:
        (workdir / "goap.toml").write_text(toml)
    proc = goap_cmd("run", str(cat), "--workdir", str(workdir))
    assert proc.returncode == 2, proc.stderr
    return " ".join(proc.stderr.split())


@pytest.mark.parametrize(
    "resources, toml, words",
    [
        ({"tpu": 1}, "", ["action w0", "'tpu', which nobody declared", "[resources] tpu = 1"]),
        ({"gpu": 2}, "[resources]\ngpu = 1\n", ["needs gpu 2, but the capacity is 1"]),
        ({"gpu": 1}, "[resources]\ngpu = -1\n", ["goap.toml", "gpu = -1"]),
    ],
)
def test_bad_resources_are_refused_before_anything_runs(tmp_path, resources, toml, words):
    text = refused(fan(tmp_path, n=1, seconds=0, resources=resources), tmp_path, toml)
    assert all(w in text for w in words), text
    assert not (tmp_path / "counts").exists()


def test_a_bad_resources_key_is_a_located_load_error(tmp_path):
    cat = fan(tmp_path, n=1, seconds=0, resources={"gpu": -1})
    proc = goap_cmd("plan", str(cat))
    assert proc.returncode == 2 and "actions.w0.resources" in proc.stderr
    assert "at least 0" in proc.stderr


def test_a_failing_branch_lets_the_others_finish_then_replans(tmp_path):
    actions = {
        "slow": {"effects": {"s.slow": True}, "cmd": sleeper("slow", 1.0)},
        "broken": {"effects": {"s.broken": True}, "cmd": [SH, "-c", "exit 3"]},
        "spare": {"cost": 5, "effects": {"s.broken": True}, "cmd": sleeper("spare", 0)},
        "join": {
            "pre": {"s.slow": True, "s.broken": True},
            "effects": {"s.done": True},
            "cmd": sleeper("join", 0),
        },
    }
    state = {"s.slow": False, "s.broken": False, "s.done": False}
    cat = catalog(tmp_path / "f.yaml", actions, {"s.done": True}, state)
    proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--json")
    assert proc.returncode == 0, proc.stderr
    ran = [e["action"] for e in json.loads(proc.stdout)["executed"]]
    assert sorted(ran[:2]) == ["broken", "slow"]  # both started at once
    assert ran[2:] == ["spare", "join"]  # the replan went around the failure
    assert lines(tmp_path / "counts" / "slow") == 1  # the branch that worked is not redone


def test_kill_9_with_several_steps_in_flight_then_resume(tmp_path):
    """Randomized: kill the runner while 1-4 steps run; every step that finished ran once,
    every interrupted one runs again, and the world is the sequential run's."""
    rng = random.Random(7)
    most = 0  # the most steps cut off at once in a trial
    for trial in range(3):
        folder = tmp_path / f"t{trial}"
        folder.mkdir()
        actions = {
            f"w{i}": {
                "effects": {f"s.w{i}": True},
                "cmd": sleeper(f"w{i}", round(rng.uniform(0.2, 1.5), 2)),
            }
            for i in range(4)
        }
        actions["join"] = {
            "pre": {f"s.w{i}": True for i in range(4)},
            "effects": {"s.done": True},
            "cmd": sleeper("join", 0.3),
        }
        state = {f"s.w{i}": False for i in range(4)} | {"s.done": False}
        cat = catalog(folder / "k.yaml", actions, {"s.done": True}, state)
        state_path = folder / "k_state.json"
        proc = spawn_run(cat, folder, "--jobs", "4")

        def running_now(path: Path = state_path) -> int:
            try:
                history = read_json(path)["history"]
            except (FileNotFoundError, json.JSONDecodeError, KeyError):
                return 0
            return sum(1 for e in history if e["outcome"] == "started")

        wait_for(lambda: running_now() >= 1)
        time.sleep(rng.uniform(0.0, 1.2))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        time.sleep(0.3)
        before = read_json(state_path)
        finished = {e["action"] for e in before["history"] if e["outcome"] == "succeeded"}
        in_flight = {e["action"] for e in before["history"] if e["outcome"] == "started"}
        resumed = goap_cmd("run", str(cat), "--workdir", str(folder), "--resume", "--json")
        assert resumed.returncode == 0, resumed.stderr
        again = {e["action"] for e in json.loads(resumed.stdout)["executed"]}
        most = max(most, len(in_flight))
        assert not finished & again, (trial, finished, again)  # nothing finished runs twice
        assert in_flight <= again, (trial, in_flight, again)  # what was cut off runs again
        for name in finished:
            assert lines(folder / "counts" / name) == 1, (trial, name)
        after = read_json(state_path)
        assert after["status"] == "completed"
        assert after["world_state"]["s"] == {f"w{i}": True for i in range(4)} | {"done": True}
        outcomes = {e["outcome"] for e in after["history"]}
        assert outcomes <= {"succeeded", "interrupted"}
    assert most >= 2  # the seed's kills did cut off several steps at once


def test_the_estimate_is_the_longest_chain_of_waits():
    from goap.planning.schedule import estimate

    cat = load_catalog("s.yaml", SCHEDULE)
    a, b, c = (cat.action(n) for n in ("make_a", "make_b", "make_c"))
    assert estimate([a, b, c], {"make_a": 2.0, "make_b": 3.0, "make_c": 1.0}) == (6.0, 4.0)
    assert estimate([a, b, c], {}) == (0.0, 0.0)
    declared = load_catalog("d.yaml", SCHEDULE.replace("make_a: {", "make_a: {duration: 5, "))
    a = declared.action("make_a")  # the journal's figure wins over the declared one
    assert estimate([a, b, c], {"make_c": 1.0}) == (6.0, 6.0)
    assert estimate([a, b, c], {"make_a": 2.0, "make_c": 1.0}) == (3.0, 3.0)


def test_a_tail_is_the_longest_chain_from_a_step_to_the_end():
    cat = load_catalog("s.yaml", SCHEDULE)
    a, b, c = (cat.action(n) for n in ("make_a", "make_b", "make_c"))
    # c waits for a and b: a's tail is a then c, b's is b then c
    assert tails([a, b, c], {"make_a": 5.0, "make_b": 1.0, "make_c": 2.0}) == [7.0, 3.0, 2.0]
    assert tails([], {}) == []


def test_durations_are_measured_else_declared_else_priced_at_the_known_rate():
    cat = load_catalog(
        "d.yaml",
        SCHEDULE.replace("make_a: {", "make_a: {duration: 8, cost: 4, ").replace(
            "make_c: {", "make_c: {cost: 3, "
        ),
    )
    a, b, c = (cat.action(n) for n in ("make_a", "make_b", "make_c"))
    assert a.duration == 8.0 and b.duration is None
    assert durations([a, b, c], {}) == [8.0, 2.0, 6.0]  # 2 s per unit of cost, from make_a
    assert durations([a, b, c], {"make_a": 1.0, "make_b": 3.0}) == pytest.approx([1, 3, 2.4])
    assert durations([b, c], {}) == [1.0, 3.0]  # nothing known: 1 s per unit of cost


def test_a_bad_duration_is_a_located_load_error(tmp_path):
    cat = fan(tmp_path, n=1, seconds=0, duration=-5)
    proc = goap_cmd("plan", str(cat))
    assert proc.returncode == 2 and "actions.w0.duration" in proc.stderr
    assert "greater than 0" in proc.stderr and "duration: 90" in proc.stderr


def niceness_fan(tmp_path: Path) -> Path:
    """A long step and a short one, independent: each writes the niceness it ran at."""
    write = "mkdir -p nice && cut -d' ' -f19 /proc/self/stat > nice/"
    actions = {
        "short": {"effects": {"s.short": True}, "duration": 1, "cmd": [SH, "-c", write + "short"]},
        "long": {"effects": {"s.long": True}, "duration": 60, "cmd": [SH, "-c", write + "long"]},
    }
    state = {"s.short": False, "s.long": False}
    return catalog(tmp_path / "nice.yaml", actions, {"s.short": True, "s.long": True}, state)


def test_the_longest_chain_starts_first_and_the_rest_yield_the_cpu(tmp_path):
    cat = niceness_fan(tmp_path)
    proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--jobs", "1", "--json")
    assert proc.returncode == 0, proc.stderr
    order = [e["action"] for e in read_json(tmp_path / "nice_state.json")["history"]]
    assert order == ["long", "short"]  # the plan lists short first; its chain is shorter
    assert (tmp_path / "nice" / "long").read_text().strip() == "0"
    # with one job it ran after the long one, as the longest chain left: not niced either
    assert (tmp_path / "nice" / "short").read_text().strip() == "0"


def test_a_step_beside_a_longer_chain_runs_niced(tmp_path):
    cat = niceness_fan(tmp_path)
    proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--jobs", "2")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "nice" / "long").read_text().strip() == "0"
    assert (tmp_path / "nice" / "short").read_text().strip() == "10"
    if Path("/proc/self/autogroup").exists():  # the session's nice is what weighs there
        own = "cut -d' ' -f19 /proc/self/stat > nice/short"
        group = "cat /proc/self/autogroup > nice/short"
        text = niceness_fan(tmp_path).read_text().replace(own, group)
        (tmp_path / "nice.yaml").write_text(text)
        (tmp_path / "nice_state.json").unlink()
        proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--jobs", "2")
        assert proc.returncode == 0, proc.stderr
        assert (tmp_path / "nice" / "short").read_text().strip().endswith("nice 10")
    (tmp_path / "goap.toml").write_text("[schedule]\nnice = 0\n")
    (tmp_path / "nice_state.json").unlink()
    niceness_fan(tmp_path)
    proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--jobs", "2")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "nice" / "short").read_text().strip() == "0"


@pytest.mark.parametrize(
    "toml, words",
    [
        ("[schedule]\nnice = 25\n", ["goap.toml", "nice = 25", "from 0", "19"]),
        ("[schedule]\nniceness = 5\n", ["goap.toml", "[schedule] has no niceness"]),
        ("schedule = 3\n", ["goap.toml", "[schedule] must be a table"]),
    ],
)
def test_a_bad_schedule_table_is_refused_before_anything_runs(tmp_path, toml, words):
    text = refused(niceness_fan(tmp_path), tmp_path, toml)
    assert all(w in text for w in words), text
    assert not (tmp_path / "nice").exists()


def test_goap_plan_estimates_from_the_journal(tmp_path):
    cat = fan(tmp_path, n=2, seconds=0.3)
    assert goap_cmd("run", str(cat), "--workdir", str(tmp_path)).returncode == 0
    for name in ("s.w0", "s.w1", "s.done"):  # the world back, the journal kept
        assert goap_cmd("state", "set", str(cat), name, "false").returncode == 0
    proc = goap_cmd("plan", str(cat), "--json")
    data = json.loads(proc.stdout)
    assert data["waves"] == [["w0", "w1"], ["join"]]
    estimate = data["estimate"]
    assert estimate["known_steps"] == 3
    assert estimate["at_once_s"] < estimate["one_by_one_s"]
    assert estimate["at_once_s"] >= 0.3  # at least one sleeper


SLOW_SENSOR = '''
import time


def look():
    """A sensor that takes its time (as a git or registry query can)."""
    time.sleep(1.0)
    return {"probe": 1}
'''


def test_a_step_lands_while_another_steps_sensors_run(tmp_path, monkeypatch):
    """Sensors run outside the world's lock: the round of (1 s) sensors after one step's
    landing does not hold back the landing of another step, whose own round runs beside it.
    Under the lock, mid would end a whole round after quick."""
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "slow_sense.py").write_text(SLOW_SENSOR)
    actions = {
        "quick": {"effects": {"s.quick": True}, "cmd": ["true"]},
        "mid": {"effects": {"s.mid": True}, "cmd": sleeper("mid", 0.4)},
        "long": {"effects": {"s.long": True}, "cmd": sleeper("long", 2.5)},
    }
    state = {"s.quick": False, "s.mid": False, "s.long": False, "s.probe": 0}
    goal = {"s.quick": True, "s.mid": True, "s.long": True}
    cat = catalog(tmp_path / "sensing.yaml", actions, goal, state)
    doc = json.loads(cat.read_text())
    doc["sensors"] = [{"run": "slow_sense:look", "observe": {"s.probe": "probe"}}]
    cat.write_text(json.dumps(doc))
    proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--jobs", "3", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    found = spans(tmp_path / "sensing_state.json")
    assert overlapping(found, "quick", "mid") and overlapping(found, "mid", "long")
    assert (found["mid"][1] - found["quick"][1]).total_seconds() < 0.8, found
    assert read_json(tmp_path / "sensing_state.json")["world_state"]["s"] == {
        "quick": True, "mid": True, "long": True, "probe": 1}  # fmt: skip


def test_a_sensor_round_does_not_undo_a_step_that_landed_after_it_began():
    """The board's rule for sensors outside the lock, on a hand-built pair of steps."""
    from goap.running.runner import _Board

    cat = load_catalog("s.yaml", SCHEDULE)
    a, b = cat.action("make_a"), cat.action("make_b")
    board = _Board({"a": False, "b": False, "c": False})
    board.launch(a, dict(board.world))
    board.launch(b, dict(board.world))
    board.landed(a)
    seen_at_start, since = board.lay(a, {"a": True})  # a's sensors start from this world
    board.landed(b)
    board.lay(b, {"b": True})  # b lands while a's sensors run
    seen = dict(seen_at_start, c=True)  # they saw a, the old b, and c changed on disk
    assert board.sensed(a, seen, since) == {"a": True, "b": True, "c": True}
    # a later round that began after b's landing may change b: its view is newer
    _, later = board.lay(a, {"a": True})
    assert board.sensed(a, dict(board.world, b=False), later)["b"] is False


REVEAL = '''
def look(workdir: str = "."):
    """What a check finds out: the shortcut is open."""
    return {"open": True}
'''


def test_a_revealed_fact_is_replanned_at_once_beside_the_running_steps(tmp_path, monkeypatch):
    """A step that lands with a world the plan did not expect, while a long step runs: the
    runner plans again at once (from the world as it will be when the long step lands) and
    the new plan's steps start beside it, instead of idling until it ends."""
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "reveal.py").write_text(REVEAL)
    actions = {
        "look": {
            "effects": {"s.looked": True},
            "run": "reveal:look",
            "observe": {"s.open": "open"},
        },  # fmt: skip
        "long": {"effects": {"s.long": True}, "cmd": sleeper("long", 2.5)},
        "detour": {
            "pre": {"s.looked": True},
            "effects": {"s.there": True},
            "cost": 5,
            "cmd": sleeper("detour", 0),
        },  # fmt: skip
        "shortcut": {
            "pre": {"s.open": True},
            "effects": {"s.there": True},
            "cost": 1,
            "cmd": sleeper("shortcut", 0),
        },  # fmt: skip
    }
    state = {"s.looked": False, "s.open": False, "s.long": False, "s.there": False}
    goal = {"s.long": True, "s.there": True, "s.looked": True}
    cat = catalog(tmp_path / "reveal.yaml", actions, goal, state)
    proc = goap_cmd("run", str(cat), "--workdir", str(tmp_path), "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    said = " ".join(proc.stderr.split())
    assert "the world differs from the plan after look (s.open); replanned, 1 step still" in said
    found = spans(tmp_path / "reveal_state.json")
    assert found["shortcut"][0] < found["long"][1], found  # it started beside the long step
    assert "detour" not in found and lines(tmp_path / "counts" / "long") == 1
    summary = json.loads(proc.stdout)
    assert summary["world_state"]["s"] == {
        "looked": True, "open": True, "long": True, "there": True}  # fmt: skip
