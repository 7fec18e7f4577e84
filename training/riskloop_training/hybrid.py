"""The candidate's first stage: the logistic regression, written as trees, that the boosting starts from.

Why: on a few hundred frauds per training period the boosted trees alone early-stop after a handful of
trees and lose weeks to a plain logistic regression on the same features (docs/training.md,
"Results"), while the regression misses the interactions the trees find. So the candidate is a
hybrid: LightGBM boosts from the regression's log-odds (its `init_score`) and the trees learn only
what the regression gets wrong; early stopping on the validation slice decides how many.

To keep one model format — a LightGBM tree ensemble, exported to one ONNX TreeEnsemble, explained by
the same per-decision path contributions and TreeSHAP — the regression itself is turned into trees:
one single-feature tree per feature with a non-zero coefficient. A regression on standardised,
median-imputed features with missing indicators (the baseline's pipeline, baseline.py) is a sum of
per-feature terms,

    logit = intercept + sum_j term_j(x_j),
    term_j(v) = c_j (v - mu_j) / sd_j  (+ the indicator's term: its "absent" value when v is missing),

and each term is a function of one feature: its tree has a leaf per bin of the feature's training
values (every distinct value when there are at most LINEAR_BINS, else LINEAR_BINS quantile bins,
valued at the mean of the training values in the bin) and one leaf for a missing value (the
imputed median plus the indicator). So the first stage is the regression binned on its own training
data — a step function that equals it on the training values and saturates beyond their range; the
boosting is fitted on top of exactly that binned version (its init_score), so booster, ONNX graph and
contributions all describe the same model. The intercept sits in the first tree's leaves. A
feature's contribution (Saabas or SHAP) then includes its regression term, which is what a reviewer
expects: the regression's own attribution is c_j (x_j - mu_j) / sd_j.

Thresholds are float32 training values (exact in the ONNX graph's float32 compare and LightGBM's
double compare alike); missing values take the tree's NaN branch (LightGBM missing_type NaN), whether
or not the feature was missing in training.
"""

from __future__ import annotations

import re

import lightgbm as lgb
import numpy as np
from sklearn.pipeline import Pipeline

# Leaves per feature tree for finite values (a feature with fewer distinct training values gets one
# leaf per value, exactly the regression there).
LINEAR_BINS = 64
# float32's largest finite value: every finite float32 is <= it, NaN is not, so a root split on it
# sends exactly the missing values right, in LightGBM and in the ONNX graph alike.
FLOAT32_MAX = float(np.finfo(np.float32).max)
# decision_type bits (LightGBM tree.h): 1 categorical, 2 default_left, (missing type << 2) with NaN = 2.
NAN_RIGHT = 2 << 2
NAN_LEFT = (2 << 2) | 2


def regression_terms(pipeline: Pipeline, n_features: int) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(intercept, slope, centre, missing term, present term, imputed median; each per feature)
    of the baseline pipeline's log-odds: term_j(v) = slope_j * (v - centre_j) + present_j for finite v,
    missing_j for a missing v."""
    imputer, scaler, regression = pipeline.named_steps["impute"], pipeline.named_steps["scale"], pipeline.named_steps["regression"]
    coef, mean, scale = regression.coef_[0], scaler.mean_, scaler.scale_
    median = np.asarray(imputer.statistics_, dtype=np.float64)
    slope = coef[:n_features] / scale[:n_features]
    centre = mean[:n_features]
    missing = slope * (median - centre)
    present = np.zeros(n_features)
    indicator = getattr(imputer, "indicator_", None)
    if indicator is not None:
        for k, j in enumerate(indicator.features_):
            c, m, s = coef[n_features + k], mean[n_features + k], scale[n_features + k]
            missing[j] += c * (1.0 - m) / s
            present[j] += c * (0.0 - m) / s
    return float(regression.intercept_[0]), slope, centre, missing, present, median


def _bins(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(thresholds, representative value, count) per bin of the finite float32 training values:
    bin i holds values in (thresholds[i-1], thresholds[i]]; the last bin is unbounded above."""
    distinct, counts = np.unique(values, return_counts=True)
    if len(distinct) <= LINEAR_BINS:
        return distinct[:-1], distinct.astype(np.float64), counts
    # Quantile bins over the distinct values weighted by their counts; each edge is a training value.
    cumulative = np.cumsum(counts)
    cuts = np.unique(np.searchsorted(cumulative, np.arange(1, LINEAR_BINS) * cumulative[-1] / LINEAR_BINS, side="left"))
    cuts = cuts[cuts < len(distinct) - 1]
    thresholds = distinct[cuts]
    which = np.searchsorted(thresholds, distinct, side="left")
    weight = counts.astype(np.float64)
    sums = np.bincount(which, weights=distinct.astype(np.float64) * weight, minlength=len(thresholds) + 1)
    n = np.bincount(which, weights=weight, minlength=len(thresholds) + 1)
    return thresholds, sums / n, n.astype(np.int64)


def _tree_text(index: int, feature: int, thresholds: np.ndarray, leaf_values: np.ndarray, leaf_counts: np.ndarray,
               nan_value: float, nan_count: int, nan_bin: int | None) -> str:
    """One LightGBM text-format tree: a balanced tree over the bins. A feature missing in training gets
    a root that sends NaN right to its own leaf (finite values left, into the bins); one never missing
    in training sends NaN down every split's default branch to the bin of its median (`nan_bin`),
    which is what the regression imputes, so that no leaf is empty (TreeSHAP divides by the counts)."""
    split_feature, threshold, decision, left, right, internal_value, internal_count = [], [], [], [], [], [], []
    own_nan_leaf = nan_bin is None
    leaves = len(leaf_values) + (1 if own_nan_leaf else 0)
    nan_leaf = len(leaf_values)

    def node(lo: int, hi: int) -> tuple[int, float, int]:
        """Child reference (~leaf for a leaf) of bins [lo, hi), its count-weighted mean value and count."""
        if hi - lo == 1:
            return ~lo, float(leaf_values[lo]), int(leaf_counts[lo])
        index_ = len(split_feature)
        for column in (split_feature, threshold, decision, left, right, internal_value, internal_count):
            column.append(None)
        mid = (lo + hi) // 2
        l_ref, l_value, l_count = node(lo, mid)
        r_ref, r_value, r_count = node(mid, hi)
        count = l_count + r_count
        towards_median = NAN_LEFT if nan_bin is not None and nan_bin < mid else NAN_RIGHT
        split_feature[index_], threshold[index_], decision[index_] = feature, float(thresholds[mid - 1]), towards_median
        left[index_], right[index_] = l_ref, r_ref
        internal_value[index_] = (l_value * l_count + r_value * r_count) / count if count else (l_value + r_value) / 2
        internal_count[index_] = count
        return index_, internal_value[index_], count

    if own_nan_leaf:
        # Root: finite values left (<= float32 max), NaN right.
        for column in (split_feature, threshold, decision, left, right, internal_value, internal_count):
            column.append(None)
        finite_ref, finite_value, finite_count = node(0, len(leaf_values))
        total = finite_count + nan_count
        split_feature[0], threshold[0], decision[0] = feature, FLOAT32_MAX, NAN_RIGHT
        left[0], right[0] = finite_ref, ~nan_leaf
        internal_value[0] = (finite_value * finite_count + nan_value * nan_count) / total
        internal_count[0] = total
        values = [*map(float, leaf_values), float(nan_value)]
        counts = [*map(int, leaf_counts), int(nan_count)]
    else:
        node(0, len(leaf_values))
        values, counts = [*map(float, leaf_values)], [*map(int, leaf_counts)]
    join = lambda xs: " ".join(repr(float(x)) if isinstance(x, float) else str(x) for x in xs)  # noqa: E731
    return "\n".join([
        f"Tree={index}",
        f"num_leaves={leaves}",
        "num_cat=0",
        f"split_feature={join(split_feature)}",
        f"split_gain={join([0.0] * len(split_feature))}",
        f"threshold={join(threshold)}",
        f"decision_type={join(decision)}",
        f"left_child={join(left)}",
        f"right_child={join(right)}",
        f"leaf_value={join(values)}",
        f"leaf_weight={join([float(c) for c in counts])}",
        f"leaf_count={join(counts)}",
        f"internal_value={join(internal_value)}",
        f"internal_weight={join([float(c) for c in internal_count])}",
        f"internal_count={join(internal_count)}",
        "is_linear=0",
        "shrinkage=1",
    ]) + "\n\n\n"


class LinearStage:
    """The regression binned into per-feature trees, fitted on float32 rows `x`."""

    def __init__(self, pipeline: Pipeline, x: np.ndarray):
        n_features = x.shape[1]
        intercept, slope, centre, missing, present, median = regression_terms(pipeline, n_features)
        # Per tree: (feature, thresholds, bin values, bin counts, NaN value, NaN count, NaN bin or None).
        self.trees: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, float, int, int | None]] = []
        for j in range(n_features):
            column = x[:, j]
            finite = column[~np.isnan(column)]
            nan_count = int(len(column) - len(finite))
            if slope[j] == 0.0 and missing[j] == present[j]:
                intercept += present[j]  # the regression gives this feature no weight: a constant
                continue
            if not len(finite):
                intercept += missing[j]  # never present in training: the regression saw a constant
                continue
            thresholds, representative, counts = _bins(finite)
            values = slope[j] * (representative - centre[j]) + present[j]
            if nan_count:
                self.trees.append((j, thresholds, values, counts, float(missing[j]), nan_count, None))
            elif len(values) > 1:
                nan_bin = int(np.searchsorted(thresholds, median[j], side="left"))
                self.trees.append((j, thresholds, values, counts, float(values[nan_bin]), 0, nan_bin))
            else:
                intercept += float(values[0])  # one value in training, never missing: a constant
        self.intercept = float(intercept)
        self.features = [t[0] for t in self.trees]

    def texts(self) -> list[str]:
        """The trees in LightGBM's text format, the intercept in the first one's leaves."""
        out = []
        for k, (j, thresholds, values, counts, nan_value, nan_count, nan_bin) in enumerate(self.trees):
            shift = self.intercept if k == 0 else 0.0
            out.append(_tree_text(k, j, thresholds, values + shift, counts, nan_value + shift, nan_count, nan_bin))
        return out

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The binned regression's log-odds (what the trees compute), float64."""
        out = np.full(len(x), self.intercept)
        for j, thresholds, values, _, nan_value, _, _ in self.trees:
            column = x[:, j]
            nan = np.isnan(column)
            bins = np.searchsorted(thresholds, np.where(nan, 0.0, column), side="left")
            out += np.where(nan, nan_value, values[bins])
        return out

    def __len__(self) -> int:
        return len(self.trees)


def merge(stage: LinearStage, booster: lgb.Booster) -> lgb.Booster:
    """One booster: the linear stage's trees, then the boosted trees (trained with the stage as init_score)."""
    text = booster.model_to_string()
    head, rest = text.split("\nTree=0\n", 1)
    trees, tail = rest.split("end of trees", 1)
    head = re.sub(r"^tree_sizes=.*\n", "", head + "\n", flags=re.MULTILINE)
    boosted = [block for block in ("Tree=0\n" + trees).split("\n\n\n") if block.strip()]
    linear = stage.texts()
    if not linear:
        # A regression with no weight on any feature is a constant; the boosted trees carry it.
        raise ValueError("the linear stage has no tree (the regression weights no feature)")
    renumbered = [re.sub(r"^Tree=\d+", f"Tree={len(linear) + k}", block.strip("\n"), count=1) + "\n\n\n" for k, block in enumerate(boosted)]
    return lgb.Booster(model_str=head + "\n" + "".join(linear) + "".join(renumbered) + "end of trees" + tail)
