"""Agents drive goap one action at a time: list what exists, ask what is next, run one.

The functions here return the documents of ``goap.faces.documents`` (the same that ``goap
skill ... --json``, ``goap next --json`` and the MCP server's tools return), so every face
says the same thing. Bad input raises RunError / StateError / CatalogError with the CLI's
messages.
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import Any

from goap.faces import documents
from goap.loading.catalog import Catalog
from goap.loading.yamlsrc import SourceError, load_value
from goap.planning.planner import plan
from goap.running.errors import RunError
from goap.running.execution import ExecutionContext, query
from goap.running.record import read_world
from goap.running.runner import Runner
from state.files import write_atomic
from state.model import quoted


def list_actions(
    catalog: Catalog, state_path: Path, workdir: Path, schemas: bool = True
) -> dict[str, Any]:
    """Every action, whether it applies to the persisted state, its arguments and facts."""
    world = read_world(catalog, state_path)
    targets = sorted({a.executor.run for a in catalog.actions if a.executor and a.executor.run})
    found, facts = executor_contracts(targets, workdir) if schemas else ({}, {})
    return documents.skill_list_document(catalog, world, state_path, found, facts)


def executor_contracts(targets: list[str], workdir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each target's argument JSON Schema and declared facts (None: not importable, or none)."""
    if not targets:
        return {}, {}
    ctx = ExecutionContext.create(workdir, workdir / ".goap" / "logs")
    answer = query({"op": "check", "targets": targets, "calls": [], "workdir": str(workdir)}, ctx)
    facts = answer.get("facts", {})
    return {t: answer["schemas"].get(t) for t in targets}, {t: facts.get(t) for t in targets}


def next_action(catalog: Catalog, state_path: Path) -> dict[str, Any]:
    """The next action of the current optimal plan from the persisted state, and the rest."""
    return documents.next_document(plan(catalog, read_world(catalog, state_path)))


def run_action(
    catalog: Catalog,
    state_path: Path,
    workdir: Path,
    name: str,
    args: dict[str, Any] | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Run one action with goap run's guarantees; returns what happened and the new state."""
    step = Runner(catalog, state_path, workdir).run_one(name, args, force)
    return documents.step_document(catalog, step, state_path)


def parse_args(pairs: list[str]) -> dict[str, Any]:
    """``--arg key=value`` pairs; values are read as YAML (numbers, booleans, lists, maps)."""
    args: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise RunError(f"--arg {pair!r}: write KEY=VALUE")
        try:  # bounded: an alias bomb or deep nesting in --arg is refused, not expanded
            args[key.strip()] = load_value(text, f"--arg {key.strip()}") if text.strip() else ""
        except SourceError as exc:
            raise RunError(f"--arg {quoted(key.strip())}: {exc.problem}") from None
    return args


SKILL_NAME_MAX = 64  # Agent Skills: a skill's name, 1-64 of [a-z0-9-]
DESCRIPTION_MAX = 1024  # characters of its description
COMPATIBILITY = "Needs the goap command (pip install goap-mlops) and the catalog file {file}."


def skill_name(group: str) -> str:
    """A skill group's name as the Agent Skills format wants it (and its folder's): lowercase
    letters, digits and single hyphens, no hyphen at either end, at most 64 characters."""
    ascii_text = unicodedata.normalize("NFKD", group).encode("ascii", "ignore").decode()
    name = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return name[:SKILL_NAME_MAX].rstrip("-") or "general"


def export_skills(catalog: Catalog, listing: dict[str, Any], out: Path) -> list[Path]:
    """One ``<skill>/SKILL.md`` per skill group, in the Agent Skills format, for harnesses
    that load skill folders; two groups that spell one name alike get ``-2``, ``-3``."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for item in listing["actions"]:
        groups.setdefault(item["skill"] or "general", []).append(item)
    written, taken = [], set()
    for group, items in groups.items():
        name = base = skill_name(group)
        n = 1
        while name in taken:
            n += 1
            name = f"{base[: SKILL_NAME_MAX - len(str(n)) - 1].rstrip('-')}-{n}"
        taken.add(name)
        path = out / name / "SKILL.md"  # the name is [a-z0-9-]: a harmless folder
        write_atomic(path, _skill_md(catalog, group, name, items))  # never through a link
        written.append(path)
    return written


# pre-approved: goap's reading commands only; `goap skill run` and `goap run` change the
# world (push, train, deploy), so the agent's client still asks before each of those
ALLOWED_TOOLS = " ".join(
    f"Bash(goap {command}:*)"
    for command in ("plan", "next", "explain", "state show", "skill list", "validate")
)


def _front_matter(catalog: Catalog, group: str, name: str, items: list[dict[str, Any]]) -> str:
    """The YAML front matter: name, description (what and when), compatibility, metadata,
    allowed-tools (the reading commands).

    Every value is a double-quoted string (``yaml_string``), so a colon, quote or newline in
    the catalog's text cannot break the header."""
    summary = " ".join(catalog.skills.get(group, f"Actions of the {group} group.").split())
    head = f"{summary[:600]} Use it when driving the goap catalog {catalog.name[:100]} one "
    head += "action at a time: "
    names, shown = [i["name"] for i in items], []
    for action in names:  # as many action names as fit, then how many more
        if len(head) + len(", ".join([*shown, action])) + 20 > DESCRIPTION_MAX:
            break
        shown.append(action)
    rest = "." if len(shown) == len(names) else f" and {len(names) - len(shown)} more."
    description = head + ", ".join(shown) + rest
    meta = {"catalog": catalog.name, "catalog-file": str(catalog.path), "skill-group": group}
    compatibility = COMPATIBILITY.format(file=catalog.path)[:500]
    return "\n".join(
        [
            "---",
            f"name: {name}",
            f"description: {yaml_string(description)}",
            f"compatibility: {yaml_string(compatibility)}",
            f"allowed-tools: {yaml_string(ALLOWED_TOOLS)}",
            "metadata:",
            *(f"  {key}: {yaml_string(value)}" for key, value in meta.items()),
            "---",
        ]
    )


def yaml_string(text: str) -> str:
    """``text`` as a YAML double-quoted scalar: JSON's escapes, which YAML shares, except a
    character beyond the BMP, which JSON writes as a surrogate pair and YAML as ``\\U``."""
    return _PAIR.sub(_astral, json.dumps(text))


_PAIR = re.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})")


def _astral(pair: re.Match[str]) -> str:
    high, low = int(pair[1], 16), int(pair[2], 16)
    return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08x}"


def _skill_md(catalog: Catalog, skill: str, name: str, items: list[dict[str, Any]]) -> str:
    summary = catalog.skills.get(skill, f"Actions of the {skill} group.")
    file = catalog.path
    lines = [
        _front_matter(catalog, skill, name, items),
        "",
        f"# {skill}",
        "",
        summary,
        "",
        "## When to use",
        "",
        f"Use these actions while driving the `{catalog.name}` catalog (`{file}`). Ask goap",
        f"what to do next with `goap next {file} --json`; run an action only when it applies",
        f"(`goap skill list {file} --json` shows `applies` and the unmet preconditions).",
        "Each run takes the state file's lock, checks preconditions, retries per the",
        "action's policy and persists the state and a journal entry.",
        "",
        "## Actions",
    ]
    for item in items:
        title = f"{item['id']} {item['name']}" if item["id"] else item["name"]
        lines += ["", f"### {title}", ""]
        if item["description"]:
            lines += [item["description"], ""]
        lines += [
            f"- cost: {item['cost']:g}",
            f"- needs: {'; '.join(item['pre']) or 'nothing'}",
            f"- changes: {'; '.join(item['effects'])}",
            f"- run: `goap skill run {file} {item['name']} --json`",
        ]
        executor = item["executor"] or {}
        if executor.get("kind") == "cmd":
            lines.append(f"- executes: `{' '.join(executor['cmd'])}`")
        schema = executor.get("args_schema") or {}
        properties = schema.get("properties", {})
        if properties:
            lines += ["", "| argument | type | default | description |", "|---|---|---|---|"]
            for key, prop in properties.items():
                kind = prop.get("type") or " | ".join(
                    p.get("type", "?") for p in prop.get("anyOf", [])
                )
                default = executor["with"].get(key, prop.get("default", "(required)"))
                text = (prop.get("description") or "").replace("|", "\\|")
                lines.append(f"| {key} | {kind} | `{default}` | {text} |")
            lines.append("")
            lines.append("Override an argument with `--arg KEY=VALUE` (YAML value).")
    return "\n".join(lines) + "\n"
