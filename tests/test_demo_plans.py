"""The plans as `goap plan` prints them: the seed's critical path, the training pipeline."""

from __future__ import annotations

import json

from conftest import ROOT, goap_cmd


def plan_ids(name: str) -> tuple[list[str], float]:
    proc = goap_cmd("plan", str(ROOT / "plans" / name), "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    return result["ids"], result["cost"]


def test_deployment_plan_is_the_seed_critical_path_with_training_before_the_gates() -> None:
    ids, cost = plan_ids("deployment.yaml")
    seed = [i for i in ids if i.startswith("A")]
    assert seed == ["A01", "A02", "A03", "A04", "A05", "A06", "A07", "A08", "A09",
                    "A11", "A12", "A16", "A13", "A14", "A15"]  # fmt: skip
    assert ids[9:16] == ["T00", "T01", "T02", "T03", "T04", "T05", "T06"]
    # serving: S01, then the rollout S02-S08 that the first version skips once S01 serves it
    serving = [i for i in ids if i.startswith("S")]
    assert serving == ["S01", "S02", "S03", "S04", "S05", "S06", "S07", "S08"]
    assert cost == 84  # 69 + A16 (deploy the site, cost 3) + S01-S08 (12)


def test_training_plan_follows_the_pipeline() -> None:
    ids, _ = plan_ids("training.yaml")
    # dataset, classifier, DiT, evaluate, export x2, quantize x2, gates, publish
    assert ids == ["T00", "T01", "T02", "T03", "T04", "T05", "T06", "T07", "T08", "T09"]
