"""Sensor of the atomic commit groups (A05-A07): is each group's work committed?

A group (code, docs, utility...) is committed when every one of its paths is tracked and none
has uncommitted changes (untracked files included). Editing a file of a group after its commit
makes the group uncommitted again, so the plan commits, pushes and runs CI once more. Also
counts the commits a branch has on top of its base (the seed's ``commits`` list).
"""

from __future__ import annotations

import os
from typing import Any

from git import GitCommandError
from pydantic import Field

from actions.contract import InWorkdirEntry, WorkdirArgs
from actions.git import open_repo
from goap.executor import facts


class CommitGroupsArgs(WorkdirArgs):
    groups: dict[str, list[InWorkdirEntry]] = Field(
        min_length=1,
        description="Group name -> the paths (from workdir) that make up its commit; each "
        "group is reported as the fact <name>_committed.",
    )
    branch: str | None = Field(
        None, description="Branch whose commits on top of `base` are counted (commits_ahead)."
    )
    base: str = Field("main", description="The branch the work started from.")


@facts("<group>_committed", "commits_ahead", note="One `<group>_committed` per group.")
def commit_groups(args: CommitGroupsArgs) -> dict[str, Any]:
    """Sensor: <group>_committed for every group, and commits_ahead of branch over base."""
    repo = open_repo(args.workdir)
    facts: dict[str, Any] = {}
    for name, paths in args.groups.items():
        specs = [os.path.abspath(args.workdir / path) for path in paths]
        tracked = all(repo.git.ls_files("--", spec) for spec in specs)
        changes = repo.git.status("--porcelain", "--untracked-files=all", "--", *specs)
        facts[f"{name}_committed"] = tracked and not changes
    facts["commits_ahead"] = _commits_ahead(repo, args.branch, args.base)
    return facts


def _commits_ahead(repo: Any, branch: str | None, base: str) -> int:
    if branch is None:
        return 0
    try:
        return int(repo.git.rev_list("--count", f"refs/heads/{base}..refs/heads/{branch}"))
    except GitCommandError:  # branch or base does not exist (yet)
        return 0
