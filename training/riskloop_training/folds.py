"""Prequential (walk-forward) evaluation folds inside the training data.

A fold is one week a model would have gone live on: it is trained on everything before the week
minus a label-delay gap and tested on the week, so each fold measures the recipe the way it will
be used — on traffic from after the data it learned from, with the freshest labels missing.

    fold k:   ... train (event time < test_from - gap) ... | gap | test week [test_from, test_from + 7 d)

The folds are the last `count` whole weeks that end on or before the **maturity horizon**: a
legitimate label (MATURITY) is written only `maturity` after its transaction, so a week younger
than `latest labeledAt - maturity` holds its fraud but not all of its legitimate transactions, and
every metric on it would look better than it is. The maturity window is the usual labelDelayMs of
the MATURITY examples; data without MATURITY labels counts as mature up to its last event.

Inside each fold's train period, the last `valid_days` form the **inner validation slice**: LightGBM
early-stops on it, hyper-parameters are chosen by average precision on it, and Platt calibration is
fitted on it. The test week is never used to choose anything.

A fold whose train, validation or test period lacks a class is skipped, and the card says why.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from .split import DAY_MS, iso_time


@dataclass(frozen=True)
class Fold:
    index: int  # 1 = oldest
    test_from: int  # epoch ms, UTC midnight
    test_to: int  # exclusive
    gap_from: int  # train is everything before it
    valid_from: int  # the inner validation slice is [valid_from, gap_from)
    fit: np.ndarray  # bool masks over the examples
    valid: np.ndarray
    test: np.ndarray

    @property
    def train(self) -> np.ndarray:
        return self.fit | self.valid

    @property
    def test_days(self) -> list[int]:
        return list(range(self.test_from // DAY_MS, self.test_to // DAY_MS))

    def summary(self, labels: np.ndarray) -> dict:
        return {
            "fold": self.index,
            "trainTo": iso_time(self.gap_from),
            "validFrom": iso_time(self.valid_from),
            "testFrom": iso_time(self.test_from),
            "testTo": iso_time(self.test_to),
            "fitRows": int(self.fit.sum()),
            "fitFraud": int(labels[self.fit].sum()),
            "validRows": int(self.valid.sum()),
            "validFraud": int(labels[self.valid].sum()),
            "testRows": int(self.test.sum()),
            "testFraud": int(labels[self.test].sum()),
        }


def maturity_window(label_source: list[str], event_time: np.ndarray, labeled_at: np.ndarray) -> int | None:
    """The usual delay of MATURITY labels (ms), or None when there are none."""
    delays = [int(labeled_at[i] - event_time[i]) for i, s in enumerate(label_source) if s == "MATURITY"]
    return Counter(delays).most_common(1)[0][0] if delays else None


def mature_until(label_source: list[str], event_time: np.ndarray, labeled_at: np.ndarray) -> tuple[int, int | None]:
    """(UTC midnight up to which every transaction's legitimate label has had time to arrive, maturity window)."""
    data_end = (int(event_time.max()) // DAY_MS + 1) * DAY_MS
    maturity = maturity_window(label_source, event_time, labeled_at)
    if maturity is None:
        return data_end, None
    horizon = int(labeled_at.max()) - maturity
    return min(data_end, (horizon // DAY_MS) * DAY_MS), maturity


def _both_classes(labels: np.ndarray, mask: np.ndarray) -> bool:
    positives = int(labels[mask].sum())
    return 0 < positives < int(mask.sum())


def weekly_folds(event_time: np.ndarray, labels: np.ndarray, end: int, count: int, gap_days: int,
                 valid_days: int = 7, fold_days: int = 7) -> tuple[list[Fold], list[dict]]:
    """(usable folds oldest first, skipped folds with the reason); the last test week ends at `end`."""
    folds: list[Fold] = []
    skipped: list[dict] = []
    first = int(event_time.min())
    for k in range(count):
        test_to = end - (count - 1 - k) * fold_days * DAY_MS
        test_from = test_to - fold_days * DAY_MS
        gap_from = test_from - gap_days * DAY_MS
        valid_from = gap_from - valid_days * DAY_MS
        fold = Fold(
            index=k + 1,
            test_from=test_from,
            test_to=test_to,
            gap_from=gap_from,
            valid_from=valid_from,
            fit=event_time < valid_from,
            valid=(event_time >= valid_from) & (event_time < gap_from),
            test=(event_time >= test_from) & (event_time < test_to),
        )
        problems = [name for name, mask in (("fit", fold.fit), ("validation", fold.valid), ("test", fold.test)) if not _both_classes(labels, mask)]
        if test_from < first or problems:
            reason = (f"its {', '.join(problems)} period{'s' if len(problems) > 1 else ''} lack{'' if len(problems) > 1 else 's'} fraud or legitimate examples"
                      if problems else "it starts before the first example")
            skipped.append({"fold": k + 1, "testFrom": iso_time(test_from), "testTo": iso_time(test_to), "reason": reason})
            continue
        folds.append(fold)
    return folds, skipped
