"""The Modal app declares every function with a GPU, a timeout and the data volume."""

from cats.modal_app import FUNCTIONS, SPECS, app


def test_every_function_has_a_gpu_and_a_timeout() -> None:
    assert app.name == "goap-cats"
    assert set(FUNCTIONS) == set(SPECS) == {"train_classifier", "train_dit", "sample"}
    for name, spec in SPECS.items():
        assert spec["gpu"], name
        assert spec["timeout"] >= 600, name
