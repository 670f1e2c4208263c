"""Agents drive goap one action at a time: list what exists, ask what is next, run one.

The functions here return the documents of ``goap.faces.documents`` (the same that ``goap
skill ... --json``, ``goap next --json`` and the MCP server's tools return), so every face
says the same thing. Bad input raises RunError / StateError / CatalogError with the CLI's
messages.
"""

from __future__ import annotations

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
from state.files import safe_name, write_atomic
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


def export_skills(catalog: Catalog, listing: dict[str, Any], out: Path) -> list[Path]:
    """One ``<skill>/SKILL.md`` per skill group, for agent harnesses that load skill folders."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for item in listing["actions"]:
        groups.setdefault(item["skill"] or "general", []).append(item)
    written = []
    for skill, items in groups.items():
        path = out / safe_name(skill) / "SKILL.md"  # a name from catalog text: sanitised
        write_atomic(path, _skill_md(catalog, skill, items))  # never through a planted link
        written.append(path)
    return written


def _skill_md(catalog: Catalog, skill: str, items: list[dict[str, Any]]) -> str:
    summary = catalog.skills.get(skill, f"Actions of the {skill} group.")
    names = ", ".join(i["name"] for i in items)
    file = catalog.path
    lines = [
        "---",
        f"name: {skill}",
        f"description: {summary} goap actions of catalog {catalog.name}: {names}.",
        "---",
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
