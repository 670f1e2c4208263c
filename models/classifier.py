"""A small convolutional breed classifier, written here because torchvision is not installable.

Four stages of (strided 3x3 conv, 3x3 conv), each with BatchNorm and ReLU, a residual
connection inside each stage, global average pooling and a linear head. It works at any input
size, uses only Conv/BatchNorm/ReLU/Add/GlobalAveragePool/Gemm (all plain ONNX ops that
onnxruntime-web runs), and is small enough to ship to a browser (~1.2M parameters, ~5 MB fp32).
`features` gives the pooled penultimate features, used for the Frechet distance.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch
from torch import nn


@dataclass(frozen=True)
class ClassifierConfig:
    """Channel widths of the four stages, the number of classes, and the input size the model
    is trained and evaluated at (inputs in [-1, 1])."""

    widths: tuple[int, ...] = (32, 64, 128, 256)
    num_classes: int = 13
    image_size: int = 64

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(self.widths))


CLASSIFIER_PRESETS: dict[str, ClassifierConfig] = {
    "small": ClassifierConfig(),
    "small-128": ClassifierConfig(image_size=128),
}


def conv_bn(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class Stage(nn.Module):
    """Downsample by 2 into `cout` channels, then one residual 3x3 conv."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.down = conv_bn(cin, cout, stride=2)
        self.conv = nn.Sequential(
            nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout)
        )
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.down(x)
        return self.act(x + self.conv(x))


class BreedClassifier(nn.Module):
    """model(x) -> logits (N, num_classes) for images x (N, 3, H, W) in [-1, 1]."""

    def __init__(self, config: ClassifierConfig):
        super().__init__()
        self.config = config
        self.num_classes = config.num_classes
        self.image_size = config.image_size
        widths = config.widths
        self.stem = conv_bn(3, widths[0])
        self.stages = nn.Sequential(
            *(Stage(cin, cout) for cin, cout in zip((widths[0], *widths[:-1]), widths, strict=True))
        )
        self.head = nn.Linear(widths[-1], config.num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled penultimate features (N, widths[-1])."""
        return self.stages(self.stem(x)).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def arch(self) -> dict:
        return asdict(self.config)


def build_classifier(name: str = "small", **overrides) -> BreedClassifier:
    """The classifier of a named preset, with optional field overrides (e.g. image_size=32)."""
    if name not in CLASSIFIER_PRESETS:
        raise KeyError(
            f"unknown classifier preset {name!r}; choose one of {', '.join(CLASSIFIER_PRESETS)}"
        )
    return BreedClassifier(replace(CLASSIFIER_PRESETS[name], **overrides))
