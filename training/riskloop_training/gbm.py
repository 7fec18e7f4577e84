"""The candidate's recipe: LightGBM with early stopping, a small seeded hyper-parameter search, and
Platt calibration — the same recipe in every prequential fold and for the released model.

Search: `budget` configurations drawn without replacement, with a numpy generator seeded by --seed,
from a small grid (leaves, min_child_samples, learning rate, feature_fraction, class weighting);
the first is always the previous fixed default (31 leaves, 50 per leaf, 0.05, all features,
unweighted). Each configuration is trained on every fold's fit period, early-stopped on the log
loss (weighted as in training) of the fold's inner validation slice (up to MAX_TREES trees, stopping after
STOPPING_ROUNDS without improvement), and the configuration with the best mean validation average
precision over the folds wins (ties: the earlier drawn). The test weeks take no part in the choice.

Class imbalance: either unweighted, or positives weighted by sqrt(negatives / positives) of the
fit period (`scale_pos_weight`), chosen by the search like any other parameter. Weighting
distorts the raw probabilities; Platt calibration undoes that.

Calibration: Platt scaling on the raw score (log-odds) of the inner validation slice —
p = sigmoid(a * raw + b), a logistic regression with one input. It is monotone, so AUC, average
precision and precision@k are unchanged; it makes a threshold a probability. It is baked into the
exported trees (leaf values times a, b added to the first tree's leaves), so the ONNX graph the
scorer loads computes the calibrated probability itself.

Determinism: deterministic = true, force_row_wise, fixed seeds, single thread by default.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score

from .baseline import fit_baseline
from .blend import average
from .hybrid import LinearStage, merge

MAX_TREES = 600
STOPPING_ROUNDS = 40
# A seed bag's members: each sees 80% of the rows (re-drawn every iteration) and at most 80% of the
# features per tree, with its own seed, so that they differ; their mean is the model (fit_bagged).
BAG_PARAMS = {"bagging_fraction": 0.8, "bagging_freq": 1}
BAG_FEATURE_FRACTION = 0.8

# Features whose value can only raise the fraud score (monotone_params): the amount over the entity's own mean or
# maximum, and the amount's z-score. Why: an early-stopped booster on a few hundred frauds learns wiggles in them
# (a ratio of 4 riskier than 3 but safer than 5); the constraint keeps the shape a fraud team would expect and, on
# the demo exports of docs/training.md (Results, "Refit and monotone amount ratios"), it steadied the refitted bag.
MONOTONE_MARKERS = ("amount_to_", "zscore")
MONOTONE_METHOD = "intermediate"

GRID = {
    "num_leaves": [15, 31, 63],
    "min_child_samples": [20, 50, 100],
    "learning_rate": [0.03, 0.05, 0.1],
    "feature_fraction": [0.7, 1.0],
    "class_weight": ["none", "sqrt"],
}
DEFAULT_CONFIG = {"num_leaves": 31, "min_child_samples": 50, "learning_rate": 0.05, "feature_fraction": 1.0, "class_weight": "none"}

IMBALANCE_NOTE = ("class imbalance: the search chooses between no weighting and positives weighted by sqrt(negatives/positives) "
                  "of the fit period (scale_pos_weight); either way the scores are Platt-calibrated afterwards, so they are probabilities")


def search_space(seed: int, budget: int, default: dict | None = None) -> list[dict]:
    """`budget` distinct configurations, the default first, the rest drawn from GRID with `seed`."""
    keys = list(GRID)
    grid = [dict(zip(keys, values)) for values in itertools.product(*(GRID[k] for k in keys))]
    rng = np.random.default_rng(seed)
    configs = [dict(default or DEFAULT_CONFIG)]
    for index in rng.permutation(len(grid)):
        if len(configs) >= budget:  # checked first: a budget of 1 is the default configuration alone
            break
        config = grid[int(index)]
        if config not in configs:
            configs.append(config)
    return configs


@dataclass
class Fitted:
    booster: lgb.Booster  # truncated to the best iteration; with a linear stage, its trees first
    trees: int  # boosted trees (after early stopping)
    valid_ap: float
    scale_pos_weight: float
    linear_trees: int = 0  # trees of the linear stage (hybrid.py) the boosting started from
    member_trees: list[int] | None = None  # a seed bag's boosted trees per member (fit_bagged); `trees` is their sum


def linear_stage(x: np.ndarray, y: np.ndarray) -> LinearStage:
    """The first stage of the hybrid: the baseline's regression fitted on `x`, binned into trees."""
    return LinearStage(fit_baseline(x, y), x)


def monotone_params(features: list[str]) -> dict:
    """LightGBM parameters constraining the MONOTONE_MARKERS features to an increasing effect ({} when there are none)."""
    constraints = [1 if any(m in f for m in MONOTONE_MARKERS) else 0 for f in features]
    return {"monotone_constraints": constraints, "monotone_constraints_method": MONOTONE_METHOD} if any(constraints) else {}


def lgb_params(config: dict, scale_pos_weight: float, seed: int, threads: int) -> dict:
    return {
        "objective": "binary",
        # Early stopping watches the log loss (smooth; average precision on a few hundred frauds is
        # too noisy to stop on); the search compares average precision.
        "metric": "binary_logloss",
        "num_leaves": config["num_leaves"],
        "min_data_in_leaf": config["min_child_samples"],
        "learning_rate": config["learning_rate"],
        "feature_fraction": config["feature_fraction"],
        "scale_pos_weight": scale_pos_weight,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": threads,
        "verbose": -1,
    }


def positive_weight(config: dict, y: np.ndarray) -> float:
    positives = int(y.sum())
    return math.sqrt((len(y) - positives) / positives) if config["class_weight"] == "sqrt" and positives else 1.0


def fit(config: dict, x_fit: np.ndarray, y_fit: np.ndarray, x_valid: np.ndarray, y_valid: np.ndarray, seed: int, threads: int,
        max_trees: int = MAX_TREES, stage: LinearStage | None = None, extra: dict | None = None) -> Fitted:
    """Early-stopped LightGBM; with `stage` (fitted on x_fit), boosted from the stage's log-odds and
    returned as one booster holding the stage's trees and then the boosted ones."""
    stage = stage if stage is not None and len(stage) else None  # no weighted feature: plain boosting
    weight = positive_weight(config, y_fit)
    params = {**lgb_params(config, weight, seed, threads), **(extra or {})}
    init_fit, init_valid = (stage.predict(x_fit), stage.predict(x_valid)) if stage else (None, None)
    train_set = lgb.Dataset(x_fit, y_fit, init_score=init_fit, params={"verbose": -1}, free_raw_data=False)
    # The validation loss is weighted like the training loss, so that it measures what is optimised.
    valid_set = lgb.Dataset(x_valid, y_valid, init_score=init_valid, weight=np.where(y_valid == 1, weight, 1.0), reference=train_set, free_raw_data=False)
    booster = lgb.train(params, train_set, num_boost_round=max_trees, valid_sets=[valid_set],
                        callbacks=[lgb.early_stopping(STOPPING_ROUNDS, first_metric_only=True, verbose=False)])
    best = booster.best_iteration or booster.current_iteration()
    # Only the trees up to the best iteration: what is exported and scored is exactly that model.
    truncated = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
    model = merge(stage, truncated) if stage else truncated
    valid_ap = float(average_precision_score(y_valid, model.predict(x_valid, raw_score=True)))
    return Fitted(model, best, valid_ap, weight, len(stage) if stage else 0)


def bag_params(config: dict) -> dict:
    return {**BAG_PARAMS, "feature_fraction": min(config["feature_fraction"], BAG_FEATURE_FRACTION)}


def fit_bagged(config: dict, x_fit: np.ndarray, y_fit: np.ndarray, x_valid: np.ndarray, y_valid: np.ndarray, seed: int, threads: int,
               max_trees: int, members: int, extra: dict | None = None) -> Fitted:
    """A seed bag: `members` boosters of `config` with row and feature subsampling (BAG_PARAMS) and seeds
    seed, seed + 1, ..., each early-stopped on the validation slice, averaged in raw score into one
    booster (every leaf times 1/members). On few frauds a single early-stopped booster is a noisy
    draw (a handful of trees in one week, a hundred the next); the mean of several is steadier.
    members = 1 is `fit` unchanged. `extra`: more LightGBM parameters for every member (monotone_params)."""
    if members <= 1:
        return fit(config, x_fit, y_fit, x_valid, y_valid, seed, threads, max_trees, None, extra)
    fitted = [fit(config, x_fit, y_fit, x_valid, y_valid, seed + i, threads, max_trees, None, {**bag_params(config), **(extra or {})})
              for i in range(members)]
    model = average([f.booster for f in fitted])
    valid_ap = float(average_precision_score(y_valid, model.predict(x_valid, raw_score=True)))
    return Fitted(model, sum(f.trees for f in fitted), valid_ap, fitted[0].scale_pos_weight, 0, [f.trees for f in fitted])


def refit_trees(fitted: Fitted, scale: float) -> list[int]:
    """Trees per member (one entry for a single booster) of a refit: the early-stopped counts times `scale`, at least 1."""
    return [max(1, int(round(t * scale))) for t in (fitted.member_trees or [fitted.trees])]


def refit(config: dict, fitted: Fitted, x: np.ndarray, y: np.ndarray, seed: int, threads: int, scale: float = 1.0,
          extra: dict | None = None) -> lgb.Booster:
    """`fitted` (a plain booster or a seed bag, early-stopped on a validation slice) trained again on `x`/`y` —
    the fit rows plus that validation slice — with the same configuration, seeds and subsampling and each
    member's early-stopped tree count times `scale`. Why: the logistic-regression baseline is fitted on fit +
    validation rows, the early-stopped trees only on the fit rows, a week behind it; every choice (configuration,
    tree counts) stays made on the slice before it is added. Not for the hybrid (its stage would need refitting)."""
    if fitted.linear_trees:
        raise ValueError("refit does not apply to the hybrid (--init lr)")
    counts = refit_trees(fitted, scale)
    if fitted.member_trees:
        params = [{**lgb_params(config, positive_weight(config, y), seed + i, threads), **bag_params(config), **(extra or {})} for i in range(len(counts))]
    else:
        params = [{**lgb_params(config, positive_weight(config, y), seed, threads), **(extra or {})}]
    boosters = [lgb.train(p, lgb.Dataset(x, y, params={"verbose": -1}), num_boost_round=n) for p, n in zip(params, counts)]
    return average(boosters)


def fit_fixed(config: dict, x: np.ndarray, y: np.ndarray, trees: int, seed: int, threads: int, stage: LinearStage | None = None,
              members: int = 1, extra: dict | None = None) -> lgb.Booster:
    """The configuration with a fixed number of trees (per member of a seed bag), when there is no slice to early-stop on."""
    stage = stage if stage is not None and len(stage) else None
    if members > 1:
        params = [{**lgb_params(config, positive_weight(config, y), seed + i, threads), **bag_params(config), **(extra or {})} for i in range(members)]
        return average([lgb.train(p, lgb.Dataset(x, y, params={"verbose": -1}), num_boost_round=trees) for p in params])
    params = {**lgb_params(config, positive_weight(config, y), seed, threads), **(extra or {})}
    booster = lgb.train(params, lgb.Dataset(x, y, init_score=stage.predict(x) if stage else None, params={"verbose": -1}), num_boost_round=trees)
    return merge(stage, booster) if stage else booster


def raw_scores(booster: lgb.Booster, x: np.ndarray) -> np.ndarray:
    return booster.predict(x, raw_score=True)


def sigmoid(z: np.ndarray) -> np.ndarray:
    # scipy's expit: no overflow warning for very negative raw scores (a degenerate model's leaves).
    return expit(z)


@dataclass(frozen=True)
class Platt:
    a: float
    b: float
    note: str | None = None

    def apply(self, raw: np.ndarray) -> np.ndarray:
        return sigmoid(self.a * raw + self.b)


def fit_platt(raw: np.ndarray, labels: np.ndarray) -> Platt:
    """p = sigmoid(a * raw + b) fitted by (practically unpenalised) logistic regression on one input."""
    if not 0 < int(labels.sum()) < len(labels):
        return Platt(1.0, 0.0, "calibration slice lacks a class: scores left uncalibrated")
    regression = LogisticRegression(C=1e6, max_iter=1000).fit(raw.reshape(-1, 1), labels)
    a, b = float(regression.coef_[0, 0]), float(regression.intercept_[0])
    if not a > 0:
        # A non-increasing map would invert the ranking the trees learned; keep the raw scores.
        return Platt(1.0, 0.0, f"Platt slope {a:.3g} is not positive: scores left uncalibrated")
    return Platt(a, b)


RELIABILITY_EDGES = [0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]


def brier(labels: np.ndarray, probabilities: np.ndarray) -> float:
    return float(np.mean((probabilities - labels) ** 2))


def reliability(labels: np.ndarray, probabilities: np.ndarray) -> list[dict]:
    """Per probability bin: rows, mean predicted probability, observed fraud rate."""
    out = []
    for low, high in zip(RELIABILITY_EDGES[:-1], RELIABILITY_EDGES[1:]):
        mask = (probabilities >= low) & ((probabilities < high) if high < 1.0 else (probabilities <= high))
        rows = int(mask.sum())
        out.append({
            "from": low,
            "to": high,
            "rows": rows,
            "meanPredicted": float(probabilities[mask].mean()) if rows else None,
            "observedRate": float(labels[mask].mean()) if rows else None,
        })
    return out
