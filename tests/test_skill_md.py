"""`goap skill export` writes SKILL.md files in the Agent Skills format.

The checker here is written from the format's rules (agentskills.io/specification), not
from the exporter: YAML front matter between ``---`` lines; ``name``: 1-64 characters of
lowercase letters, digits and hyphens, no hyphen first, last or doubled, the same as its
folder's name; ``description``: 1-1024 characters saying what the skill does and when to
use it; optional ``license``, ``compatibility`` (at most 500 characters), ``metadata`` (a
map of strings to strings) and ``allowed-tools`` (a space-separated string); nothing else.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from conftest import ROOT, goap_cmd

NAME = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
TOOL = r"[^\s(]+(\([^()]*\))?"  # one entry of allowed-tools: a name, maybe with a pattern
FIELDS = {"name", "description", "license", "compatibility", "metadata", "allowed-tools"}


def problems(skill_md: Path) -> list[str]:
    """What in one SKILL.md breaks the Agent Skills rules (empty: nothing)."""
    text = skill_md.read_text(encoding="utf-8")
    if not text.startswith("---\n") or "\n---\n" not in text[3:]:
        return ["no YAML front matter between --- lines"]
    header, body = text[4:].split("\n---\n", 1)
    front = yaml.safe_load(header)
    if not isinstance(front, dict):
        return ["the front matter is not a mapping"]
    found = [f"unknown field {key!r}" for key in front if key not in FIELDS]
    name, description = front.get("name"), front.get("description")
    if not isinstance(name, str) or not NAME.fullmatch(name) or len(name) > 64:
        found.append(f"bad name {name!r}")
    elif name != skill_md.parent.name:
        found.append(f"name {name!r} is not its folder's name {skill_md.parent.name!r}")
    if not isinstance(description, str) or not description.strip():
        found.append("no description")
    elif len(description) > 1024:
        found.append(f"description of {len(description)} characters")
    elif not re.search(r"\bwhen\b", description, re.IGNORECASE):
        found.append("the description does not say when to use the skill")
    compatibility = front.get("compatibility")
    if compatibility is not None and (not isinstance(compatibility, str) or
                                      not 1 <= len(compatibility) <= 500):  # fmt: skip
        found.append("bad compatibility")
    metadata = front.get("metadata")
    if metadata is not None and not (
        isinstance(metadata, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
    ):
        found.append(f"metadata is not a map of strings: {metadata!r}")
    for key in ("license", "allowed-tools"):
        if key in front and not isinstance(front[key], str):
            found.append(f"{key} is not a string")
    tools = front.get("allowed-tools", "")
    if isinstance(tools, str) and not re.fullmatch(
        r"(\S+(\([^()]*\))?)?( \S+(\([^()]*\))?)*", tools
    ):
        found.append(f"allowed-tools is not a space-separated list: {tools!r}")
    if not body.strip():
        found.append("no instructions after the front matter")
    return found


def export(catalog: Path, out: Path, workdir: Path) -> list[Path]:
    proc = goap_cmd(
        "skill", "export", str(catalog), "--dir", str(out), "--workdir", str(workdir), cwd=workdir
    )
    assert proc.returncode == 0, proc.stderr
    return [Path(line) for line in proc.stdout.split()]


def test_deployment_skills_follow_the_agent_skills_format(tmp_path):
    catalog = ROOT / "plans" / "deployment.yaml"
    written = export(catalog, tmp_path / "skills", ROOT)
    groups = yaml.safe_load(catalog.read_text())["skills"]
    assert sorted(p.parent.name for p in written) == sorted(groups)  # already valid names
    assert set(written) == set((tmp_path / "skills").glob("*/SKILL.md"))
    for path in written:
        assert problems(path) == [], path
        front = yaml.safe_load(path.read_text().split("\n---\n")[0][4:])
        assert groups[path.parent.name] in front["description"]  # the catalog's words: what
        # only reading commands are pre-approved: never one that changes the world
        tools = [m.group(0) for m in re.finditer(TOOL, front["allowed-tools"])]
        assert "Bash(goap plan:*)" in tools
        assert not {"run", "skill run", "approve"} & {
            t[len("Bash(goap ") : -len(":*)")] for t in tools
        }


def test_hostile_skill_groups_still_give_valid_skills(tmp_path):
    long_group = "Model Training " * 8
    odd = 'Train: the "best" model\nin one go — fast 🚀 #1'
    actions = {
        f"a{i}_{'x' * 60}": {
            "skill": group,
            "effects": {f"w.v{i}": True},
            "cmd": ["/bin/sh", "-c", "true"],
        }
        for i, group in enumerate(
            ["Git Ops", "git_ops", "--weird--", "Ünïcode", long_group, "", *["big"] * 40]
        )
    }
    doc = {
        "version": 1,
        "name": "hostile",
        "skills": {"Git Ops": odd, "big": "x" * 2000},
        "state": {f"w.v{i}": False for i in range(len(actions))},
        "goal": {"w.v0": True},
        "actions": actions,
    }
    catalog = tmp_path / "hostile.yaml"
    catalog.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    written = export(catalog, tmp_path / "skills", tmp_path)
    assert len(written) == 7 and len({p.parent for p in written}) == 7  # none overwritten
    for path in written:
        assert problems(path) == [], (path, path.read_text()[:2000])
    fronts = {p.parent.name: yaml.safe_load(p.read_text().split("\n---\n")[0][4:]) for p in written}
    assert " ".join(odd.split()) in fronts["git-ops"]["description"]  # read back as written
    assert {"git-ops", "git-ops-2", "weird", "general"} <= set(fronts), sorted(fronts)
