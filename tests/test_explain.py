"""`goap explain`: why this plan, why not that action, what blocks a goal."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT, goap_cmd

from goap.loading.catalog import load_catalog
from goap.planning.explain import ExplainError, explain

RELEASE = """\
version: 1
name: release
state: {built: false, tested: false, published: false, key: false, n: 0}
goal: {published: true, n: ">= 2"}
actions:
  build: {id: A01, cost: 1, effects: {built: true}}
  test: {cost: 2, pre: {built: true}, effects: {tested: true}}
  upload: {cost: 1, pre: {built: true, tested: true}, effects: {published: true},
           approval: {required: true, reason: hub}}
  get_key: {cost: 3, effects: {key: true}}
  mirror: {cost: 4, pre: {built: true, key: true}, effects: {published: true}}
  bump: {cost: 1, effects: {n: "+=1"}}
"""


@pytest.fixture
def release(tmp_path):
    return load_catalog(tmp_path / "release.yaml", RELEASE)


def test_each_step_says_what_it_serves(release):
    doc = explain(release, release.initial)
    assert doc["status"] == "found" and doc["cost"] == 6
    assert doc["plan"] == ["build", "test", "upload", "bump", "bump"]
    steps = {s["step"]: s for s in doc["steps"]}
    assert steps[1]["id"] == "A01" and steps[1]["cost"] == 1
    assert steps[1]["serves"] == [
        {"condition": "built == true", "for": {"step": 2, "action": "test"}},
        {"condition": "built == true", "for": {"step": 3, "action": "upload"}},
    ]
    assert steps[2]["serves"] == [
        {"condition": "tested == true", "for": {"step": 3, "action": "upload"}}
    ]
    assert steps[3]["serves"] == [{"condition": "published == true", "for": "goal"}]
    assert steps[3]["approval"] == "hub"
    # both increments of the counter serve n >= 2, not only the last one
    assert steps[4]["serves"] == steps[5]["serves"] == [{"condition": "n >= 2", "for": "goal"}]


def test_why_not_an_action_gives_its_unmet_preconditions_and_the_cheapest_plan_with_it(release):
    doc = explain(release, release.initial, "mirror")["action"]
    assert doc["in_plan"] is False and doc["cost"] == 4
    assert doc["unmet"] == ["built == true", "key == true"] and doc["never"] == []
    with_it = doc["cheapest_with"]
    assert with_it["status"] == "found"
    assert "mirror" in with_it["plan"] and "get_key" in with_it["plan"]
    assert "upload" not in with_it["plan"]  # mirror publishes: upload and test are not needed
    assert with_it["cost"] == 1 + 3 + 4 + 2  # build, get_key, mirror, bump twice
    assert doc["extra_cost"] == with_it["cost"] - 6


def test_an_action_in_the_plan_says_what_it_serves(release):
    doc = explain(release, release.initial, "test")["action"]
    assert doc["in_plan"] is True and doc["step"] == 2
    assert doc["serves"] == [
        {"condition": "tested == true", "for": {"step": 3, "action": "upload"}}
    ]


def test_an_action_that_can_never_run_says_which_precondition_blocks_it(tmp_path):
    text = RELEASE.replace("  get_key: {cost: 3, effects: {key: true}}\n", "")
    catalog = load_catalog(tmp_path / "r.yaml", text)
    doc = explain(catalog, catalog.initial, "mirror")["action"]
    assert doc["never"] == ["key == true"]
    assert doc["cheapest_with"]["status"] == "unreachable" and doc["extra_cost"] is None
    assert "mirror can never run" in doc["cheapest_with"]["message"]
    assert "_explain" not in json.dumps(doc)  # the compiled flag is not the catalog's word


def test_an_unreachable_goal_names_its_blockers_and_the_closest_actions(tmp_path):
    text = """\
version: 1
name: blocked
state: {built: false, signed: false, published: false, key: false}
goal: {published: true, built: true}
actions:
  build: {cost: 1, effects: {built: true}}
  sign: {cost: 1, pre: {built: true, key: true}, effects: {signed: true}}
  upload: {cost: 1, pre: {signed: true}, effects: {published: true}}
  upload_keyed: {cost: 1, pre: {signed: true, built: true, key: true}, effects: {published: true}}
"""
    catalog = load_catalog(tmp_path / "b.yaml", text)
    doc = explain(catalog, catalog.initial)
    assert doc["status"] == "unreachable" and doc["plan"] == [] and doc["cost"] is None
    assert [b["condition"] for b in doc["blocked"]] == ["published == true"]  # built is fine
    block = doc["blocked"][0]
    assert [c["name"] for c in block["closest"]] == ["upload", "upload_keyed"]  # fewest unmet
    assert block["closest"][0]["unmet"] == ["signed == true"]
    assert block["closest"][0]["never"] == ["signed == true"]
    assert block["roots"] == ["key == true"]  # nothing achieves it at all


def test_unknown_action_is_an_explain_error(release):
    with pytest.raises(ExplainError, match="unknown action 'nope'"):
        explain(release, release.initial, "nope")


def test_cli_explain_json_and_text(tmp_path):
    cat = tmp_path / "release.yaml"
    cat.write_text(RELEASE)
    proc = goap_cmd("explain", str(cat), "mirror", "--json", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["plan"] == ["build", "test", "upload", "bump", "bump"]
    assert doc["action"]["name"] == "mirror" and doc["action"]["extra_cost"] == 4
    text = goap_cmd("explain", str(cat), "mirror")
    assert text.returncode == 0 and "cheapest plan with it (cost 10, 4 more" in text.stdout
    bad = goap_cmd("explain", str(cat), "nope", "--json")
    assert bad.returncode == 2 and "unknown action" in json.loads(bad.stdout)["error"]
