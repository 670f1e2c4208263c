"""Git executors (A04-A08): create/switch a branch, commit a group of paths, push; and a sensor.

Implemented with GitPython over the git command line. One ``commit`` executor serves every
atomic commit group (code, docs, utilities...) through its ``paths`` and ``message``. Commits
refuse staged files that contain credentials. The default remote is a bare repository on disk
(``[git] remote_url``), so the whole flow works offline; a GitHub URL works the same way.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from git import GitCommandError, InvalidGitRepositoryError, NoSuchPathError, Repo
from pydantic import Field

from actions.config import STATE_DIR, GoapConfig, load_config, state_dir
from actions.contract import InWorkdirEntry, WorkdirArgs, known
from actions.credentials import find_secrets, redact
from actions.process import tail
from goap.executor import ActionFailed, facts

FALLBACK_IDENTITY = {"name": "goap", "email": "goap@localhost"}
NETWORK_TIMEOUT_S = 60
NO_PROMPT = {"GIT_TERMINAL_PROMPT": "0"}


class CreateBranchArgs(WorkdirArgs):
    branch: str = Field(
        min_length=1,
        description="Branch to switch to, created first if missing "
        "(e.g. feature/production-deployment-2026).",
    )
    base: str | None = Field(
        None,
        description="Commit-ish a new branch starts from (ignored when the branch exists); "
        "default: the current HEAD.",
    )
    require_clean: bool = Field(
        False, description="Refuse to switch when the working tree has uncommitted changes."
    )


class CommitArgs(WorkdirArgs):
    paths: list[InWorkdirEntry] = Field(
        min_length=1,
        description="Files or directories (relative to workdir, inside it) that make up this "
        "commit group; changes elsewhere are left out of the commit.",
    )
    message: str = Field(min_length=1, description="Commit message; the first line is the subject.")
    scan_secrets: bool = Field(
        True, description="Refuse (and unstage) files that contain tokens or private keys."
    )


class PushArgs(WorkdirArgs):
    remote: str | None = Field(
        None, description="Remote name; default: [git] remote in goap.toml ('origin')."
    )
    branch: str | None = Field(None, description="Branch to push; default: the current branch.")
    create_remote: bool = Field(
        False,
        description="If the remote's URL is a local path that does not exist, create a bare "
        "repository there.",
    )
    timeout_s: float = Field(NETWORK_TIMEOUT_S, gt=0, description="Give up after this long.")


class GitStateArgs(WorkdirArgs):
    branch: str | None = Field(
        None, description="Branch whose existence is reported; default: the current branch."
    )
    remote: str | None = Field(
        None, description="Remote to compare with; default: [git] remote in goap.toml."
    )
    query_remote: bool = Field(
        True,
        description="Ask the remote (git ls-remote) for its branch tip; false: use the local "
        "remote-tracking refs only.",
    )
    timeout_s: float = Field(20, gt=0, description="Time allowed for asking the remote.")


# ---------------------------------------------------------------------------------- executors


@facts("branch", "created", "previous_branch", "sha", "clean", failure=("uncommitted_files",))
def create_branch(args: CreateBranchArgs) -> dict[str, Any]:
    """A04: switch to ``branch``, creating it from ``base`` (or HEAD) when it does not exist."""
    repo = open_repo(args.workdir)
    _check_branch_name(repo, args.branch)
    dirty = dirty_paths(repo)
    if args.require_clean and dirty:
        raise ActionFailed(
            f"working tree has {len(dirty)} uncommitted change(s) ({_preview(dirty)}); "
            "commit or stash them, or set require_clean: false",
            facts={"clean": False, "uncommitted_files": len(dirty)},
        )
    previous = current_branch(repo)
    exists = args.branch in {head.name for head in repo.heads}
    created = False
    try:
        if previous == args.branch:
            pass
        elif exists:
            repo.git.switch(args.branch)
        elif head_sha(repo) is None:
            if args.base:
                raise ActionFailed(
                    f"the repository has no commits, so branch {args.branch} cannot start from "
                    f"{args.base}; drop `base` or commit first"
                )
            repo.git.symbolic_ref("HEAD", f"refs/heads/{args.branch}")
            created = True
        else:
            repo.git.switch("-c", args.branch, args.base or "HEAD")
            created = True
    except GitCommandError as exc:
        raise _git_failure(f"could not switch to branch {args.branch}", exc) from exc
    return known(
        {
            "branch": args.branch,
            "created": created,
            "previous_branch": previous,
            "sha": head_sha(repo),
            "clean": not dirty,
        }
    )


@facts(
    "committed",
    "nothing_to_commit",
    "sha",
    "branch",
    "paths",
    "message",
    "files",
    failure=("secrets_found",),
    note="A refused commit (credentials found) lists them in secrets_found and unstages.",
)
def commit(args: CommitArgs) -> dict[str, Any]:
    """A05-A07: commit exactly ``paths`` with ``message``; report a group with nothing to commit."""
    repo = open_repo(args.workdir)
    specs = _pathspecs(repo, args.workdir, args.paths)
    try:
        repo.git.add("-A", "--", *specs)
    except GitCommandError as exc:
        raise _git_failure("could not stage `paths`", exc) from exc
    staged = staged_changes(repo, specs)
    facts: dict[str, Any] = {"branch": current_branch(repo), "paths": args.paths}
    if not staged:
        nothing = {"committed": False, "nothing_to_commit": True, "sha": head_sha(repo)}
        return known({**facts, **nothing})
    if args.scan_secrets:
        findings = _scan_staged(repo, staged)
        if findings:
            _unstage(repo, specs)
            first = findings[0]
            more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
            raise ActionFailed(
                f"refusing to commit: {first['kind']} in {first['path']} line {first['line']}"
                f"{more}; the files were unstaged: remove the secret (read it from an "
                "environment variable instead) and commit again",
                facts={**facts, "committed": False, "secrets_found": findings},
            )
    try:
        repo.git.commit("-q", "-m", args.message, "--", *specs, env=_identity_env(repo))
    except GitCommandError as exc:
        raise _git_failure("git commit failed", exc) from exc
    return known(
        {
            **facts,
            "committed": True,
            "nothing_to_commit": False,
            "sha": head_sha(repo),
            "message": args.message.splitlines()[0],
            "files": sorted(staged),
        }
    )


@facts(
    "pushed",
    "remote",
    "remote_url",
    "branch",
    "sha",
    "upstream",
    "up_to_date",
    "remote_added",
    "remote_created",
    failure=("rejected",),
)
def push(args: PushArgs) -> dict[str, Any]:
    """A08: push a branch with upstream tracking; add/create the configured remote if asked."""
    config = load_config(args.workdir)
    repo = open_repo(args.workdir)
    remote = args.remote or config.git.remote
    branch = args.branch or current_branch(repo)
    if branch is None:
        raise ActionFailed("HEAD is detached; set `branch` to the branch to push")
    if branch not in {head.name for head in repo.heads}:
        raise ActionFailed(f"branch {branch} has no commits here; create and commit to it first")
    url, remote_added, remote_created = _ensure_remote(
        repo, remote, config, args.create_remote, branch
    )
    print(f"pushing {branch} to {remote} ({redact(url)}; [git] remote in goap.toml)", flush=True)
    try:
        output = repo.git.push(
            "--porcelain",
            "-u",
            remote,
            f"refs/heads/{branch}:refs/heads/{branch}",
            env=NO_PROMPT,
            kill_after_timeout=args.timeout_s,
        )
    except GitCommandError as exc:
        text = f"{exc.stdout}\n{exc.stderr}"
        if "[rejected]" in text or "non-fast-forward" in text or "fetch first" in text:
            raise ActionFailed(
                f"push of {branch} to {remote} was rejected: the remote branch has commits this "
                "one lacks; pull or rebase, then push again",
                tail=redact(tail(text)),
                facts={"pushed": False, "rejected": True},
            ) from exc
        raise _git_failure(f"git push to {remote} failed", exc, {"pushed": False}) from exc
    return {
        "pushed": True,
        "remote": remote,
        "remote_url": redact(url),
        "branch": branch,
        "sha": repo.heads[branch].commit.hexsha,
        "upstream": f"{remote}/{branch}",
        "up_to_date": "[up to date]" in output,
        "remote_added": remote_added,
        "remote_created": remote_created,
    }


# ------------------------------------------------------------------------------------ sensor


@facts(
    "is_repo",
    "current_branch",
    "detached",
    "branch_exists",
    "head_sha",
    "clean",
    "uncommitted_files",
    "remote",
    "remote_configured",
    "remote_reachable",
    "remote_sha",
    "remote_has_head",
    "ahead",
)
def git_state(args: GitStateArgs) -> dict[str, Any]:
    """Sensor: current branch, branch exists, tree clean, commits ahead, remote has HEAD."""
    try:
        repo = open_repo(args.workdir)
    except ActionFailed:
        return {"is_repo": False}
    remote = args.remote or load_config(args.workdir).git.remote
    branch = current_branch(repo)
    head = head_sha(repo)
    dirty = dirty_paths(repo)
    facts: dict[str, Any] = {
        "is_repo": True,
        "current_branch": branch,
        "detached": branch is None and head is not None,
        "branch_exists": (args.branch or branch) in {h.name for h in repo.heads},
        "head_sha": head,
        "clean": not dirty,
        "uncommitted_files": len(dirty),
        "remote": remote,
        "remote_configured": remote in {r.name for r in repo.remotes},
    }
    if not facts["remote_configured"] or branch is None or head is None:
        return known({**facts, "remote_has_head": False})
    return known({**facts, **_compare_with_remote(repo, remote, branch, head, args)})


def _compare_with_remote(
    repo: Repo, remote: str, branch: str, head: str, args: GitStateArgs
) -> dict[str, Any]:
    remote_sha: str | None
    reachable = True
    if args.query_remote:
        try:
            listing = repo.git.ls_remote(
                remote, f"refs/heads/{branch}", env=NO_PROMPT, kill_after_timeout=args.timeout_s
            )
            remote_sha = listing.split()[0] if listing.strip() else None
        except GitCommandError:
            reachable = False
            remote_sha = _tracking_sha(repo, remote, branch)
    else:
        remote_sha = _tracking_sha(repo, remote, branch)
    if remote_sha and _has_commit(repo, remote_sha):
        has_head = remote_sha == head or repo.is_ancestor(head, remote_sha)
        ahead = int(repo.git.rev_list("--count", f"{remote_sha}..{head}"))
    else:
        has_head = remote_sha == head
        ahead = int(repo.git.rev_list("--count", head, "--not", f"--remotes={remote}"))
    return {
        "remote_reachable": reachable,
        "remote_sha": remote_sha,
        "remote_has_head": has_head,
        "ahead": ahead,
    }


# ----------------------------------------------------------------------------------- helpers


def open_repo(workdir: Path) -> Repo:
    """The git repository containing ``workdir``, or an ActionFailed that says what to do."""
    try:
        return Repo(workdir, search_parent_directories=True)
    except (InvalidGitRepositoryError, NoSuchPathError) as exc:
        raise ActionFailed(
            f"{workdir} is not inside a git repository; run `git init` there or fix workdir"
        ) from exc


def current_branch(repo: Repo) -> str | None:
    """Name of the checked-out branch (also on an unborn branch); None when detached."""
    try:
        return repo.git.symbolic_ref("--quiet", "--short", "HEAD")
    except GitCommandError:
        return None


def head_sha(repo: Repo) -> str | None:
    """SHA of HEAD, or None in a repository without commits."""
    return repo.head.commit.hexsha if repo.head.is_valid() else None


def dirty_paths(repo: Repo) -> list[str]:
    """Paths with uncommitted changes, untracked files included (``git status --porcelain``)."""
    status = repo.git.status("--porcelain", "-z", "--no-renames", "--untracked-files=all")
    return [entry[3:] for entry in status.split("\0") if len(entry) > 3 and entry[2] == " "]


def staged_changes(repo: Repo, specs: list[str]) -> dict[str, str]:
    """Staged changes under ``specs``: path -> status letter (A, M, D, T)."""
    parts = repo.git.diff("--cached", "--name-status", "--no-renames", "-z", "--", *specs)
    items = [part for part in parts.split("\0") if part]
    return dict(zip(items[1::2], items[0::2], strict=True))


def _pathspecs(repo: Repo, workdir: Path, paths: list[str]) -> list[str]:
    """Absolute pathspecs for ``paths``; a path that is neither on disk nor tracked is an error."""
    specs = []
    for path in paths:
        absolute = os.path.abspath(workdir / path)
        if not os.path.lexists(absolute) and not repo.git.ls_files("--", absolute):
            raise ActionFailed(
                f"`paths` entry {path!r} matches no file in {workdir}; fix the path or create it"
            )
        specs.append(absolute)
    return specs


def _scan_staged(repo: Repo, staged: dict[str, str]) -> list[dict[str, Any]]:
    findings = []
    for path, status in sorted(staged.items()):
        if status == "D":
            continue
        blob = repo.git.cat_file("blob", f":{path}", stdout_as_string=False)
        if b"\0" in blob[:8192]:
            continue
        text = blob.decode("utf-8", errors="replace")
        findings += [{"path": path, "line": f.line, "kind": f.kind} for f in find_secrets(text)]
    return findings


def _unstage(repo: Repo, specs: list[str]) -> None:
    if repo.head.is_valid():
        repo.git.reset("-q", "--", *specs)
    else:
        repo.git.rm("--cached", "-r", "-q", "--ignore-unmatch", "--", *specs)


def _identity_env(repo: Repo) -> dict[str, str]:
    """Author/committer for this commit: git's own configuration, else a fixed goap identity."""
    reader = repo.config_reader()
    configured = reader.has_option("user", "name") and reader.has_option("user", "email")
    if configured or ("GIT_AUTHOR_EMAIL" in os.environ and "GIT_COMMITTER_EMAIL" in os.environ):
        return {}
    name, email = FALLBACK_IDENTITY["name"], FALLBACK_IDENTITY["email"]
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }


def _ensure_remote(
    repo: Repo, name: str, config: GoapConfig, create: bool, branch: str
) -> tuple[str, bool, bool]:
    """URL of remote ``name``; adds it from [git] remote_url, creates a local bare repo if asked."""
    configured = name in {r.name for r in repo.remotes}
    url = repo.remotes[name].url if configured else config.git.remote_url
    path = _local_path(url, _root(repo) if configured else config.workdir)
    if path is not None and not configured:
        url = str(path)
    created = False
    if path is not None and not path.exists():
        if not create:
            raise ActionFailed(
                f"remote {name} points to {path}, which does not exist; set create_remote: "
                "true to create a bare repository there, or fix [git] remote_url",
                facts={"pushed": False, "remote": name},
            )
        if path.is_relative_to(config.workdir / STATE_DIR):
            state_dir(config.workdir)
        Repo.init(path, bare=True, mkdir=True, initial_branch=branch)
        created = True
    if not configured:
        repo.create_remote(name, url)
    return url, not configured, created


def remote_url(repo: Repo, remote: str) -> str:
    """URL of ``remote``, a local path made absolute; fails if the remote is not configured."""
    if remote not in {r.name for r in repo.remotes}:
        raise ActionFailed(
            f"remote {remote} is not configured in {_root(repo)}; push first "
            "(actions.git:push adds it)"
        )
    url = repo.remotes[remote].url
    path = _local_path(url, _root(repo))
    return str(path) if path is not None else url


def _local_path(url: str, base: Path) -> Path | None:
    """Filesystem path of a local remote (relative to ``base``); None for https, ssh, host:path."""
    if url.startswith("file://"):
        return Path(url.removeprefix("file://"))
    if "://" in url or ":" in url.split("/", 1)[0]:
        return None
    path = Path(url).expanduser()
    return path if path.is_absolute() else (base / path).absolute()


def _root(repo: Repo) -> Path:
    return Path(repo.working_tree_dir or repo.git_dir)


def _tracking_sha(repo: Repo, remote: str, branch: str) -> str | None:
    try:
        return repo.git.rev_parse("--verify", "--quiet", f"refs/remotes/{remote}/{branch}")
    except GitCommandError:
        return None


def _has_commit(repo: Repo, sha: str) -> bool:
    try:
        repo.git.cat_file("-e", f"{sha}^{{commit}}")
        return True
    except GitCommandError:
        return False


def _check_branch_name(repo: Repo, branch: str) -> None:
    try:
        repo.git.check_ref_format("--branch", branch)
    except GitCommandError as exc:
        raise ActionFailed(f"{branch!r} is not a valid branch name; fix `branch`") from exc


def _preview(paths: list[str], limit: int = 5) -> str:
    shown = ", ".join(paths[:limit])
    return shown + (f", ... {len(paths) - limit} more" if len(paths) > limit else "")


def _git_failure(
    what: str, exc: GitCommandError, facts: dict[str, Any] | None = None
) -> ActionFailed:
    """ActionFailed for a failed git command: its first stderr line, redacted, as the reason."""
    stderr = redact(str(exc.stderr or "")).strip()
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    reason = next(
        (line for line in lines if line.startswith(("fatal", "error"))),
        lines[0] if lines else f"exit status {exc.status}",
    )
    return ActionFailed(f"{what}: {reason}", tail=tail(stderr), facts=facts or {})
