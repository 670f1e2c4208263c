"""A03 on the real app and A16's deploy and sensor: a planted type error fails the build the
way the seed's CI failed, npm missing is "not applicable", a new published version makes the
site stale until it is redeployed (local folder and gh-pages branch), a changed registry copy
is refused; and the page's noise generator equals Python's bit for bit (run in node)."""

# ruff: noqa: F811  (the fixtures imported from conftest_web are test arguments)
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest_web import copy_web_sources, need_npm, publish, web_workspace  # noqa: F401
from test_actions_support import git, init_repo, isolated_env  # noqa: F401

from actions.checks import TypeScriptArgs, validate_typescript
from actions.site import DeployArgs, SiteStatusArgs, deploy_site, site_status
from goap.executor import ActionFailed
from models.browser import mulberry32, seeded_noise, step_times

pytestmark = [pytest.mark.usefixtures("isolated_env"), pytest.mark.timeout(300)]


@pytest.fixture
def workspace(web_workspace: Path, tmp_path: Path) -> Path:
    """A private copy of the deployed workspace (without the 180 MB of node_modules)."""
    root = tmp_path / "ws"
    root.mkdir()
    for name in ("goap.toml", "artifacts", ".goap", "data", "site"):
        source = web_workspace / name
        (shutil.copytree if source.is_dir() else shutil.copyfile)(source, root / name)
    shutil.copytree(web_workspace / "web", root / "web", ignore=shutil.ignore_patterns("node_*"))
    return root


def test_a_new_version_makes_the_site_stale_until_it_is_redeployed(workspace: Path):
    status = SiteStatusArgs(workdir=workspace)
    assert site_status(status) | {"serve": None} == {
        "applicable": True, "deployed": True, "served_version": "v1", "latest_version": "v1",
        "app_current": True, "current": True, "serve": None,
    }  # fmt: skip
    assert publish(workspace, "a second release")["version"] == "v2"
    stale = site_status(status)
    assert (stale["current"], stale["served_version"], stale["latest_version"]) == (
        False, "v1", "v2",
    )  # fmt: skip
    facts = deploy_site(DeployArgs(workdir=workspace))
    assert facts["served_version"] == "v2" and facts["versions"] == ["v1", "v2"]
    assert facts["serve"].startswith(f"{sys.executable} -m web.serve ")
    assert site_status(status)["current"] is True
    config = json.loads((workspace / "site/config.json").read_text())
    assert config["latest"] == "v2" and [v["version"] for v in config["versions"]] == ["v1", "v2"]
    web = json.loads((workspace / "site/models/v2/web-manifest.json").read_text())
    assert web["image_size"] == 32 and len(web["classes"]) == 13 and web["null_label"] == 13
    assert web["sampler"] == {"steps": 10, "cfg_scale": 4.0, "method": "euler"}
    assert len(json.loads((workspace / "site/samples/index.json").read_text())) == 13
    (workspace / "web/dist/app.js").write_text("// rebuilt\n")  # a changed app is stale too
    assert site_status(status)["app_current"] is False


def test_gh_pages_target_commits_the_site_on_the_remote_branch(workspace: Path):
    init_repo(workspace)
    remote = workspace.parent / "remote.git"
    git(workspace.parent, "init", "-q", "--bare", str(remote))
    (workspace / "goap.toml").write_text(f'[git]\nremote = "origin"\nremote_url = "{remote}"\n')
    head = git(workspace, "rev-parse", "HEAD")
    args = {"workdir": workspace, "target": "gh-pages"}
    assert site_status(SiteStatusArgs(**args))["deployed"] is False
    first = deploy_site(DeployArgs(**args))
    assert first["branch"] == "gh-pages" and first["served_version"] == "v1"
    tree = git(remote, "ls-tree", "-r", "--name-only", "gh-pages")
    assert {"config.json", "index.html", "models/v1/web-manifest.json"} <= set(tree.split())
    assert site_status(SiteStatusArgs(**args))["current"] is True
    publish(workspace, "a second release")
    assert site_status(SiteStatusArgs(**args))["current"] is False
    second = deploy_site(DeployArgs(**args))
    assert git(remote, "rev-parse", "gh-pages^") == first["commit"]  # history is kept
    assert second["served_version"] == "v2" and site_status(SiteStatusArgs(**args))["current"]
    assert git(workspace, "rev-parse", "HEAD") == head  # the work tree's branch is untouched


def test_a_registry_copy_changed_after_publishing_is_refused(workspace: Path):
    (workspace / ".goap/registry/tiny-cats/v1/dit.int8.onnx").write_bytes(b"tampered")
    with pytest.raises(ActionFailed, match="does not match its SHA-256"):
        deploy_site(DeployArgs(workdir=workspace))


def test_no_app_is_not_applicable_and_an_unbuilt_app_says_how(workspace: Path, tmp_path: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    facts = site_status(SiteStatusArgs(workdir=empty))
    assert facts == {"applicable": False, "current": True,
                     "reason": "no web/package.json: this project has no web app"}  # fmt: skip
    assert deploy_site(DeployArgs(workdir=empty))["applicable"] is False
    need_npm()
    shutil.rmtree(workspace / "web/dist")
    with pytest.raises(ActionFailed, match="the app is not built; run A03"):
        deploy_site(DeployArgs(workdir=workspace))


def test_a03_fails_like_the_seeds_ci_on_a_webgpu_type_error(tmp_path: Path):
    need_npm()
    web = copy_web_sources(tmp_path / "web")
    (web / "src/webgpu.d.ts").unlink()  # the declaration the seed's CI lacked
    with pytest.raises(ActionFailed, match=r"`tsc --noEmit` failed in web") as failed:
        validate_typescript(TypeScriptArgs(workdir=tmp_path, project_dir="web"))
    assert "error TS2339: Property 'gpu' does not exist on type 'Navigator'" in failed.value.tail
    assert failed.value.facts["command"].startswith("npm ci")
    assert not (web / "dist").exists()  # the bundler never ran


def test_a03_without_npm_is_not_applicable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    copy_web_sources(tmp_path / "web")
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))
    facts = validate_typescript(TypeScriptArgs(workdir=tmp_path, project_dir="web"))
    assert facts["applicable"] is False
    assert facts["reason"].startswith("npm is not installed, so web cannot be built here")


def test_the_pages_noise_and_times_equal_pythons(web_workspace: Path, tmp_path: Path):
    """web/src/noise.ts and sampler.ts run in node (V8, as in Chromium)."""
    script = tmp_path / "probe.ts"
    script.write_text(
        f'import {{ mulberry32, seededNoise }} from "{web_workspace}/web/src/noise";\n'
        f'import {{ times }} from "{web_workspace}/web/src/sampler";\n'
        "const m = mulberry32(4294967295);\n"
        "console.log(JSON.stringify({ ints: [m(), m(), m()], times: times(7),\n"
        "  noise: Array.from(seededNoise(20260, 3 * 32 * 32 + 1)) }));\n"
    )
    esbuild = web_workspace / "web/node_modules/.bin/esbuild"
    bundle = tmp_path / "probe.mjs"
    argv = [str(esbuild), str(script), "--bundle", "--platform=node", "--format=esm",
            f"--outfile={bundle}", "--log-level=warning"]  # fmt: skip
    subprocess.run(argv, check=True, timeout=60)
    ran = subprocess.run(["node", str(bundle)], capture_output=True, text=True, timeout=60)
    out = json.loads(ran.stdout)
    assert out["ints"] == mulberry32(4294967295, 3)
    assert np.array_equal(np.array(out["times"], np.float32), step_times(7))
    noise = np.array(out["noise"], np.float32)
    assert np.array_equal(noise, seeded_noise(20260, (3 * 32 * 32 + 1,)))  # bit for bit
    assert abs(noise.mean()) < 0.05 and abs(noise.std() - 1) < 0.05
