"""``goap import --pddl``: what the command prints and writes, kept out of cli.py.

The grounding lives in ``goap.planning.pddl_import``; this is only its face: the catalog on
stdout (YAML, or JSON with ``--json``) or written atomically with ``-o``, and the importer's
notes on stderr. It prints with plain ``print``: the CLI's streams already mask secrets, and
importing ``goap.faces.cli`` from here would make an import cycle. Bad PDDL is a
``CatalogError`` here, so the CLI shows it like any bad catalog: the file, the line and the
fix, exit code 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

from goap.loading.catalog import CatalogError
from goap.planning.pddl_import import Imported, PddlError, import_pddl
from state.files import write_atomic

_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def catalog_yaml(imported: Imported, domain: Path, problem: Path) -> str:
    """The catalog as YAML: one line per action (flow style), a header naming the sources."""
    body = yaml.dump(
        imported.catalog, Dumper=_DUMPER, sort_keys=False, default_flow_style=None, width=100
    )
    return f"# goap import --pddl {domain} {problem}\n{body}"


def run_import(
    domain: Path, problem: Path, output: Path | None, unit_costs: bool, json_out: bool
) -> None:
    if not json_out:
        print(f"grounding {problem} ...", file=sys.stderr, flush=True)
    try:
        imported = import_pddl(domain, problem, unit_costs=unit_costs)
    except PddlError as exc:
        raise CatalogError([exc]) from None
    summary: dict[str, Any] = {
        "variables": len(imported.catalog["state"]),
        "actions": len(imported.catalog["actions"]),
        "operators_grounded": imported.grounded,
        "notes": list(imported.notes),
    }
    if output is None:
        if json_out:
            print(json.dumps(imported.catalog))
        else:
            print(catalog_yaml(imported, domain, problem), end="")
            for note in imported.notes:
                print(f"note: {note}", file=sys.stderr)
        return
    text = catalog_yaml(imported, domain, problem)
    write_atomic(output, text)
    if json_out:
        print(json.dumps({"catalog": str(output), **summary}))
        return
    for note in imported.notes:
        print(f"note: {note}")
    print(f"wrote {output}: {summary['variables']} variables, {summary['actions']} actions")
