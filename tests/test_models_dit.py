"""models.dit: shapes, presets, parameter counts, adaLN-Zero start, conditioning."""

from __future__ import annotations

import pytest
import torch
from conftest_models import one_torch_thread  # noqa: F401  (autouse fixture)

from models.dit import PRESETS, DiT, DiTConfig, build, count_parameters


def _count(name: str, **overrides) -> int:
    with torch.device("meta"):  # no memory, no init cost
        return count_parameters(build(name, **overrides))


def test_preset_parameter_counts():
    # The seed's shape with adaLN-Zero in every block is ~33M, not the seed's "~22M"; the
    # shared-modulation variant of the same shape is the ~22M one.
    assert _count("cats128") == 32_615_232
    assert _count("cats128-single") == 22_885_440
    assert _count("tiny") == 732_624
    assert _count("tiny", modulation="shared") == 567_312
    seed = PRESETS["cats128"]
    assert (seed.depth, seed.hidden_size, seed.num_heads, seed.image_size, seed.patch_size) == (
        12, 384, 6, 128, 8,
    )  # fmt: skip
    assert seed.modulation == "block" and PRESETS["cats128-single"].modulation == "shared"


@pytest.mark.parametrize("modulation", ["block", "shared"])
def test_forward_shape_and_identity_start(modulation: str):
    torch.manual_seed(0)
    model = build("tiny", modulation=modulation)
    x, t = torch.randn(3, 3, 32, 32), torch.rand(3)
    y = torch.tensor([0, 5, 13])  # 13 is the null label
    v = model(x, t, y)
    assert v.shape == x.shape
    assert torch.count_nonzero(v) == 0  # zero-initialised output layer
    h = model.x_embedder(x) + model.pos_embed
    c = model.t_embedder(t) + model.y_embedder(y)
    if modulation == "shared":
        c = model.shared_modulation(c).view(3, 6, -1)
    assert torch.equal(model.blocks[0](h, c), h)  # adaLN-Zero: every block starts as identity


def test_output_depends_on_time_and_label_after_training_starts():
    torch.manual_seed(0)
    model = build("tiny", depth=2)
    for p in model.parameters():  # leave the zero start: perturb every weight
        p.data.add_(torch.randn_like(p) * 0.02)
    x, t = torch.randn(2, 3, 32, 32), torch.full((2,), 0.3)
    same = model(x, t, torch.tensor([1, 1]))
    assert not torch.allclose(same, model(x, t, torch.tensor([1, 2])))
    assert not torch.allclose(same, model(x, torch.full((2,), 0.7), torch.tensor([1, 1])))
    assert torch.allclose(same[0:1], model(x[0:1], t[0:1], torch.tensor([1])), atol=1e-5)


def test_unpatchify_inverts_patchify():
    model = DiT(DiTConfig(image_size=16, patch_size=4, hidden_size=32, depth=1, num_heads=2))
    x = torch.randn(2, 3, 16, 16)
    p = 4
    patches = x.unfold(2, p, p).unfold(3, p, p)  # (N, C, gh, gw, p, p)
    tokens = patches.permute(0, 2, 3, 4, 5, 1).reshape(2, 16, p * p * 3)
    assert torch.equal(model.unpatchify(tokens), x)


def test_bad_config_and_input_are_rejected():
    with pytest.raises(ValueError, match="not divisible by patch"):
        DiTConfig(image_size=30, patch_size=4)
    with pytest.raises(KeyError, match="unknown DiT preset"):
        build("huge")
    with pytest.raises(ValueError, match="expected 32x32"):
        build("tiny")(torch.randn(1, 3, 16, 16), torch.rand(1), torch.zeros(1, dtype=torch.long))
