"""riskloop train: a fraud model from the training topic's examples, with a time-based evaluation.

Reads TrainingExample JSONL (an export of the training-examples topic; `riskloop train --from-topic`
makes one), keeps the latest label per transaction, trains LightGBM on the older weeks, evaluates on
the latest days after a label-delay gap (AUC ROC, average precision, precision@k per day, next to
the parent model on the same rows), and writes, under --out-dir:

  <version>.onnx        input `features` float32 [N, F] in the order of metadata `feature_names`,
                        output `probabilities` [N, 2]; metadata `model_version`, `missing_values`
                        = "nan", `score_output`: loadable by processors/modelRegistry.ts as is.
  <version>.card.json   the model card (bootstrap card fields plus split, per-day metrics, parent).
  <version>.card.md     the same for people.

The features are the decision-time snapshots exactly as recorded: the trainer computes no feature.
Seeded and single-threaded by default: the same input, options and --version give the same bytes.

Exit codes: 0 written; 2 unusable input or options (the message says which); 1 the export failed
its parity check or another error.

Usage:  .venv/bin/python training/train.py --input examples.jsonl [--out-dir models] [--version V]
            [--parent models/bootstrap-v1.onnx] [--test-days 7] [--gap-days 7] ...
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import lightgbm as lgb
import numpy as np

from riskloop_training.examples import ExampleError, Examples, feature_matrix, feature_union, load_examples
from riskloop_training.metrics import alert_rate_thresholds, evaluate
from riskloop_training.model_card import metric_rows, scored_metrics, write_card
from riskloop_training.onnx_export import PARITY_TOLERANCE, lightgbm_to_onnx, onnx_scores, open_session, parity, sha256
from riskloop_training.parent import ParentError, ParentModel, load_parent, score_parent
from riskloop_training.reference import REFERENCE_VALUES_ARE, reference_distributions, reference_values
from riskloop_training.split import DAY_MS, Split, SplitError, iso_time, parse_day, time_split

DEFAULT_SEED = 20261125


class UsageError(ValueError):
    pass


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="riskloop train", description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, required=True, help="TrainingExample JSONL (an export of the training-examples topic)")
    parser.add_argument("--out-dir", type=Path, default=Path("models"), help="where the model and its cards go (default: models)")
    parser.add_argument("--version", help="model version (default: lgbm-<UTC YYYYMMDD-HHMMSS>)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing model of the same version")
    parser.add_argument("--parent", type=Path, help="the model this one would replace (e.g. models/bootstrap-v1.onnx), scored on the same test rows")
    parser.add_argument("--features", default="union", help="'union' (every feature in the examples, sorted; default), 'parent' (the parent's list and order), or a model card JSON whose features to use")
    parser.add_argument("--test-days", type=int, default=7, help="days at the end that form the test period (default 7)")
    parser.add_argument("--gap-days", type=int, default=7, help="days between train and test left out for label delay (default 7)")
    parser.add_argument("--test-end", help="UTC date YYYY-MM-DD the test period ends before (default: the day after the latest eventTime)")
    parser.add_argument("--top-k", type=int, default=100, help="k of precision@k per day (default 100)")
    parser.add_argument("--review-alert-rate", type=float, default=0.02, help="share of test transactions at or above the review threshold (default 0.02)")
    parser.add_argument("--decline-alert-rate", type=float, default=0.005, help="share at or above the decline threshold (default 0.005)")
    parser.add_argument("--trees", type=int, default=200)
    parser.add_argument("--leaves", type=int, default=31)
    parser.add_argument("--learning-rate", type=float, default=0.05)
    parser.add_argument("--min-child-samples", type=int, default=50)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--threads", type=int, default=1, help="LightGBM threads (default 1)")
    parser.add_argument("--dump-predictions", type=Path, help="write the test rows (features in model order, label, booster and ONNX scores) as JSON")
    args = parser.parse_args(argv)
    if not 0 < args.decline_alert_rate <= args.review_alert_rate < 1:
        parser.error("need 0 < --decline-alert-rate <= --review-alert-rate < 1")
    if args.top_k < 1 or args.trees < 1 or args.leaves < 2 or args.threads < 1:
        parser.error("--top-k, --trees and --threads must be >= 1, --leaves >= 2")
    return args


def choose_features(choice: str, examples: Examples, parent: ParentModel | None) -> list[str]:
    if choice == "union":
        return feature_union(examples)
    if choice == "parent":
        if parent is None:
            raise UsageError("--features parent needs --parent")
        return list(parent.features)
    path = Path(choice)
    if not path.is_file():
        raise UsageError(f"--features must be 'union', 'parent' or a model card file; {choice!r} is none of them")
    features = json.loads(path.read_text()).get("features")
    if not isinstance(features, list) or not features or not all(isinstance(f, str) for f in features):
        raise UsageError(f"{path} has no features list")
    return features


def label_maturity_warning(examples: Examples, split: Split) -> str | None:
    """Maturity negatives arrive only maturityMs after their transaction; a test period that reaches
    into the last maturityMs before the latest label holds the fraud of those days but few of their
    legitimate transactions, which flatters every metric."""
    delays = [int(examples.labeled_at[i] - examples.event_time[i]) for i, s in enumerate(examples.label_source) if s == "MATURITY"]
    if not delays:
        return None
    maturity = Counter(delays).most_common(1)[0][0]
    horizon = int(examples.labeled_at.max()) - maturity
    immature = int((split.test & (examples.event_time > horizon)).sum())
    if immature == 0:
        return None
    return (f"{immature} test transactions are younger than the maturity window ({maturity / DAY_MS:g} d) at the latest label "
            f"({iso_time(int(examples.labeled_at.max()))}): their legitimate labels may not have arrived, so test metrics are optimistic. "
            f"Use --test-end {iso_time(horizon)[:10]} or earlier for a fully labelled test period.")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    try:
        examples = load_examples(args.input)
        parent = load_parent(args.parent) if args.parent else None
        features = choose_features(args.features, examples, parent)
        split = time_split(examples.event_time, examples.labels, args.test_days, args.gap_days, parse_day(args.test_end) if args.test_end else None)
    except (ExampleError, ParentError, SplitError, UsageError) as error:
        print(f"riskloop train: {error}", file=sys.stderr)
        return 2

    version = args.version or datetime.now(timezone.utc).strftime("lgbm-%Y%m%d-%H%M%S")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    model_path = args.out_dir / f"{version}.onnx"
    if model_path.exists() and not args.overwrite:
        print(f"riskloop train: {model_path} exists; a version names one artifact (pass --overwrite or another --version)", file=sys.stderr)
        return 2

    x_train, y_train = feature_matrix(examples, features, split.train), examples.labels[split.train]
    x_test, y_test = feature_matrix(examples, features, split.test), examples.labels[split.test]
    hyperparameters = {
        "n_estimators": args.trees,
        "num_leaves": args.leaves,
        "learning_rate": args.learning_rate,
        "min_child_samples": args.min_child_samples,
        "random_state": args.seed,
    }
    model = lgb.LGBMClassifier(**hyperparameters, subsample=1.0, colsample_bytree=1.0, deterministic=True, force_row_wise=True, n_jobs=args.threads, verbose=-1)
    model.fit(x_train, y_train)

    onnx_bytes = lightgbm_to_onnx(model.booster_, version, features).SerializeToString()
    session = open_session(onnx_bytes)
    booster_predict = lambda rows: model.predict_proba(rows)[:, 1]  # noqa: E731
    max_diff = parity(session, booster_predict, x_test, args.seed + 1)
    if max_diff > PARITY_TOLERANCE:
        print(f"riskloop train: the ONNX export differs from the LightGBM booster by {max_diff:.3g} (> {PARITY_TOLERANCE}); nothing written", file=sys.stderr)
        return 1
    # Metrics and thresholds from the exported graph: that is what the hot path will compute.
    test_scores = onnx_scores(session, x_test)

    test_rows = np.flatnonzero(split.test)
    test_units = [examples.units[i] for i in test_rows]
    test_time = examples.event_time[split.test]

    def metrics_of(labels: np.ndarray, scores: np.ndarray, rows: np.ndarray) -> dict:
        return evaluate(split.test_days, test_time[rows], [test_units[i] for i in np.flatnonzero(rows)], examples.unit_kind, labels[rows], scores, args.top_k)

    every_test_row = np.ones(len(test_rows), dtype=bool)
    metrics = {"holdoutAuc": None, **metrics_of(y_test, test_scores, every_test_row), "onnxBoosterMaxAbsDiff": max_diff}
    # The bootstrap card's key, read by tooling that compares cards: here the holdout is the test period.
    metrics["holdoutAuc"] = metrics["aucRoc"]

    parent_metrics = None
    if parent is not None:
        parent_scores, scored = score_parent(parent, examples, split.test)
        if scored.any() and 0 < y_test[scored].sum() < scored.sum():
            parent_metrics = {**metrics_of(y_test, parent_scores, scored), "rowsNotScored": int((~scored).sum())}
        else:
            parent_metrics = {"rows": 0, "rowsNotScored": int((~scored).sum()), "note": "the parent could not score rows of both classes"}

    thresholds = alert_rate_thresholds(test_scores, args.review_alert_rate, args.decline_alert_rate)
    warnings = [w for w in [label_maturity_warning(examples, split)] if w]
    if int(split.after.sum()):
        warnings.append(f"{int(split.after.sum())} examples after the test period (--test-end) were not used")
    declined = Counter(d for d, t in zip(examples.decisions, split.train) if t)["DECLINE"]
    if declined:
        warnings.append(f"{declined} training transactions were declined: a declined transaction rarely gets a chargeback, so their labels lean legitimate (selection bias)")

    model_path.write_bytes(onnx_bytes)
    split_summary = {
        "trainFrom": iso_time(int(examples.event_time[split.train].min())),
        "trainTo": iso_time(split.gap_from),
        "gapDays": args.gap_days,
        "testFrom": iso_time(split.test_from),
        "testTo": iso_time(split.test_to),
        "testDays": args.test_days,
        "trainRows": int(split.train.sum()),
        "trainFraud": int(y_train.sum()),
        "gapRows": int(split.gap.sum()),
        "gapFraud": int(examples.labels[split.gap].sum()),
        "testRows": int(split.test.sum()),
        "testFraud": int(y_test.sum()),
        "afterTestRows": int(split.after.sum()),
    }
    card = {
        "version": version,
        "artifact": model_path.name,
        "sha256": sha256(model_path),
        "algorithm": f"LightGBM {lgb.__version__} binary, {args.trees} trees, {args.leaves} leaves; ONNX via onnxmltools (zipmap off)",
        "features": features,
        "missingValues": "nan",
        "scoreOutput": "probabilities[:, 1]",
        "dataWindow": f"{iso_time(int(examples.event_time.min()))} .. {iso_time(int(examples.event_time.max()))} (transaction event time, UTC)",
        "split": split_summary,
        "data": {
            "source": str(args.input),
            "examplesRead": examples.lines_read,
            "supersededByCorrections": examples.superseded,
            "transactions": len(examples),
            "fraudRate": float(examples.labels.mean()),
            "labelSources": dict(sorted(Counter(examples.label_source).items())),
            "decisions": dict(sorted(Counter(examples.decisions).items())),
            "featureSource": "TrainingExample.features: the decision-time snapshots, used as recorded (nothing recomputed offline)",
            "precisionUnit": examples.unit_kind,
            "precisionUnitNote": (
                "card tokens from the snapshots' card.token fact" if examples.unit_kind == "card"
                else "training examples carry no card token; the account token stands in for the card"
            ),
        },
        "metrics": metrics,
        "parentModel": None if parent is None else {"version": parent.version, "artifact": str(parent.path), "sha256": parent.sha256, "features": len(parent.features)},
        "parentMetrics": parent_metrics,
        "thresholds": thresholds,
        "thresholdPolicy": {"reviewAlertRate": args.review_alert_rate, "declineAlertRate": args.decline_alert_rate, "on": "test-period scores of the ONNX graph"},
        "referenceValues": reference_values(x_train, features),
        "referenceValuesAre": REFERENCE_VALUES_ARE,
        "referenceDistributions": reference_distributions(x_train, features, test_scores),
        "hyperparameters": {**hyperparameters, "threads": args.threads},
        "warnings": warnings,
        "intendedUse": "Candidate to replace the parent model: release it as shadow or canary first and compare on live traffic before making it champion.",
        "trainedAt": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "trainingSeconds": round(time.perf_counter() - started, 2),
    }
    json_path, md_path = write_card(args.out_dir, card)

    if args.dump_predictions:
        booster_scores = booster_predict(x_test)
        dump = {
            "version": version,
            "featureNames": features,
            "rows": [
                {
                    "transactionId": examples.transaction_ids[i],
                    "unit": examples.units[i],
                    "eventTime": int(examples.event_time[i]),
                    "label": int(examples.labels[i]),
                    # float32 values widened exactly; null = NaN (missing), as JSON has no NaN.
                    "features": [None if np.isnan(v) else float(v) for v in x_test[r]],
                    "score": float(booster_scores[r]),
                    "onnxScore": float(test_scores[r]),
                }
                for r, i in enumerate(test_rows)
            ],
        }
        args.dump_predictions.parent.mkdir(parents=True, exist_ok=True)
        args.dump_predictions.write_text(json.dumps(dump) + "\n")

    print_summary(card, [model_path, json_path, md_path])
    return 0


def print_summary(card: dict, written: list[Path]) -> None:
    s, d = card["split"], card["data"]
    parent = card["parentModel"]
    print(f"riskloop train: {card['version']} ({card['algorithm'].split(';')[0]}, {len(card['features'])} features)")
    print(f"  examples  {d['examplesRead']} read, {d['supersededByCorrections']} superseded by corrections, {d['transactions']} transactions, fraud rate {d['fraudRate']:.4f}")
    print(f"  train     {s['trainFrom']} .. {s['trainTo']}  {s['trainRows']} rows, {s['trainFraud']} fraud")
    print(f"  gap       {s['gapDays']} d, {s['gapRows']} rows left out")
    print(f"  test      {s['testFrom']} .. {s['testTo']}  {s['testRows']} rows, {s['testFraud']} fraud")
    rows = [("metric (test period)", card["version"], parent["version"] if parent else "no parent")]
    rows += metric_rows(card["metrics"], scored_metrics(card["parentMetrics"]))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        print("  " + "  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r)))
    t, policy = card["thresholds"], card["thresholdPolicy"]
    print(f"  thresholds review >= {t['review']:.4f} ({policy['reviewAlertRate']:.1%} alerts), decline >= {t['decline']:.4f} ({policy['declineAlertRate']:.1%})")
    print(f"  onnx vs booster max |diff| {card['metrics']['onnxBoosterMaxAbsDiff']:.1e}; trained in {card['trainingSeconds']} s")
    for w in card["warnings"]:
        print(f"  warning: {w}")
    print(f"  wrote {', '.join(str(p) for p in written)}")


if __name__ == "__main__":
    sys.exit(main())
