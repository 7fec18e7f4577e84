"""The logistic-regression baseline the trainer fits on the same folds as the candidate.

A fraud team's first question about a tree model is whether it beats a regression on the same
features. The baseline gets the same columns (the candidate's features, float32 as the scorer feeds
them) and the same train rows, with the preprocessing a regression needs and nothing more:

  - missing values: median imputation plus one 0/1 missing-indicator column per feature that has
    missing values in training (scikit-learn SimpleImputer(add_indicator=True)), so "absent" can
    carry signal as it does for the trees' default branches;
  - standardisation (StandardScaler), so that one L2 penalty (C = 1) treats features alike;
  - LogisticRegression, lbfgs, no class weights (ranking metrics do not need them), max_iter 2000.

Deterministic (lbfgs has no randomness). Not exported: it exists to be compared against.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

DESCRIPTION = ("scikit-learn LogisticRegression (lbfgs, L2 C=1, no class weights) on the candidate's features: "
               "median-imputed with a missing-indicator column per feature missing in training, then standardised")


def fit_baseline(x: np.ndarray, y: np.ndarray) -> Pipeline:
    x = x.astype(np.float64)
    # A column never present in training has no median; 0 keeps it constant (and so weightless).
    pipeline = Pipeline([
        ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
        ("scale", StandardScaler()),
        ("regression", LogisticRegression(C=1.0, max_iter=2000)),
    ])
    with warnings.catch_warnings():
        # A non-converged fit is still a valid (slightly under-fitted) baseline; it is not worth a crash.
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipeline.fit(x, y)
    return pipeline


def baseline_scores(pipeline: Pipeline, x: np.ndarray) -> np.ndarray:
    return pipeline.predict_proba(x.astype(np.float64))[:, 1]
