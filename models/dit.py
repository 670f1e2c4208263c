"""TinyDiT: a class-conditional Diffusion Transformer that predicts a flow-matching velocity.

Follows DiT's models.py (Peebles & Xie, 2023): patch embedding, sinusoidal timestep embedding,
label embedding with a null class for classifier-free guidance, transformer blocks modulated by
the conditioning through adaLN-Zero, a modulated final layer and unpatchify.

Two ways to modulate (``DiTConfig.modulation``):
- "block": adaLN-Zero as in DiT, every block has its own Linear(D, 6D) from the conditioning.
  These linears hold a third of the parameters (12 x 885k in the seed's shape).
- "shared": adaLN-single as in PixArt-alpha, one Linear(D, 6D) for all blocks plus a learned
  (6, D) table per block. Same shape, about 10.6M fewer parameters in the seed's shape.
Both start every block as the identity (zero-initialised modulation) and the output at zero.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class DiTConfig:
    """The shape of a TinyDiT; `PRESETS` names the ones in use."""

    image_size: int = 128
    patch_size: int = 8
    in_channels: int = 3
    hidden_size: int = 384
    depth: int = 12
    num_heads: int = 6
    mlp_ratio: float = 4.0
    num_classes: int = 13
    modulation: Literal["block", "shared"] = "block"

    def __post_init__(self) -> None:
        if self.image_size % self.patch_size:
            raise ValueError(
                f"image_size {self.image_size} not divisible by patch {self.patch_size}"
            )
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"hidden_size {self.hidden_size} not divisible by {self.num_heads} heads"
            )
        if self.modulation not in ("block", "shared"):
            raise ValueError(f"modulation must be 'block' or 'shared', got {self.modulation!r}")


PRESETS: dict[str, DiTConfig] = {
    # CPU tests and the demo: 32x32 images, 64 tokens, 0.73M parameters.
    "tiny": DiTConfig(image_size=32, patch_size=4, hidden_size=96, depth=4, num_heads=4),
    # The seed's shape (depth 12, width 384, 6 heads, 128x128, patch 8 -> 256 tokens), with
    # DiT's adaLN-Zero in every block: 32.6M parameters.
    "cats128": DiTConfig(),
    # The same shape with shared modulation (adaLN-single): 22.9M, near the seed's "~22M".
    "cats128-single": DiTConfig(modulation="shared"),
}


def build(name: str = "tiny", **overrides) -> DiT:
    """The network of a named preset, with optional field overrides (e.g. num_classes=13)."""
    if name not in PRESETS:
        raise KeyError(f"unknown DiT preset {name!r}; choose one of {', '.join(PRESETS)}")
    return DiT(replace(PRESETS[name], **overrides))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


# --------------------------------------------------------------------------------------------
# Embedders
# --------------------------------------------------------------------------------------------


class PatchEmbed(nn.Module):
    """(N, C, H, W) -> (N, T, D): non-overlapping p x p patches, linearly projected."""

    def __init__(self, patch_size: int, in_channels: int, hidden_size: int):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, hidden_size, patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class TimestepEmbedder(nn.Module):
    """Scalar t in [0, 1] -> (N, D): sinusoidal features of 1000 t, then a two-layer MLP."""

    def __init__(self, hidden_size: int, frequency_size: int = 256):
        super().__init__()
        self.frequency_size = frequency_size
        self.mlp = nn.Sequential(
            nn.Linear(frequency_size, hidden_size), nn.SiLU(), nn.Linear(hidden_size, hidden_size)
        )

    @staticmethod
    def sinusoidal(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
        half = dim // 2
        freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device) / half)
        args = t.float()[:, None] * freqs[None]
        return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        # Flow time lives in [0, 1]; DiT's frequencies were chosen for 0..1000.
        return self.mlp(self.sinusoidal(t * 1000, self.frequency_size))


class LabelEmbedder(nn.Module):
    """Class index -> (N, D). Row `num_classes` is the null class used for guidance: training
    replaces labels with it at random (see flow.drop_labels), sampling uses it as "no label"."""

    def __init__(self, num_classes: int, hidden_size: int):
        super().__init__()
        self.num_classes = num_classes
        self.table = nn.Embedding(num_classes + 1, hidden_size)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.table(y)


def sincos_pos_embed(hidden_size: int, grid_size: int) -> torch.Tensor:
    """Fixed 2-D sine-cosine position embedding (T, D), as in DiT and MAE."""
    coords = torch.arange(grid_size, dtype=torch.float64)
    gy, gx = torch.meshgrid(coords, coords, indexing="ij")
    quarter = hidden_size // 4
    omega = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float64) / quarter)

    def embed(pos: torch.Tensor) -> torch.Tensor:
        out = pos.reshape(-1, 1) * omega[None]
        return torch.cat([torch.sin(out), torch.cos(out)], dim=1)

    return torch.cat([embed(gy), embed(gx)], dim=1).float()


# --------------------------------------------------------------------------------------------
# Block and final layer
# --------------------------------------------------------------------------------------------


class Attention(nn.Module):
    """Multi-head self-attention through F.scaled_dot_product_attention (flash on GPU)."""

    def __init__(self, hidden_size: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(hidden_size, 3 * hidden_size)
        self.proj = nn.Linear(hidden_size, hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, d = x.shape
        q, k, v = (
            self.qkv(x).view(n, t, 3, self.num_heads, d // self.num_heads).permute(2, 0, 3, 1, 4)
        )
        x = F.scaled_dot_product_attention(q, k, v)
        return self.proj(x.transpose(1, 2).reshape(n, t, d))


class Mlp(nn.Module):
    def __init__(self, hidden_size: int, mlp_ratio: float):
        super().__init__()
        inner = int(hidden_size * mlp_ratio)
        self.fc1 = nn.Linear(hidden_size, inner)
        self.fc2 = nn.Linear(inner, hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class DiTBlock(nn.Module):
    """Pre-norm attention + MLP, each with shift/scale before and a gate after (adaLN-Zero).

    With modulation "block" the six modulation vectors come from the block's own linear layer on
    the conditioning c (N, D); with "shared" they are the shared ones (N, 6, D) plus the block's
    learned table.
    """

    def __init__(self, hidden_size: int, num_heads: int, mlp_ratio: float, shared: bool):
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(hidden_size, num_heads)
        self.norm2 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(hidden_size, mlp_ratio)
        if shared:
            self.modulation_table = nn.Parameter(torch.zeros(6, hidden_size))
        else:
            self.adaLN_modulation = nn.Sequential(
                nn.SiLU(), nn.Linear(hidden_size, 6 * hidden_size)
            )

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        if hasattr(self, "modulation_table"):
            mod = (c + self.modulation_table).unbind(1)
        else:
            mod = self.adaLN_modulation(c).chunk(6, dim=1)
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = mod
        x = x + gate_msa.unsqueeze(1) * self.attn(modulate(self.norm1(x), shift_msa, scale_msa))
        x = x + gate_mlp.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))
        return x


class FinalLayer(nn.Module):
    """Modulated LayerNorm, then a linear map from each token to its p x p x C patch."""

    def __init__(self, hidden_size: int, patch_size: int, out_channels: int):
        super().__init__()
        self.norm = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(hidden_size, patch_size * patch_size * out_channels)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 2 * hidden_size))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)
        return self.linear(modulate(self.norm(x), shift, scale))


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------


class DiT(nn.Module):
    """model(x, t, y) -> velocity of x's shape; x (N, C, H, W), t (N,) in [0, 1], y (N,) class
    indices where `num_classes` is the null label."""

    def __init__(self, config: DiTConfig):
        super().__init__()
        self.config = config
        d, p = config.hidden_size, config.patch_size
        self.image_size, self.in_channels = config.image_size, config.in_channels
        self.num_classes = config.num_classes
        self.x_embedder = PatchEmbed(p, config.in_channels, d)
        self.t_embedder = TimestepEmbedder(d)
        self.y_embedder = LabelEmbedder(config.num_classes, d)
        grid = config.image_size // p
        self.register_buffer("pos_embed", sincos_pos_embed(d, grid)[None], persistent=False)
        shared = config.modulation == "shared"
        if shared:
            self.shared_modulation = nn.Sequential(nn.SiLU(), nn.Linear(d, 6 * d))
        self.blocks = nn.ModuleList(
            DiTBlock(d, config.num_heads, config.mlp_ratio, shared) for _ in range(config.depth)
        )
        self.final_layer = FinalLayer(d, p, config.in_channels)
        self.initialize_weights()

    def initialize_weights(self) -> None:
        """DiT's initialisation: Xavier linears, N(0, 0.02) embeddings, zero modulation and
        output, so every block starts as the identity and the first prediction is zero."""

        def xavier(module: nn.Module) -> None:
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)

        self.apply(xavier)
        w = self.x_embedder.proj.weight
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.zeros_(self.x_embedder.proj.bias)
        nn.init.normal_(self.y_embedder.table.weight, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[0].weight, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[2].weight, std=0.02)
        zero = [self.final_layer.adaLN_modulation[-1], self.final_layer.linear]
        if hasattr(self, "shared_modulation"):
            zero.append(self.shared_modulation[-1])
        zero += [b.adaLN_modulation[-1] for b in self.blocks if hasattr(b, "adaLN_modulation")]
        for layer in zero:
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def unpatchify(self, x: torch.Tensor) -> torch.Tensor:
        """(N, T, p*p*C) -> (N, C, H, W)."""
        p, c = self.config.patch_size, self.in_channels
        g = self.image_size // p
        x = x.view(x.shape[0], g, g, p, p, c)
        return torch.einsum("nhwpqc->nchpwq", x).reshape(x.shape[0], c, g * p, g * p)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.image_size, self.image_size):
            raise ValueError(f"expected {self.image_size}x{self.image_size} images, got {x.shape}")
        h = self.x_embedder(x) + self.pos_embed
        c = self.t_embedder(t) + self.y_embedder(y)
        block_c = c
        if hasattr(self, "shared_modulation"):
            block_c = self.shared_modulation(c).view(c.shape[0], 6, -1)
        for block in self.blocks:
            h = block(h, block_c)
        return self.unpatchify(self.final_layer(h, c))

    def arch(self) -> dict:
        """The config as a plain dict, stored in checkpoints to rebuild the network."""
        return asdict(self.config)
