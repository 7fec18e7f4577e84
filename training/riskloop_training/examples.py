"""Training examples as the label join wrote them (schemas/TrainingExample.avsc), read from JSONL.

Each line is one TrainingExample: the feature snapshot recorded at decision time plus a label that
came later. The trainer uses the snapshot's `features` as they are and computes nothing from them:
what the model is trained on is, by construction, what the hot path fed the model it replaces.

Corrections: a later, different label for a transaction arrives as a new example with
isCorrection = true, and the label join (processors/labels/labelPolicy.ts) writes one only when the
new label supersedes what it wrote before. So a correction always beats the example(s) it corrects,
**whatever their labeledAt**: a chargeback reported before the maturity deadline but processed after
it, or an analyst verdict processed after a later-dated chargeback, carries a labeledAt earlier
than the label it overrules, and ranking by labeledAt would silently drop it. The rank per
transaction is therefore:
  1. a correction beats a non-correction;
  2. between corrections, the later one in topic order (the label join's processing order; an
     export keeps each partition's offset order and a transaction lives in one partition, so this
     is the later line);
  3. between non-corrections (duplicates from a replay), an explicit label (chargeback, analyst)
     beats a MATURITY negative, then the later labeledAt, then the later line.
Only rule 2 reads the line order, and only for a transaction corrected twice or more; any other
shuffle of an export trains the same model.

Missing values follow the scorer (processors/scoring.ts): a feature absent from the snapshot, or not
finite (the export writes non-finite doubles as null), is NaN in the matrix, and values are rounded
to float32 exactly as the scorer's Float32Array does.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# A fact the hot path may record with the card token; when every example has it, precision@k per
# day counts cards, as the metric is usually defined. Without it the account is the unit.
CARD_TOKEN_FACT = "card.token"

REQUIRED = ("transactionId", "accountToken", "eventTime", "features", "label", "labeledAt")


class ExampleError(ValueError):
    """The input is not a usable set of training examples; the message says where and why."""


@dataclass(frozen=True)
class Examples:
    """One row per transaction, sorted by (eventTime, transactionId) so that row order, and with it
    the trained model, does not depend on the order the examples were read in."""

    transaction_ids: list[str]
    # Who precision@k counts: account tokens, or card tokens when the snapshots carry them.
    units: list[str]
    unit_kind: str
    event_time: np.ndarray  # int64 epoch ms
    labels: np.ndarray  # int8, 0/1
    label_source: list[str]
    labeled_at: np.ndarray  # int64 epoch ms
    decisions: list[str]
    model_versions: list[str | None]
    # TrainingExample.featureSetVersion: the feature set that produced the snapshot (None in data
    # from before the field existed).
    feature_set_versions: list[str | None]
    features: list[dict[str, float]]
    lines_read: int
    superseded: int

    def __len__(self) -> int:
        return len(self.transaction_ids)


def _number(value: object, where: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ExampleError(f"{where}: feature value {type(value).__name__} is not a number")
    return float(value) if math.isfinite(value) else math.nan


def _integer(record: dict, field: str, where: str) -> int:
    value = record[field]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not float(value).is_integer():
        raise ExampleError(f"{where}: {field} must be an integer (epoch ms or 0/1), got {value!r}")
    return int(value)


def _parse(line: str, where: str) -> dict:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise ExampleError(f"{where}: not JSON ({error.msg})") from None
    if not isinstance(record, dict):
        raise ExampleError(f"{where}: a TrainingExample must be a JSON object")
    missing = [field for field in REQUIRED if field not in record]
    if missing:
        raise ExampleError(f"{where}: missing {', '.join(missing)}")
    if not isinstance(record["features"], dict):
        raise ExampleError(f"{where}: features must be an object of name -> number")
    for field in ("transactionId", "accountToken"):
        if not isinstance(record[field], str) or not record[field]:
            raise ExampleError(f"{where}: {field} must be a non-empty string")
    if _integer(record, "label", where) not in (0, 1):
        raise ExampleError(f"{where}: label must be 0 or 1, got {record['label']!r}")
    return record


def load_examples(path: Path) -> Examples:
    """Reads a JSONL export of the training topic and keeps the latest example per transaction."""
    latest: dict[str, tuple[tuple[bool, int, bool, int], dict]] = {}
    lines_read = 0
    with path.open(encoding="utf-8") as source:
        for number, line in enumerate(source, start=1):
            if not line.strip():
                continue
            lines_read += 1
            where = f"{path}:{number}"
            record = _parse(line, where)
            record["features"] = {name: _number(v, f"{where}: features.{name}") for name, v in record["features"].items()}
            explicit = record.get("labelSource") != "MATURITY"
            correction = bool(record.get("isCorrection", False))
            rank = (correction, number if correction else 0, explicit, _integer(record, "labeledAt", where), number)
            _integer(record, "eventTime", where)
            held = latest.get(record["transactionId"])
            if held is None or rank > held[0]:
                latest[record["transactionId"]] = (rank, record)
    if not latest:
        raise ExampleError(f"{path}: no training examples")

    rows = sorted((r for _, r in latest.values()), key=lambda r: (int(r["eventTime"]), r["transactionId"]))
    facts = [r.get("facts") or {} for r in rows]
    by_card = all(isinstance(f.get(CARD_TOKEN_FACT), str) and f[CARD_TOKEN_FACT] for f in facts)
    return Examples(
        transaction_ids=[r["transactionId"] for r in rows],
        units=[f[CARD_TOKEN_FACT] for f in facts] if by_card else [r["accountToken"] for r in rows],
        unit_kind="card" if by_card else "account",
        event_time=np.array([int(r["eventTime"]) for r in rows], dtype=np.int64),
        labels=np.array([int(r["label"]) for r in rows], dtype=np.int8),
        label_source=[str(r.get("labelSource", "UNKNOWN")) for r in rows],
        labeled_at=np.array([int(r["labeledAt"]) for r in rows], dtype=np.int64),
        decisions=[str(r.get("decision", "UNKNOWN")) for r in rows],
        model_versions=[r.get("modelVersion") for r in rows],
        feature_set_versions=[r.get("featureSetVersion") if isinstance(r.get("featureSetVersion"), str) else None for r in rows],
        features=[r["features"] for r in rows],
        lines_read=lines_read,
        superseded=lines_read - len(rows),
    )


def feature_union(examples: Examples) -> list[str]:
    """Every feature name any snapshot carries, sorted: a deterministic column order."""
    names: set[str] = set()
    for snapshot in examples.features:
        names.update(snapshot)
    return sorted(names)


def feature_matrix(examples: Examples, features: list[str], rows: np.ndarray | None = None) -> np.ndarray:
    """float32 [rows, features] in the given column order; NaN where a snapshot lacks a feature."""
    indices = range(len(examples)) if rows is None else np.flatnonzero(rows) if rows.dtype == bool else rows
    snapshots = [examples.features[i] for i in indices]
    out = np.full((len(snapshots), len(features)), np.nan, dtype=np.float64)
    for r, snapshot in enumerate(snapshots):
        for c, name in enumerate(features):
            value = snapshot.get(name)
            if value is not None:
                out[r, c] = value
    # One rounding, double -> float32 to nearest, the same the scorer's Float32Array applies.
    return out.astype(np.float32)
