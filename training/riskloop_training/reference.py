"""What a model card records about the training data for the scorer and the drift monitor.

 - reference values: per feature, the training median (NaN ignored). Occlusion explanations
   replace a feature by it to see how much the score moves.
 - reference distributions: quantile histograms of each feature and of the score, against which
   live traffic is compared (PSI).
"""

from __future__ import annotations

import numpy as np

REFERENCE_VALUES_ARE = "training medians (NaN ignored); occlusion explanations replace a feature by this value"


# The hot path scores with onnxruntime-node, the trainer with onnxruntime in Python: they agree to
# a few float32 steps, not to the bit (measured: at most 1.2e-7 on plain boosters, 6e-7 on a hybrid,
# in either direction, the same way for the same score; onnxruntime's probabilities near 0 come in
# steps of 2^-23). The scoringParity gate allows 1e-5, but that is coarser than the spacing of a tree
# model's common scores (1e-5 to 2e-5 apart around 0.001): no edge could go between them. 1e-6 is
# above every difference measured.
SCORE_TOLERANCE = 1e-6
# A bin edge is not placed where at least this share of the sample lies within the tolerance of it:
# a hot path one step off would move that whole share across it.
EDGE_MASS_SHARE = 0.01
# Smallest bin kept after edges were moved (numpy's own quantile bins hold at least 1/bins unless ties).
MIN_BIN_SHARE = 0.001


def histogram(values: np.ndarray, bins: int = 10, tolerance: float = 0.0) -> dict[str, list[float]]:
    """Quantile bins over the non-missing values, for drift monitoring (PSI) against live traffic.

    Bins are [edges[i], edges[i+1]) (the last one closed), as numpy's and ops/psi.ts binIndex's. An
    inner edge is not the quantile itself but the midpoint of a gap between two consecutive sample
    values: the gap the quantile falls in, so the same values land in the same bins as numpy's
    quantile bins, and no edge sits on a value. A quantile edge of a tree model's scores is almost
    always on one: few leaf sums, so one score can be 60 % of the sample and a quantile lands on it.
    A live score a float32 step below that value (the loop's onnxruntime build differs from the
    trainer's on some scores; a live float64 feature above its float32 training value) then fell
    into the bin below, and the score PSI of a model against its own test rows was 0.3-4 instead of
    0. `tolerance` (for the score: how far the hot path may be from the trainer) moves an edge to
    the nearest gap that has less than EDGE_MASS_SHARE of the sample within it, or drops it when
    there is none.
    """
    present = values[~np.isnan(values)]
    if len(present) == 0:
        # A feature never present in training: an empty histogram would break PSI, a point mass at 0 does not.
        return {"edges": [0.0, 1.0], "proportions": [1.0]}
    quantiles = np.unique(np.quantile(present, np.linspace(0, 1, bins + 1)))
    if len(quantiles) < 2:
        edges = np.array([quantiles[0], quantiles[0] + 1.0])
    else:
        distinct, counts = np.unique(present, return_counts=True)
        # Gap i lies between distinct[i] and distinct[i + 1]; its midpoint is the candidate edge.
        mids = (distinct[:-1] + distinct[1:]) / 2
        cumulative = np.concatenate([[0], np.cumsum(counts)])
        near = cumulative[np.searchsorted(distinct, mids + tolerance, side="right")] - cumulative[np.searchsorted(distinct, mids - tolerance, side="left")]
        # Adjacent doubles have no number between them: no edge can go there.
        safe = np.flatnonzero((near < EDGE_MASS_SHARE * len(present)) & (mids > distinct[:-1]) & (mids < distinct[1:]))
        chosen: set[int] = set()
        for q in quantiles[1:-1]:
            gap = int(np.searchsorted(distinct, q, side="left")) - 1  # numpy's bin starts at the first value >= q
            at = int(np.searchsorted(safe, gap))
            # Its own gap when that is safe, else the nearest safe one below or above.
            options = [gap] if at < len(safe) and safe[at] == gap else [int(safe[i]) for i in (at - 1, at) if 0 <= i < len(safe)]
            if options:
                chosen.add(min(options, key=lambda g: abs(mids[g] - q)))
        edges = np.array([float(quantiles[0]), *(float(mids[g]) for g in sorted(chosen)), float(quantiles[-1])])
        # Two quantiles moved to neighbouring gaps can leave a sliver of a bin between them: merged
        # into the next (its PSI term would be noise).
        while len(edges) > 2:
            counts, _ = np.histogram(present, bins=edges)
            sliver = np.flatnonzero(counts < MIN_BIN_SHARE * len(present))
            if len(sliver) == 0:
                break
            edges = np.delete(edges, min(int(sliver[0]) + 1, len(edges) - 2))
    counts, _ = np.histogram(present, bins=edges)
    return {"edges": [float(e) for e in edges], "proportions": [float(c) / len(present) for c in counts]}


def reference_values(x: np.ndarray, features: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for i, name in enumerate(features):
        column = x[:, i].astype(float)
        present = column[~np.isnan(column)]
        # Never present: 0 is what the registry's probe run would use as well.
        out[name] = float(np.median(present)) if len(present) else 0.0
    return out


def reference_distributions(x: np.ndarray, features: list[str], scores: np.ndarray) -> dict[str, dict[str, list[float]]]:
    distributions = {name: histogram(x[:, i].astype(float)) for i, name in enumerate(features)}
    distributions["__score__"] = histogram(scores.astype(float), bins=20, tolerance=SCORE_TOLERANCE)
    return distributions
