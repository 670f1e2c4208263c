"""BreedClassifier on a tiny hand-made graph: mean colour -> class (red 0, green 1, blue 2)."""

from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper, save
from PIL import Image

from cats.inference import BREEDS, BreedClassifier


def colour_model(path: Path, size: int = 8) -> Path:
    weights = np.zeros((3, len(BREEDS)), np.float32)
    weights[0, 0] = weights[1, 1] = weights[2, 2] = 10.0
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["image"], ["mean"], axes=[2, 3], keepdims=0),
            helper.make_node("Gemm", ["mean", "w", "b"], ["logits"]),
        ],
        "colour",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", len(BREEDS)])],
        [
            numpy_helper.from_array(weights, "w"),
            numpy_helper.from_array(np.zeros(len(BREEDS), np.float32), "b"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    save(model, str(path))
    return path


def test_predicts_the_dominant_colour_class(tmp_path: Path) -> None:
    classifier = BreedClassifier(colour_model(tmp_path / "colour.onnx"))
    assert classifier.size == 8
    blue = Image.new("RGB", (30, 20), (0, 0, 255))
    breed, probability = classifier.predict(blue)
    assert breed == BREEDS[2] and probability > 0.9


def test_preprocess_crops_to_a_square_in_range(tmp_path: Path) -> None:
    classifier = BreedClassifier(colour_model(tmp_path / "colour.onnx"))
    pixels = classifier.preprocess(Image.new("RGB", (40, 10), (255, 0, 0)))
    assert pixels.shape == (1, 3, 8, 8)
    assert pixels.min() >= -1.0 and pixels.max() <= 1.0
