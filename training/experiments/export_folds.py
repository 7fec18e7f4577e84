"""The loading both experiment harnesses share: one export, the trainer's folds, and each fold's fit/validation matrices.

Same calls and arguments as train.py's defaults (maturity horizon from the labels, 4 weekly folds, 7-day gap,
7-day validation slice, 7-day test week), so a harness's folds are the trainer's folds on the same export.
Kept here so that fold_recipes.py and refit_recipes.py cannot drift apart on what a fold is.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from riskloop_training.examples import Examples, feature_matrix, feature_union, load_examples  # noqa: E402
from riskloop_training.folds import Fold, mature_until, weekly_folds  # noqa: E402
from riskloop_training.gbm import DEFAULT_CONFIG  # noqa: E402,F401  (the trainer's default configuration, the first point of its search)

SEED = 20261125  # train.py's default --seed (DEFAULT_SEED there, a script): the search and the bag members


@dataclass
class ExportFolds:
    examples: Examples
    features: list[str]
    labels: np.ndarray
    folds: list[Fold]
    skipped: list
    data: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]  # per fold: x fit, y fit, x valid, y valid

    def test(self, fold: Fold) -> tuple[np.ndarray, np.ndarray]:
        """The fold's test week: features and labels."""
        return feature_matrix(self.examples, self.features, fold.test), self.labels[fold.test]


def load_export_folds(path: Path, name: str = '') -> ExportFolds:
    """Reads a training-examples export and builds the trainer's default folds; prints one summary line."""
    ex = load_examples(Path(path))
    features = feature_union(ex)
    labels, et = ex.labels, ex.event_time
    mt, _ = mature_until(ex.label_source, et, ex.labeled_at)
    folds, skipped = weekly_folds(et, labels, mt, 4, 7, 7, 7)
    print(name, len(ex), int(labels.sum()), 'folds', len(folds), 'skipped', skipped, flush=True)
    data = [(feature_matrix(ex, features, f.fit), labels[f.fit], feature_matrix(ex, features, f.valid), labels[f.valid]) for f in folds]
    return ExportFolds(ex, features, labels, folds, skipped, data)
