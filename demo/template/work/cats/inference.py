"""Classify an image with the published int8 ONNX classifier (as a server or browser would)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

BREEDS = (
    "Abyssinian",
    "Bengal",
    "Birman",
    "Bombay",
    "British_Shorthair",
    "Egyptian_Mau",
    "Maine_Coon",
    "Persian",
    "Ragdoll",
    "Russian_Blue",
    "Siamese",
    "Sphynx",
    "other",
)
"""The classes in the model's output order."""


class BreedClassifier:
    """The classifier graph: image (N, 3, S, S) in [-1, 1] -> logits (N, 13)."""

    def __init__(self, model: str | Path):
        self.session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
        self.size = int(self.session.get_inputs()[0].shape[-1])

    def preprocess(self, image: Image.Image) -> np.ndarray:
        """RGB, shorter side resized to the model's size, centre crop, [-1, 1], (1, 3, S, S)."""
        image = image.convert("RGB")
        scale = self.size / min(image.size)
        width, height = (max(self.size, round(side * scale)) for side in image.size)
        image = image.resize((width, height), Image.Resampling.BICUBIC)
        left, top = (width - self.size) // 2, (height - self.size) // 2
        image = image.crop((left, top, left + self.size, top + self.size))
        pixels = np.asarray(image, dtype=np.float32) / 127.5 - 1.0
        return pixels.transpose(2, 0, 1)[None]

    def predict(self, image: Image.Image) -> tuple[str, float]:
        """The most likely breed and its probability."""
        (logits,) = self.session.run(None, {"image": self.preprocess(image)})
        probs = np.exp(logits[0] - logits[0].max())
        probs /= probs.sum()
        best = int(probs.argmax())
        return BREEDS[best], float(probs[best])
