"""LightGBM to ONNX, in the one layout the scorer (processors/modelRegistry.ts) accepts.

The export carries everything the scorer needs to use the model without being told: metadata_props
`feature_names` (JSON array, the input column order), `model_version`, `missing_values` = "nan"
(LightGBM routes NaN down each split's learned default branch and the ONNX TreeEnsemble keeps that
routing, so the scorer may feed NaN for a feature a context lacks) and `score_output`. The input is
one float32 tensor `features` [N, F]; outputs are `label` [N] and `probabilities` [N, 2] (zipmap off,
column 1 = fraud probability).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Callable

import lightgbm as lgb
import numpy as np
import onnx
import onnxruntime as ort
from onnxmltools.convert import convert_lightgbm
from onnxmltools.convert.common.data_types import FloatTensorType

# The converter picks the matching ai.onnx.ml opset (TreeEnsembleClassifier with NaN routing);
# onnxmltools 1.16 converts for at most opset 15; IR 9 keeps the files loadable by runtimes older
# than the onnxruntime-node 1.30 the loop uses.
TARGET_OPSET = 15
IR_VERSION = 9
INPUT_NAME = "features"
SCORE_OUTPUT = "probabilities"
# Exported and booster scores may differ by float32 rounding inside the tree ensemble, no more.
PARITY_TOLERANCE = 1e-5


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def set_metadata(model: onnx.ModelProto, props: dict[str, str]) -> None:
    del model.metadata_props[:]
    for key, value in props.items():
        entry = model.metadata_props.add()
        entry.key = key
        entry.value = value


def add_metadata(model: onnx.ModelProto, key: str, value: str) -> None:
    entry = model.metadata_props.add()
    entry.key = key
    entry.value = value


def read_metadata(model: onnx.ModelProto) -> dict[str, str]:
    return {entry.key: entry.value for entry in model.metadata_props}


_THRESHOLD = re.compile(r"^threshold=(.*)$", re.MULTILINE)


def _float32_floor(text: str) -> str:
    value = float(text)
    rounded = np.float32(value)
    if float(rounded) > value:
        rounded = np.nextafter(rounded, np.float32(-np.inf))
    return repr(float(rounded))


def float32_thresholds(booster: lgb.Booster) -> lgb.Booster:
    """The same booster with every split threshold t replaced by the largest float32 <= t.

    Why: LightGBM compares `x <= t` in double; the ONNX TreeEnsemble stores t as float32, rounded to
    nearest. A t between two float32 values can round up onto the next one, and a feature value equal to
    it (the scorer's inputs are float32) then goes left in the graph and right in the booster: handbook
    seed 5's export had card.mean_24h = 14457.6669921875 against t = 14457.666503906252, float32
    14457.6669921875, and the parity check failed at 3.0e-04. For a float32 x, x <= t exactly when
    x <= floor32(t), so on float32 inputs (every matrix here, and the hot path) the booster scores the
    same and the export is exact. Numeric splits only (the trainer declares no categorical feature)."""
    # tree_sizes (byte lengths of the trees' text, optional) would no longer match the rewritten numbers.
    text = re.sub(r"^tree_sizes=.*\n", "", booster.model_to_string(), flags=re.MULTILINE)
    return lgb.Booster(model_str=_THRESHOLD.sub(lambda m: "threshold=" + " ".join(_float32_floor(v) for v in m.group(1).split()), text))


def lightgbm_to_onnx(booster: lgb.Booster, version: str, features: list[str], feature_set_version: str | None = None) -> onnx.ModelProto:
    """The checked ONNX graph of a binary LightGBM booster, with the scorer's metadata."""
    model = convert_lightgbm(
        booster,
        name=version,
        initial_types=[(INPUT_NAME, FloatTensorType([None, len(features)]))],
        target_opset=TARGET_OPSET,
        zipmap=False,
    )
    model.ir_version = IR_VERSION
    # The converter collects opset imports in a set, so their order follows Python's string hash
    # seed and the same model would serialise to different bytes from run to run.
    opsets = sorted((entry.domain, entry.version) for entry in model.opset_import)
    del model.opset_import[:]
    for domain, opset_version in opsets:
        model.opset_import.add(domain=domain, version=opset_version)
    set_metadata(model, {
        "feature_names": json.dumps(features),
        "model_version": version,
        "missing_values": "nan",
        "score_output": SCORE_OUTPUT,
        # The feature set the examples came from (TrainingExample.featureSetVersion), so that a refusal
        # at release can name it; absent for data from before feature sets were versioned.
        **({"feature_set_version": feature_set_version} if feature_set_version else {}),
    })
    onnx.checker.check_model(model)
    return model


def bake_platt(model: onnx.ModelProto, a: float, b: float) -> onnx.ModelProto:
    """The same graph computing sigmoid(a * raw + b) instead of sigmoid(raw): every leaf weight times
    a, and b added to the leaves of the first tree (exactly one of which every row reaches). The
    scorer loads it as any other export; the calibrated probability is what comes out."""
    if a == 1.0 and b == 0.0:
        return model
    nodes = [n for n in model.graph.node if n.op_type == "TreeEnsembleClassifier"]
    if len(nodes) != 1:
        raise ValueError(f"expected one TreeEnsembleClassifier, found {len(nodes)}")
    attributes = {attribute.name: attribute for attribute in nodes[0].attribute}
    if attributes["post_transform"].s != b"LOGISTIC" or "base_values" in attributes:
        raise ValueError("calibration expects a LOGISTIC tree ensemble without base_values")
    weights, trees = attributes["class_weights"], list(attributes["class_treeids"].ints)
    first = min(trees)
    calibrated = [a * w + (b if t == first else 0.0) for w, t in zip(weights.floats, trees)]
    del weights.floats[:]
    weights.floats.extend(calibrated)
    onnx.checker.check_model(model)
    return model


def open_session(model: Path | bytes) -> ort.InferenceSession:
    """A CPU session on a model file or its serialised bytes."""
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, providers=["CPUExecutionProvider"])


def onnx_scores(session: ort.InferenceSession, x: np.ndarray) -> np.ndarray:
    """Fraud probabilities of float32 rows, as the exported graph (and so the hot path) computes them."""
    return session.run([SCORE_OUTPUT], {INPUT_NAME: x.astype(np.float32, copy=False)})[0][:, 1]


def parity(session: ort.InferenceSession, predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray, seed: int) -> float:
    """Largest |ONNX - booster| over `x` and over `x` with 30% of its cells blanked to NaN.

    The scorer feeds NaN for any feature a context lacks, including ones never missing in training,
    so the NaN routing of the export is checked on rows where it matters, not only on `x` as is.
    """
    blanked = x.copy()
    blanked[np.random.default_rng(seed).random(blanked.shape) < 0.3] = np.nan
    return float(max(
        np.max(np.abs(onnx_scores(session, x) - predict(x))),
        np.max(np.abs(onnx_scores(session, blanked) - predict(blanked))),
    ))
