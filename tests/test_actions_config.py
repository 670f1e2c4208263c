"""actions.config: goap.toml, environment overrides, clear errors, the self-ignoring .goap dir."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_actions_support import git, init_repo, isolated_env, write_config  # noqa: F401

from actions.config import ConfigError, load_config, state_dir

pytestmark = pytest.mark.usefixtures("isolated_env")


def test_without_goap_toml_every_backend_is_local(tmp_path: Path) -> None:
    config = load_config(tmp_path)
    assert (config.backends.ci, config.backends.hub, config.backends.train) == (
        "local",
        "local",
        "local",
    )
    assert config.git.remote == "goap-local"
    assert config.path(config.registry.path) == tmp_path / ".goap" / "registry"
    assert "absent" in config.source


def test_goap_toml_sets_backends_and_settings(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        """
[backends]
ci = "github"
hub = "huggingface"
train = "modal"

[github]
repo = "acme/cats"
token_env = "ACME_GH_TOKEN"

[huggingface]
repo_id = "acme/cat-model"

[registry]
path = "/srv/registry"

[ci]
commands = ["make test"]
timeout_s = 60

[train]
gpu = "A10G"
""",
    )
    config = load_config(tmp_path)
    assert config.backends.ci == "github"
    assert config.backends.hub == "huggingface"
    assert config.backends.train == "modal"
    assert config.github.repo == "acme/cats"
    assert config.github.token_env == "ACME_GH_TOKEN"
    assert config.huggingface.repo_id == "acme/cat-model"
    assert config.path(config.registry.path) == Path("/srv/registry")
    assert config.ci.commands == ["make test"]
    assert config.train == {"gpu": "A10G"}
    assert config.source == str(tmp_path / "goap.toml")


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(tmp_path, '[backends]\nci = "github"\nhub = "huggingface"\n')
    monkeypatch.setenv("GOAP_CI_BACKEND", "local")
    monkeypatch.setenv("GOAP_TRAIN_BACKEND", "modal")
    config = load_config(tmp_path)
    assert config.backends.ci == "local"
    assert config.backends.hub == "huggingface"
    assert config.backends.train == "modal"


def test_bad_backend_value_names_file_key_and_value(tmp_path: Path) -> None:
    write_config(tmp_path, '[backends]\nci = "gitlab"\n')
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path)
    message = str(error.value)
    assert str(tmp_path / "goap.toml") in message
    assert "[backends] ci" in message
    assert "'gitlab'" in message
    assert "'local' or 'github'" in message


def test_bad_environment_override_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOAP_HUB_BACKEND", "s3")
    with pytest.raises(ConfigError, match="GOAP_HUB_BACKEND"):
        load_config(tmp_path)


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("[github]\nrepository = 'a/b'\n", "[github] repository: Extra inputs"),
        ("[github]\nrepo = 'not a repo id'\n", "[github] repo"),
        ("[ci]\ntimeout_s = -1\n", "[ci] timeout_s"),
        ('[ci]\ncommands = ["  "]\n', "[ci] commands.0"),
        ("[deploy]\nx = 1\n", "[deploy]"),
        ("[backends\nci = 'local'\n", "not valid TOML"),
    ],
)
def test_invalid_files_are_clear_errors(tmp_path: Path, toml: str, expected: str) -> None:
    write_config(tmp_path, toml)
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path)
    assert "goap.toml" in str(error.value)
    assert expected in str(error.value)


def test_state_dir_is_ignored_by_git(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "ws")
    records = state_dir(repo, "ci")
    (records / "abc.json").write_text("{}")
    assert records == repo / ".goap" / "ci"
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""


def test_the_readmes_goap_toml_reference_names_every_key_and_only_real_ones():
    import re
    import tomllib

    from actions.config import GoapConfig

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme[readme.index("### goap.toml") :]
    block = re.search(r"```toml\n(.*?)```", section, re.S).group(1)
    data = tomllib.loads(block)
    GoapConfig.model_validate(data)  # unknown keys are refused: every key is real
    for name, field in GoapConfig.model_fields.items():
        assert name in data, f"[{name}] is missing from the README"
        model = field.annotation
        if isinstance(model, type) and hasattr(model, "model_fields"):
            missing = set(model.model_fields) - set(data[name])
            assert not missing, f"[{name}] lacks {sorted(missing)} in the README"
