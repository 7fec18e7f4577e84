"""How well a score ranks fraud on the test period, and where its alert thresholds fall.

 - AUC ROC and average precision over the test transactions (scikit-learn).
 - Card precision@k per day: for each day of the test period, each card's (here: each unit's) score
   is its highest score that day and it counts as fraud if any of its transactions that day is; the
   k highest-scoring units are what an investigation team could look at, and precision@k is the
   share of them that were fraud. A day with fewer than k units divides by the units it has. Ties
   are broken by unit token, so the figure is reproducible.
 - Thresholds for target alert rates: the score quantile above which that share of test
   transactions falls.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from .split import DAY_MS, iso_day


def ranking_metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    return {
        "aucRoc": float(roc_auc_score(labels, scores)),
        "averagePrecision": float(average_precision_score(labels, scores)),
    }


def precision_at_k_per_day(days: list[int], event_time: np.ndarray, units: list[str], labels: np.ndarray, scores: np.ndarray, k: int) -> list[dict]:
    """One entry per day in `days` (UTC day numbers); `event_time`, `units`, `labels`, `scores` are the test rows."""
    day_of = event_time // DAY_MS
    out = []
    for day in days:
        best: dict[str, tuple[float, int]] = {}
        for i in np.flatnonzero(day_of == day):
            score, fraud = best.get(units[i], (-np.inf, 0))
            best[units[i]] = (max(score, float(scores[i])), max(fraud, int(labels[i])))
        ranked = sorted(best.items(), key=lambda item: (-item[1][0], item[0]))[:k]
        fraud_units = sum(1 for _, (_, fraud) in best.items() if fraud)
        hits = sum(fraud for _, (_, fraud) in ranked)
        out.append({
            "day": iso_day(day),
            "units": len(best),
            "fraudUnits": fraud_units,
            "k": len(ranked),
            "fraudInTopK": hits,
            "precision": hits / len(ranked) if ranked else None,
        })
    return out


def mean_precision(per_day: list[dict]) -> float | None:
    values = [d["precision"] for d in per_day if d["precision"] is not None]
    return float(np.mean(values)) if values else None


def alert_rate_thresholds(scores: np.ndarray, review_rate: float, decline_rate: float) -> dict[str, float]:
    return {
        "review": float(np.quantile(scores, 1 - review_rate)),
        "decline": float(np.quantile(scores, 1 - decline_rate)),
    }


def evaluate(days: list[int], event_time: np.ndarray, units: list[str], unit_kind: str, labels: np.ndarray, scores: np.ndarray, k: int) -> dict:
    """Every test-period metric of one model's scores, in the layout the model card uses."""
    per_day = precision_at_k_per_day(days, event_time, units, labels, scores, k)
    return {
        "rows": int(len(labels)),
        "fraud": int(labels.sum()),
        **ranking_metrics(labels, scores),
        "precisionAtK": {"k": k, "unit": unit_kind, "mean": mean_precision(per_day), "perDay": per_day},
    }
