"""actions.git against real repositories in tmp dirs (a bare repository as the remote)."""

from __future__ import annotations

from pathlib import Path

import pytest
from git import Repo
from test_actions_support import git, init_repo, isolated_env, write, write_config  # noqa: F401

from actions.git import (
    CommitArgs,
    CreateBranchArgs,
    GitStateArgs,
    PushArgs,
    commit,
    create_branch,
    git_state,
    push,
)
from goap.executor import ActionFailed

pytestmark = pytest.mark.usefixtures("isolated_env")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return init_repo(tmp_path / "ws")


def commit_file(repo: Path, name: str, text: str, message: str) -> dict:
    write(repo / name, text)
    return commit(CommitArgs(workdir=repo, paths=[name], message=message))


# ------------------------------------------------------------------------------ create_branch


def test_create_branch_creates_and_switches_then_is_idempotent(repo: Path) -> None:
    base = git(repo, "rev-parse", "HEAD")
    facts = create_branch(CreateBranchArgs(workdir=repo, branch="feature/deploy"))
    assert facts == {
        "branch": "feature/deploy",
        "created": True,
        "previous_branch": "main",
        "sha": base,
        "clean": True,
    }
    assert git(repo, "branch", "--show-current") == "feature/deploy"
    again = create_branch(CreateBranchArgs(workdir=repo, branch="feature/deploy"))
    assert again["created"] is False


def test_create_branch_switches_to_an_existing_branch(repo: Path) -> None:
    git(repo, "branch", "existing")
    facts = create_branch(CreateBranchArgs(workdir=repo, branch="existing"))
    assert facts["created"] is False
    assert git(repo, "branch", "--show-current") == "existing"


def test_dirty_tree_is_refused_only_when_require_clean(repo: Path) -> None:
    write(repo / "wip.py", "x = 1\n")
    with pytest.raises(ActionFailed, match=r"1 uncommitted change\(s\) \(wip.py\)") as error:
        create_branch(CreateBranchArgs(workdir=repo, branch="feature/a", require_clean=True))
    assert error.value.facts["clean"] is False
    assert git(repo, "branch", "--show-current") == "main"
    facts = create_branch(CreateBranchArgs(workdir=repo, branch="feature/a"))
    assert facts["created"] is True
    assert facts["clean"] is False
    assert (repo / "wip.py").exists()


def test_create_branch_from_base(repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD")
    commit_file(repo, "b.py", "b = 1\n", "second")
    facts = create_branch(CreateBranchArgs(workdir=repo, branch="from-first", base=first))
    assert facts["sha"] == first


def test_create_branch_in_a_repository_without_commits(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "empty", commit=False)
    facts = create_branch(CreateBranchArgs(workdir=repo, branch="feature/x"))
    assert facts["created"] is True
    assert "sha" not in facts  # unknown facts are left out, never null
    assert git(repo, "symbolic-ref", "--short", "HEAD") == "feature/x"


def test_invalid_branch_name_and_missing_repository_are_clear(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(ActionFailed, match="not a valid branch name"):
        create_branch(CreateBranchArgs(workdir=repo, branch="bad..name"))
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(ActionFailed, match="not inside a git repository"):
        create_branch(CreateBranchArgs(workdir=plain, branch="x"))


# ------------------------------------------------------------------------------------- commit


def test_commit_groups_make_one_atomic_commit_each(repo: Path) -> None:
    write(repo / "src" / "validate.py", "def validate():\n    return True\n")
    write(repo / "docs" / "adr-026.md", "# ADR 026\n")
    write(repo / "src" / "monitor.py", "def monitor():\n    return 1\n")
    groups = [
        (["src/validate.py"], "feat: validation gates"),
        (["docs"], "docs: ADRs"),
        (["src/monitor.py"], "feat: monitor utility"),
    ]
    shas = []
    for paths, message in groups:
        facts = commit(CommitArgs(workdir=repo, paths=paths, message=message))
        assert facts["committed"] is True
        shas.append(facts["sha"])
    assert git(repo, "log", "--format=%s", "-3").splitlines() == [
        "feat: monitor utility",
        "docs: ADRs",
        "feat: validation gates",
    ]
    assert git(repo, "show", "--name-only", "--format=", shas[1]) == "docs/adr-026.md"
    assert git(repo, "status", "--porcelain") == ""


def test_commit_leaves_other_changes_out(repo: Path) -> None:
    write(repo / "other.py", "unrelated = True\n")
    git(repo, "add", "other.py")
    write(repo / "code.py", "x = 1\n")
    facts = commit(CommitArgs(workdir=repo, paths=["code.py"], message="code only"))
    assert facts["files"] == ["code.py"]
    assert git(repo, "show", "--name-only", "--format=", "HEAD") == "code.py"
    assert git(repo, "diff", "--cached", "--name-only") == "other.py"


def test_group_with_nothing_to_commit_is_reported(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    facts = commit(CommitArgs(workdir=repo, paths=["README.md"], message="nothing"))
    assert facts["committed"] is False
    assert facts["nothing_to_commit"] is True
    assert facts["sha"] == head


def test_commit_records_deletions(repo: Path) -> None:
    (repo / "README.md").unlink()
    facts = commit(CommitArgs(workdir=repo, paths=["README.md"], message="remove readme"))
    assert facts["committed"] is True
    assert git(repo, "ls-files") == ""


def test_missing_path_names_the_argument(repo: Path) -> None:
    with pytest.raises(ActionFailed, match=r"`paths` entry 'nope.py' matches no file"):
        commit(CommitArgs(workdir=repo, paths=["nope.py"], message="x"))


def test_commit_without_any_git_identity_uses_the_goap_identity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL", "GIT_AUTHOR_NAME", "EMAIL"):
        monkeypatch.delenv(name, raising=False)
    repo = tmp_path / "anon"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write(repo / "a.py", "a = 1\n")
    facts = commit(CommitArgs(workdir=repo, paths=["a.py"], message="first"))
    assert facts["committed"] is True
    assert git(repo, "log", "-1", "--format=%an <%ae>") == "goap <goap@localhost>"


# ------------------------------------------------------------------------------------ secrets

SECRET_LINES = {
    "GitHub token": "auth = '" + "ghp_" + "a1B2c3D4e5" * 4 + "'",
    "GitHub fine-grained token": "pat = " + "github_pat_" + "11ABCDEFG0" * 5,
    "Hugging Face token": "login(" + "hf_" + "QwErTyUiOp" * 4 + ")",
    "AWS access key id": "aws_key_id = " + "AKIA" + "IOSFODNN7EXAMPLE",
    "private key": "-----BEGIN " + "RSA PRIVATE KEY-----",
    "token assignment": "MODAL_TOKEN=" + "mk-" + "x9Y8z7W6v5" * 3,
}


@pytest.mark.parametrize("kind", sorted(SECRET_LINES))
def test_commit_refuses_secrets_names_file_and_line_and_unstages(repo: Path, kind: str) -> None:
    secret_line = SECRET_LINES[kind]
    write(repo / "config" / "settings.py", f"# settings\nDEBUG = False\n{secret_line}\n")
    head = git(repo, "rev-parse", "HEAD")
    with pytest.raises(ActionFailed) as error:
        commit(CommitArgs(workdir=repo, paths=["config"], message="settings"))
    failure = error.value
    assert f"{kind} in config/settings.py line 3" in failure.message
    secret_value = secret_line.split("=", 1)[-1].strip(" '()") if "=" in secret_line else ""
    for text in (failure.message, failure.tail, repr(failure.facts)):
        assert secret_line not in text
        if secret_value:
            assert secret_value not in text
    assert failure.facts["secrets_found"] == [
        {"path": "config/settings.py", "line": 3, "kind": kind}
    ]
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "diff", "--cached", "--name-only") == ""


@pytest.mark.parametrize(
    "line",
    [
        'token_env: str = "HF_TOKEN"',
        'token = os.environ["HF_TOKEN"]',
        'GITHUB_TOKEN = os.environ.get("GITHUB_TOKEN")',
        'HF_TOKEN="${HF_TOKEN}"',
        "max_new_tokens = 256",
    ],
)
def test_references_to_tokens_are_not_secrets(repo: Path, line: str) -> None:
    write(repo / "settings.py", line + "\n")
    assert commit(CommitArgs(workdir=repo, paths=["settings.py"], message="ok"))["committed"]


def test_secret_scan_skips_binary_files_and_can_be_disabled(repo: Path) -> None:
    token = "hf_" + "QwErTyUiOp" * 4
    (repo / "weights.bin").write_bytes(b"\0\1\2" + token.encode())
    assert commit(CommitArgs(workdir=repo, paths=["weights.bin"], message="w"))["committed"]
    write(repo / "fixture.txt", token + "\n")
    args = CommitArgs(workdir=repo, paths=["fixture.txt"], message="f", scan_secrets=False)
    assert commit(args)["committed"]


# --------------------------------------------------------------------------------------- push


def test_push_creates_the_default_bare_remote_when_asked(repo: Path) -> None:
    with pytest.raises(ActionFailed, match="set create_remote: true") as error:
        push(PushArgs(workdir=repo))
    assert error.value.facts["pushed"] is False
    assert git(repo, "remote") == ""

    facts = push(PushArgs(workdir=repo, create_remote=True))
    bare = repo / ".goap" / "remote.git"
    head = git(repo, "rev-parse", "HEAD")
    assert facts["pushed"] is True
    assert facts["remote_created"] is True
    assert facts["remote_added"] is True
    assert facts["upstream"] == "goap-local/main"  # goap's own remote: no goap.toml names another
    assert facts["sha"] == head
    assert git(bare, "rev-parse", "refs/heads/main") == head
    assert git(repo, "rev-parse", "--abbrev-ref", "main@{upstream}") == "goap-local/main"
    assert git(repo, "status", "--porcelain") == ""

    again = push(PushArgs(workdir=repo))
    assert again["up_to_date"] is True
    assert again["remote_created"] is False


def test_push_to_a_configured_remote_path_and_branch(repo: Path, tmp_path: Path) -> None:
    bare = tmp_path / "server" / "project.git"
    write_config(repo, f'[git]\nremote = "upstream"\nremote_url = "{bare}"\n')
    git(repo, "add", "goap.toml")
    git(repo, "commit", "-q", "-m", "config")
    create_branch(CreateBranchArgs(workdir=repo, branch="feature/x"))
    commit_file(repo, "x.py", "x = 1\n", "x")
    facts = push(PushArgs(workdir=repo, create_remote=True))
    assert (facts["remote"], facts["branch"]) == ("upstream", "feature/x")
    assert facts["remote_url"] == str(bare)
    assert git(bare, "rev-parse", "refs/heads/feature/x") == facts["sha"]


def test_rejected_push_says_to_pull_first(repo: Path, tmp_path: Path) -> None:
    push(PushArgs(workdir=repo, create_remote=True))
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(repo / ".goap" / "remote.git"), str(other))
    git(other, "config", "user.email", "o@example.com")
    git(other, "config", "user.name", "Other")
    write(other / "theirs.py", "theirs = 1\n")
    git(other, "add", ".")
    git(other, "commit", "-q", "-m", "theirs")
    git(other, "push", "-q", "origin", "main")
    commit_file(repo, "ours.py", "ours = 1\n", "ours")
    with pytest.raises(ActionFailed, match="rejected.*pull or rebase") as error:
        push(PushArgs(workdir=repo))
    assert error.value.facts == {"pushed": False, "rejected": True}


# ------------------------------------------------------------------------------------- sensor


def test_git_state_follows_the_repository_through_the_workflow(repo: Path) -> None:
    state = git_state(GitStateArgs(workdir=repo, branch="feature/x"))
    assert state["is_repo"] is True
    assert state["current_branch"] == "main"
    assert state["branch_exists"] is False
    assert state["clean"] is True
    assert state["remote_configured"] is False
    assert state["remote_has_head"] is False
    assert None not in state.values()  # unknown facts (remote_sha, ahead) are left out

    create_branch(CreateBranchArgs(workdir=repo, branch="feature/x"))
    write(repo / "a.py", "a = 1\n")
    state = git_state(GitStateArgs(workdir=repo, branch="feature/x"))
    assert state["branch_exists"] is True
    assert (state["clean"], state["uncommitted_files"]) == (False, 1)

    commit(CommitArgs(workdir=repo, paths=["a.py"], message="a"))
    push(PushArgs(workdir=repo, create_remote=True))
    state = git_state(GitStateArgs(workdir=repo))
    assert state["clean"] is True
    assert state["remote_sha"] == state["head_sha"]
    assert (state["remote_has_head"], state["ahead"]) == (True, 0)

    commit_file(repo, "b.py", "b = 1\n", "b")
    commit_file(repo, "c.py", "c = 1\n", "c")
    state = git_state(GitStateArgs(workdir=repo))
    assert (state["remote_has_head"], state["ahead"]) == (False, 2)
    offline = git_state(GitStateArgs(workdir=repo, query_remote=False))
    assert (offline["remote_has_head"], offline["ahead"]) == (False, 2)


def test_git_state_of_a_new_branch_counts_commits_not_on_the_remote(repo: Path) -> None:
    push(PushArgs(workdir=repo, create_remote=True))
    create_branch(CreateBranchArgs(workdir=repo, branch="feature/y"))
    commit_file(repo, "y.py", "y = 1\n", "y")
    state = git_state(GitStateArgs(workdir=repo))
    assert "remote_sha" not in state
    assert (state["remote_has_head"], state["ahead"]) == (False, 1)


def test_git_state_outside_a_repository(tmp_path: Path) -> None:
    assert git_state(GitStateArgs(workdir=tmp_path)) == {"is_repo": False}


def test_with_no_goap_toml_push_never_reaches_the_clones_real_origin(tmp_path):
    """A clone of a real project (origin with credentials) and no goap.toml: goap pushes to
    its own local remote under .goap/, says where before it pushes, and origin is untouched."""
    upstream = tmp_path / "upstream.git"
    Repo.init(upstream, bare=True, initial_branch="main")
    work = tmp_path / "work"
    repo = Repo.init(work, initial_branch="main")
    (work / "a.txt").write_text("a\n")
    repo.index.add(["a.txt"])
    repo.index.commit("first")
    repo.create_remote("origin", str(upstream))
    facts = push(PushArgs(workdir=work, create_remote=True))
    assert facts["pushed"] and facts["remote"] == "goap-local"
    assert Path(facts["remote_url"]).resolve() == (work / ".goap" / "remote.git").resolve()
    assert not list(Repo(upstream).heads)  # nothing reached the real project
