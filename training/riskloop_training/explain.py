"""What the model card and the scorer need to explain a model: feature importances and the trees.

Importances (card `featureImportance`), per feature:
  - gain: total loss reduction of the splits on the feature (LightGBM importance_type="gain"), and
    its share of the total;
  - mean |SHAP|: mean absolute TreeSHAP contribution (LightGBM predict(pred_contrib=True)) in
    calibrated log-odds, over up to SHAP_ROWS test rows drawn with the seed.

Trees document (ONNX metadata `riskloop_trees`, and a copy in `<version>.trees.json`): the ensemble in a flat layout the TypeScript
scorer walks to attribute each decision's score to features (processors/contributions.ts), with
Platt calibration already applied (values times a; b in baseValue), so that
baseValue + sum of tree outputs = the calibrated log-odds the ONNX graph turns into a probability.
Per tree, per node: split feature index (-1 for a leaf), threshold (go left when value <=
threshold), default_left and missing type for missing values (LightGBM's rules), children, and
the node's value: for a leaf its output, for an internal node the mean output of the training rows
that reached it (count-weighted mean of its leaves). A path-based (Saabas) contribution of a split
is child value - node value; along a path they telescope, so base + contributions = raw score.
"""

from __future__ import annotations

import json

import lightgbm as lgb
import numpy as np

SHAP_ROWS = 2000
TREES_FORMAT = "riskloop-trees-1"
# ONNX metadata_props key holding the same document (processors/modelRegistry.ts reads it there first).
TREES_METADATA_KEY = "riskloop_trees"


def importances(booster: lgb.Booster, features: list[str], x: np.ndarray, platt_a: float, seed: int) -> list[dict]:
    gain = booster.feature_importance(importance_type="gain")
    splits = booster.feature_importance(importance_type="split")
    rows = x if len(x) <= SHAP_ROWS else x[np.sort(np.random.default_rng(seed).choice(len(x), SHAP_ROWS, replace=False))]
    contributions = booster.predict(rows, pred_contrib=True)[:, : len(features)] * platt_a
    mean_abs = np.abs(contributions).mean(axis=0)
    total = float(gain.sum()) or 1.0
    out = [
        {"feature": name, "gain": float(gain[i]), "gainShare": float(gain[i]) / total, "splits": int(splits[i]), "meanAbsShap": float(mean_abs[i])}
        for i, name in enumerate(features)
    ]
    return sorted(out, key=lambda r: (-r["meanAbsShap"], -r["gain"], r["feature"]))


def _flatten(root: dict) -> dict[str, list]:
    nodes: dict[str, list] = {"feature": [], "threshold": [], "defaultLeft": [], "missing": [], "left": [], "right": [], "value": [], "count": []}

    def add(node: dict) -> tuple[int, float, int]:
        index = len(nodes["feature"])
        for key in nodes:
            nodes[key].append(None)
        if "leaf_index" in node or "split_index" not in node:
            value, count = float(node.get("leaf_value", 0.0)), int(node.get("leaf_count", 0))
            nodes["feature"][index], nodes["threshold"][index] = -1, 0.0
            nodes["defaultLeft"][index], nodes["missing"][index] = False, "None"
            nodes["left"][index] = nodes["right"][index] = -1
        else:
            if node.get("decision_type") != "<=":
                raise ValueError(f"unsupported split decision_type {node.get('decision_type')!r} (categorical features are not used)")
            left, left_value, left_count = add(node["left_child"])
            right, right_value, right_count = add(node["right_child"])
            count = left_count + right_count
            value = (left_value * left_count + right_value * right_count) / count if count else (left_value + right_value) / 2
            nodes["feature"][index] = int(node["split_feature"])
            nodes["threshold"][index] = float(node["threshold"])
            nodes["defaultLeft"][index] = bool(node["default_left"])
            nodes["missing"][index] = str(node["missing_type"])
            nodes["left"][index], nodes["right"][index] = left, right
        nodes["value"][index], nodes["count"][index] = value, count
        return index, value, count

    add(root)
    return nodes


def trees_document(booster: lgb.Booster, version: str, features: list[str], platt_a: float, platt_b: float) -> dict:
    dump = booster.dump_model()
    trees = []
    base = platt_b
    for info in dump["tree_info"]:
        nodes = _flatten(info["tree_structure"])
        nodes["value"] = [v * platt_a for v in nodes["value"]]
        base += nodes["value"][0]
        trees.append(nodes)
    return {
        "format": TREES_FORMAT,
        "modelVersion": version,
        "featureNames": features,
        "output": "sigmoid(baseValue + sum of per-tree contributions) = fraud probability",
        "calibration": {"method": "platt", "a": platt_a, "b": platt_b},
        "baseValue": base,
        "trees": trees,
    }


def trees_json(document: dict) -> str:
    return json.dumps(document, separators=(",", ":")) + "\n"
