"""Input drift: do the images a server receives look like the ones the model was trained on?

Features (``FEATURES``), computed on the image as the classifier sees it (decoded, resized and
centre-cropped to the model's size, RGB in [0, 1]): the mean and standard deviation of each
channel, and the mean gradient magnitude (a sharpness measure). They are cheap (one pass over
a 32x32 image), need no model, and move under the usual causes of drift: another camera,
exposure or white balance (means), contrast (stds), blur or resolution (gradient).

:func:`compare` tests each feature of a recent window against the training data's reference
sample with a two-sample Kolmogorov-Smirnov test and the Population Stability Index (10 bins
at the reference's deciles). A feature drifts when both say so: PSI above ``PSI_SHIFT`` (0.2,
the usual "significant shift" line; 0.1-0.2 is moderate) and a KS p-value below ``ALPHA``
(0.01) divided by the number of features (Bonferroni). Fewer than ``MIN_SAMPLES`` recent inputs
decide nothing: drift is false with the reason "insufficient".

What a retrain does about it (:func:`fit_exposure`): when drift is found, the report also holds
the per-channel affine map ``x -> scale * x + offset`` (pixels in [0, 1]) that carries the
reference's channel means and standard deviations onto the recent window's. A retrain applies
it to a share of its training images (``models.train`` ``exposure``), and the gates measure
accuracy on the test split mapped the same way, so the new version is trained and judged on
the inputs the server receives. It models exposure, white-balance and contrast drift; drift in
sharpness alone (the gradient feature) has no such map, and the report says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

FEATURES: tuple[str, ...] = ("mean_r", "mean_g", "mean_b", "std_r", "std_g", "std_b", "gradient")
PSI_SHIFT = 0.2
ALPHA = 0.01
MIN_SAMPLES = 100
BINS = 10
EPSILON = 1e-4  # share given to an empty bin, so PSI stays finite


def image_features(pixels: np.ndarray) -> np.ndarray:
    """(S, S, 3) uint8 -> the FEATURES vector (float64)."""
    x = pixels.astype(np.float64) / 255.0
    gray = x.mean(axis=2)
    gradient = np.hypot(np.diff(gray, axis=0)[:, :-1], np.diff(gray, axis=1)[:-1, :]).mean()
    return np.concatenate([x.mean(axis=(0, 1)), x.std(axis=(0, 1)), [gradient]])


def dataset_profile(
    data_root: str | Path,
    size: int,
    split: str = "trainval",
    limit: int = 500,
    exposure: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The reference sample: FEATURES of up to ``limit`` images of a split (evenly spaced);
    with ``exposure`` (a drift retrain's map), of those images under it: the inputs a model
    retrained for drift was made for."""
    from models.pets import expose, load_image, read_annotations

    records = read_annotations(data_root, split)  # type: ignore[arg-type]
    step = max(1, len(records) // limit)
    rows = []
    for record in records[::step][:limit]:
        pixels = load_image(record.path, size)
        if exposure is not None:
            pixels = expose(pixels, exposure["scale"], exposure["offset"])
        rows.append(image_features(pixels).tolist())
    return {"features": list(FEATURES), "rows": rows, "split": split, "size": size,
            "exposure": exposure}  # fmt: skip


def psi(reference: np.ndarray, recent: np.ndarray, bins: int = BINS) -> float:
    """Population Stability Index of one feature: sum (q - p) ln(q / p) over the reference's
    quantile bins, p the reference's share of a bin and q the recent window's."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:  # a constant reference: all in one bin, or not
        same = np.isclose(recent, reference[0]).mean()
        p, q = np.array([1.0, EPSILON]), np.array([max(same, EPSILON), max(1 - same, EPSILON)])
        return float(np.sum((q - p) * np.log(q / p)))
    inner = edges[1:-1]
    p = np.bincount(np.searchsorted(inner, reference, side="right"), minlength=len(edges) - 1)
    q = np.bincount(np.searchsorted(inner, recent, side="right"), minlength=len(edges) - 1)
    p = np.maximum(p / p.sum(), EPSILON)
    q = np.maximum(q / q.sum(), EPSILON)
    return float(np.sum((q - p) * np.log(q / p)))


def compare(reference_rows: list[list[float]], recent_rows: list[list[float]]) -> dict[str, Any]:
    """KS and PSI per feature, and the verdict (see the module docstring for the thresholds)."""
    ref, new = np.asarray(reference_rows, np.float64), np.asarray(recent_rows, np.float64)
    report: dict[str, Any] = {
        "samples": len(new),
        "reference_samples": len(ref),
        "thresholds": {"psi": PSI_SHIFT, "ks_alpha": ALPHA, "min_samples": MIN_SAMPLES},
        "features": {},
    }
    if len(new) < MIN_SAMPLES or len(ref) < MIN_SAMPLES:
        return {**report, "drift": False, "reason": "insufficient", "drifted": []}
    # here, not at the top: scipy.stats takes 0.4 s to import, and most rounds of the drift
    # sensor (after every step) end above with too few inputs to judge
    from scipy.stats import ks_2samp

    alpha = ALPHA / len(FEATURES)
    drifted = []
    for i, name in enumerate(FEATURES):
        ks = ks_2samp(ref[:, i], new[:, i])
        value = psi(ref[:, i], new[:, i])
        shifted = value > PSI_SHIFT and ks.pvalue < alpha
        report["features"][name] = {
            "ks_statistic": round(float(ks.statistic), 4),
            "ks_p_value": float(ks.pvalue),
            "psi": round(value, 4),
            "reference_mean": round(float(ref[:, i].mean()), 4),
            "recent_mean": round(float(new[:, i].mean()), 4),
            "drift": bool(shifted),
        }
        if shifted:
            drifted.append(name)
    reason = f"drift in {', '.join(drifted)}" if drifted else "no feature drifted"
    report = {**report, "drift": bool(drifted), "reason": reason, "drifted": drifted}
    if any(name != "gradient" for name in drifted):
        report["exposure"] = fit_exposure(ref, new)
    return report


MEANS, STDS = slice(0, 3), slice(3, 6)  # the columns of FEATURES: channel means, channel stds
SCALE_RANGE = (0.05, 20.0)  # a map outside it is not an exposure change: refuse to fit one


def fit_exposure(reference: np.ndarray, recent: np.ndarray) -> dict[str, list[float]]:
    """The per-channel ``scale`` and ``offset`` (pixels in [0, 1]) that map the reference's
    average channel statistics onto the recent window's: scale from the ratio of mean stds
    (an affine map scales every image's std), offset from the means. For the load generator's
    brightening ``x + s (1 - x)`` it recovers scale 1 - s and offset s."""
    ref_std = np.maximum(reference[:, STDS].mean(axis=0), 1e-6)
    scale = np.clip(recent[:, STDS].mean(axis=0) / ref_std, *SCALE_RANGE)
    offset = recent[:, MEANS].mean(axis=0) - scale * reference[:, MEANS].mean(axis=0)
    return {"scale": [round(float(v), 4) for v in scale],
            "offset": [round(float(v), 4) for v in offset]}  # fmt: skip


def compose(first: dict[str, Any] | None, then: dict[str, Any]) -> dict[str, list[float]]:
    """The map ``then`` after ``first``: a model trained for ``first`` whose inputs drifted by
    ``then`` from there needs the training data mapped by both (clamping aside, exact)."""
    if first is None:
        return {"scale": list(then["scale"]), "offset": list(then["offset"])}
    a1, b1 = np.asarray(first["scale"]), np.asarray(first["offset"])
    a2, b2 = np.asarray(then["scale"]), np.asarray(then["offset"])
    return {"scale": [round(float(v), 4) for v in a2 * a1],
            "offset": [round(float(v), 4) for v in a2 * b1 + b2]}  # fmt: skip
