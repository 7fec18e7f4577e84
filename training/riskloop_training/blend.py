"""The candidate as a blend: boosted trees and the logistic regression, mixed in log-odds.

Why: on the demo exports (docs/training.md, Results) the boosted trees alone and the regression on
the same features lose different weeks — the trees the weeks with few frauds, where early stopping
keeps a handful of trees, the regression the weeks where interactions matter. A weighted sum of
their log-odds,

    raw = w * trees(x) + (1 - w) * regression(x),

usually beats both members when their errors differ. Both members are fitted on the fit rows of a
slice; `w` is chosen from BLEND_WEIGHTS by average precision on the slice's validation rows (which
neither member has seen: the trees only early-stopped on them), so the test weeks choose nothing.

It stays one model: the regression is already written as trees (hybrid.py: one per-feature tree per
weighted feature, the intercept in the first one's leaves), so scaling every leaf (and internal
value) of the regression's trees by 1 - w and of the boosted trees by w gives one LightGBM booster
whose raw score is the blend: one ONNX TreeEnsemble, the same Platt baking, trees document, TreeSHAP
and per-decision contributions, which stay additive (each tree's contribution is scaled with it).
"""

from __future__ import annotations

import re

import lightgbm as lgb
import numpy as np
from sklearn.metrics import average_precision_score

from .hybrid import LinearStage

# Weight of the boosted trees; 1.0 is the trees alone, 0.0 the regression alone.
BLEND_WEIGHTS = [round(0.1 * k, 1) for k in range(11)]
_SCALED = re.compile(r"^(leaf_value|internal_value)=(.*)$", re.MULTILINE)


def choose_weight(y_valid: np.ndarray, trees_valid: np.ndarray, linear_valid: np.ndarray) -> tuple[float, dict[str, float]]:
    """(w with the best validation average precision, that AP per w). Ties go to the larger w (more of
    the trees): on a slice where the regression adds nothing, the trees alone."""
    by_weight = {w: float(average_precision_score(y_valid, w * trees_valid + (1.0 - w) * linear_valid)) for w in BLEND_WEIGHTS}
    best = max(BLEND_WEIGHTS, key=lambda w: (by_weight[w], w))
    return best, {f"{w:.1f}": v for w, v in by_weight.items()}


def _scale_tree(block: str, factor: float) -> str:
    return _SCALED.sub(lambda m: f"{m.group(1)}=" + " ".join(repr(float(v) * factor) for v in m.group(2).split()), block)


def tree_blocks(booster: lgb.Booster) -> list[str]:
    """The booster's trees in LightGBM's text format, one block each."""
    _, rest = booster.model_to_string().split("\nTree=0\n", 1)
    trees, _ = rest.split("end of trees", 1)
    return [block.strip("\n") for block in ("Tree=0\n" + trees).split("\n\n\n") if block.strip()]


def weighted_sum(template: lgb.Booster, parts: list[tuple[list[str], float]]) -> lgb.Booster:
    """One booster whose raw score is the sum of factor * (the raw score of the trees `blocks`) over
    `parts` (tree blocks, factor): every leaf and internal value scaled, the trees concatenated in
    order. The header (features, objective) is `template`'s; a part with factor 0 is left out."""
    text = template.model_to_string()
    head, rest = text.split("\nTree=0\n", 1)
    _, tail = rest.split("end of trees", 1)
    head = re.sub(r"^tree_sizes=.*\n", "", head + "\n", flags=re.MULTILINE)
    blocks = [block if factor == 1.0 else _scale_tree(block, factor) for trees, factor in parts if factor != 0.0 for block in trees]
    if not blocks:
        raise ValueError("no tree to combine")
    renumbered = [re.sub(r"^Tree=\d+", f"Tree={k}", block.strip("\n"), count=1) + "\n\n\n" for k, block in enumerate(blocks)]
    return lgb.Booster(model_str=head + "\n" + "".join(renumbered) + "end of trees" + tail)


def average(boosters: list[lgb.Booster]) -> lgb.Booster:
    """One booster scoring the mean raw score of `boosters` (a seed bag): each one's leaves times 1/k."""
    if len(boosters) == 1:
        return boosters[0]
    return weighted_sum(boosters[0], [(tree_blocks(b), 1.0 / len(boosters)) for b in boosters])


def blend(stage: LinearStage, booster: lgb.Booster, weight: float) -> lgb.Booster:
    """One booster computing weight * booster + (1 - weight) * stage in raw score (log-odds): the
    regression's trees (leaves times 1 - weight), then the boosted trees (leaves times weight). A
    member with weight 0 is left out; weight 1 returns `booster` unchanged."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"blend weight {weight} is outside [0, 1]")
    if weight == 1.0:
        return booster
    if not len(stage):
        raise ValueError("the regression weights no feature: nothing to blend with")
    return weighted_sum(booster, [(stage.texts(), 1.0 - weight), (tree_blocks(booster), weight)])
