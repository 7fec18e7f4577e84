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

from riskloop_training.baseline import DESCRIPTION as BASELINE_DESCRIPTION
from riskloop_training.baseline import baseline_scores, fit_baseline
from riskloop_training.blend import BLEND_WEIGHTS, blend, choose_weight
from riskloop_training.examples import ExampleError, Examples, feature_matrix, feature_union, load_examples
from riskloop_training.explain import TREES_METADATA_KEY, importances, trees_document, trees_json
from riskloop_training.folds import mature_until, weekly_folds
from riskloop_training.gbm import IMBALANCE_NOTE, MONOTONE_MARKERS, STOPPING_ROUNDS, Platt, bag_params, monotone_params, brier, fit, fit_bagged, fit_fixed, fit_platt, linear_stage, positive_weight, raw_scores, refit, refit_trees, reliability, search_space, sigmoid
from riskloop_training.hybrid import LINEAR_BINS
from riskloop_training.metrics import alert_rate_thresholds, evaluate
from riskloop_training.model_card import fold_lines, metric_rows, scored_metrics, write_card
from riskloop_training.onnx_export import PARITY_TOLERANCE, add_metadata, bake_platt, float32_thresholds, lightgbm_to_onnx, onnx_scores, open_session, parity, sha256
from riskloop_training.parent import ParentError, ParentModel, load_parent, score_parent
from riskloop_training.reference import REFERENCE_VALUES_ARE, reference_distributions, reference_values
from riskloop_training.split import DAY_MS, Split, SplitError, iso_time, parse_day, time_split

DEFAULT_SEED = 20261125
# Seed bag size: on the four demo exports of docs/training.md (Results, "Seed bag and blend") a bag of 5 beat the
# regression in 16 of 16 folds (3 also 16, one booster 13); the blend with the regression (--blend valid) 14 alone, 15 on the bag.
# On fresh seeds it was not chosen on: simulator 9 4 of 4, handbook 3 1 of 4 (one booster 3 and 2); its mean AP is above one booster's on all six.
DEFAULT_BAG = 5
# --refit on: each member's early-stopped tree count is scaled by (fit + validation rows) / fit rows when it is
# trained again on both (more rows, more trees before the same overfit); False keeps the counts as they were.
REFIT_SCALE_BY_ROWS = True
# Below this many fraud examples in the train period the card warns that the model is not worth releasing.
MIN_TRAIN_FRAUD = 30


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
    parser.add_argument("--trees", type=int, default=600, help="most trees per model; early stopping usually ends sooner (default 600)")
    parser.add_argument("--leaves", type=int, default=31, help="leaves of the search's first (default) configuration (default 31)")
    parser.add_argument("--learning-rate", type=float, default=0.05, help="of the default configuration (default 0.05)")
    parser.add_argument("--min-child-samples", type=int, default=50, help="of the default configuration (default 50)")
    # Not the default: on the demo exports the hybrid beat the baseline in 2 of 4 folds (simulator) and 3 of 4
    # (handbook), below the plain recipe's mean AP on both (docs/training.md, Results, The hybrid).
    parser.add_argument("--init", choices=["lr", "none"], default="none",
                        help="'none' (default): boosted trees alone; 'lr': boost from a logistic regression fitted on the same rows, "
                             "binned into per-feature trees (a hybrid; training/riskloop_training/hybrid.py)")
    # Not the default: on the demo exports the blend on top of the seed bag won 15 of 16 folds, the bag alone 16.
    parser.add_argument("--blend", choices=["valid", "off"], default="off",
                        help="'off' (default): the trees alone; 'valid': the candidate is w * trees + (1 - w) * a logistic regression fitted on "
                             "the same fit rows (log-odds), w chosen from 0, 0.1 .. 1 on the validation slice, written as one tree ensemble "
                             "(training/riskloop_training/blend.py)")
    parser.add_argument("--bag", type=int, default=None,
                        help=f"boosters averaged per model, the chosen configuration with seeds --seed, --seed + 1, ... and 80%% row/feature "
                             f"subsampling (default {DEFAULT_BAG}, 1 with --init lr; 1 = one booster, no subsampling; the search compares single boosters)")
    # The default, with --monotone amount: on five fresh demo exports (docs/training.md, Results, "Refit on the validation
    # week and monotone amount ratios") 19 of 20 folds beat the regression on AP (the bag early-stopped on the fit rows: 16);
    # held out, handbook 5 and simulator 10 4 of 4 each. Costs one more fit per bag member and fold.
    parser.add_argument("--refit", choices=["on", "off"], default=None,
                        help="'on' (default without --init lr): after early stopping, the search and the blend weight are chosen on the "
                             "validation slice, train again on fit + validation rows with the chosen tree counts, as the LR baseline is "
                             "fitted; 'off': the early-stopped model of the fit rows")
    parser.add_argument("--monotone", choices=["amount", "off"], default=None,
                        help="'amount' (default without --init lr): the chosen configuration's models (bag members and refit) constrained to "
                             f"an increasing effect of the features named like {' or '.join(repr(m) for m in MONOTONE_MARKERS)} (amount over own "
                             "mean/max, z-scores); the search compares unconstrained single boosters; 'off': no constraint")
    parser.add_argument("--search-budget", type=int, default=10, help="hyper-parameter configurations tried, the default one first (default 10; 1 = no search)")
    parser.add_argument("--folds", type=int, default=4, help="prequential weekly folds (default 4)")
    parser.add_argument("--fold-days", type=int, default=7, help="days per fold's test period (default 7)")
    parser.add_argument("--valid-days", type=int, default=7, help="last days of each train period used for early stopping, the search and calibration (default 7)")
    parser.add_argument("--allow-mixed-feature-sets", action="store_true", help="train on examples from more than one feature set")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--threads", type=int, default=1, help="LightGBM threads (default 1)")
    parser.add_argument("--dump-predictions", type=Path, help="write the test rows (features in model order, label, booster and ONNX scores) as JSON")
    args = parser.parse_args(argv)
    if args.bag is None:
        args.bag = DEFAULT_BAG if args.init == "none" else 1
    if args.bag < 1:
        parser.error("--bag must be >= 1")
    if args.refit is None:
        args.refit = "on" if args.init == "none" else "off"
    if args.monotone is None:
        args.monotone = "amount" if args.init == "none" else "off"
    if args.monotone == "amount" and args.init == "lr":
        parser.error("--monotone amount constrains the boosted trees; the hybrid's regression stage is not constrained: pass --monotone off")
    if args.refit == "on" and args.init == "lr":
        parser.error("--refit on retrains the trees alone; the hybrid (--init lr) would need its regression stage refitted too: pass --refit off")
    if args.bag > 1 and args.init == "lr":
        parser.error("--bag averages plain boosters; with the hybrid (--init lr) pass --bag 1")
    if args.blend == "valid" and args.init == "lr":
        parser.error("--blend valid blends the trees with the regression; the hybrid (--init lr) already boosts from it: pass --blend off")
    if not 0 < args.decline_alert_rate <= args.review_alert_rate < 1:
        parser.error("need 0 < --decline-alert-rate <= --review-alert-rate < 1")
    if args.top_k < 1 or args.trees < 1 or args.leaves < 2 or args.threads < 1 or args.search_budget < 1 or args.folds < 0 or args.fold_days < 1 or args.valid_days < 1:
        parser.error("--top-k, --trees, --threads, --search-budget, --fold-days and --valid-days must be >= 1, --folds >= 0, --leaves >= 2")
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


def feature_set_version(examples: Examples, allow_mixed: bool) -> tuple[str | None, dict[str, int]]:
    """The examples' feature-set version (the most common; None for data from before the field), and the counts."""
    counts = Counter(examples.feature_set_versions)
    named = {("null" if k is None else k): v for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))}
    if len(counts) > 1 and not allow_mixed:
        raise UsageError(f"the examples come from more than one feature set ({', '.join(f'{k}: {v}' for k, v in named.items())}): "
                         "train on one (a model's features must all be produced by the running set) or pass --allow-mixed-feature-sets")
    most_common = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))[0][0]
    return most_common, named


def both_classes(labels: np.ndarray) -> bool:
    return 0 < int(labels.sum()) < len(labels)


def spread(values: list[float | None]) -> dict:
    present = [v for v in values if v is not None]
    if not present:
        return {"mean": None, "std": None, "min": None, "max": None}
    return {"mean": float(np.mean(present)), "std": float(np.std(present)), "min": float(np.min(present)), "max": float(np.max(present))}


def fold_summary(folds: list[dict]) -> dict:
    """Mean, population std, min and max over the folds, per model and metric."""
    out: dict = {}
    for model in ("candidate", "baseline", "parent"):
        rows = [f[model] for f in folds if f.get(model) and "aucRoc" in f[model]]
        if not rows:
            out[model] = None
            continue
        out[model] = {
            "folds": len(rows),
            "aucRoc": spread([r["aucRoc"] for r in rows]),
            "averagePrecision": spread([r["averagePrecision"] for r in rows]),
            "precisionAtK": spread([r["precisionAtK"]["mean"] for r in rows]),
        }
    out["candidateBeatsBaselineOnAveragePrecision"] = sum(1 for f in folds if f["candidate"]["averagePrecision"] > f["baseline"]["averagePrecision"])
    out["candidateBeatsParentOnAveragePrecision"] = sum(1 for f in folds if f.get("parent") and "averagePrecision" in f["parent"] and f["candidate"]["averagePrecision"] > f["parent"]["averagePrecision"])
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    try:
        examples = load_examples(args.input)
        parent = load_parent(args.parent) if args.parent else None
        features = choose_features(args.features, examples, parent)
        split = time_split(examples.event_time, examples.labels, args.test_days, args.gap_days, parse_day(args.test_end) if args.test_end else None)
        set_version, set_counts = feature_set_version(examples, args.allow_mixed_feature_sets)
    except (ExampleError, ParentError, SplitError, UsageError) as error:
        print(f"riskloop train: {error}", file=sys.stderr)
        return 2

    version = args.version or datetime.now(timezone.utc).strftime("lgbm-%Y%m%d-%H%M%S")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    model_path = args.out_dir / f"{version}.onnx"
    if model_path.exists() and not args.overwrite:
        print(f"riskloop train: {model_path} exists; a version names one artifact (pass --overwrite or another --version)", file=sys.stderr)
        return 2

    labels, event_time = examples.labels, examples.event_time
    unit_of = examples.units

    def metrics_on(mask: np.ndarray, days: list[int], scores: np.ndarray, scored: np.ndarray | None = None) -> dict:
        rows = np.flatnonzero(mask)
        if scored is not None:
            rows = rows[scored]
        return evaluate(days, event_time[rows], [unit_of[i] for i in rows], examples.unit_kind, labels[rows], scores, args.top_k)

    def parent_on(mask: np.ndarray, days: list[int]) -> dict | None:
        if parent is None:
            return None
        scores, scored = score_parent(parent, examples, mask)
        y = labels[mask]
        if scored.any() and 0 < y[scored].sum() < scored.sum():
            return {**metrics_on(mask, days, scores, scored), "rowsNotScored": int((~scored).sum())}
        return {"rows": 0, "rowsNotScored": int((~scored).sum()), "note": "the parent could not score rows of both classes"}

    def blended(trees_model, stage, x_valid: np.ndarray, y_valid: np.ndarray):
        """(the model to calibrate and score, the card's blend record or None): with --blend valid, the
        trees mixed with the slice's regression at the weight with the best validation AP."""
        if args.blend != "valid" or stage is None or not len(stage):
            return trees_model, None
        weight, by_weight = choose_weight(y_valid, raw_scores(trees_model, x_valid), stage.predict(x_valid))
        return blend(stage, trees_model, weight), {
            "weight": weight,
            "of": "the boosted trees' log-odds; 1 - weight on the logistic regression fitted on the same fit rows (binned into per-feature trees)",
            "chosenBy": "average precision on the validation slice (neither member was fitted on it)",
            "grid": BLEND_WEIGHTS,
            "validAveragePrecision": by_weight,
            "linearTrees": len(stage) if weight < 1.0 else 0,
        }

    def refitted(model, fitted, chosen_blend, x_fit: np.ndarray, y_fit: np.ndarray, x_valid: np.ndarray, y_valid: np.ndarray):
        """(the model to score, the card's refit record or None): with --refit on, `fitted` trained again on fit +
        validation rows at the slice's choices (configuration, tree counts, blend weight; the blend's regression
        refitted on the same rows), as the baseline is fitted."""
        if args.refit != "on":
            return model, None
        x_all, y_all = np.vstack([x_fit, x_valid]), np.concatenate([y_fit, y_valid])
        scale = len(y_all) / len(y_fit) if REFIT_SCALE_BY_ROWS else 1.0
        booster = refit(config, fitted, x_all, y_all, args.seed, args.threads, scale, monotone)
        linear = 0
        if chosen_blend and chosen_blend["weight"] < 1.0:
            all_stage = linear_stage(x_all, y_all)
            booster, linear = blend(all_stage, booster, chosen_blend["weight"]), len(all_stage)
        counts = refit_trees(fitted, scale)
        return booster, {"rows": int(len(y_all)), "fraud": int(y_all.sum()), "treeScale": round(scale, 6), "memberTrees": counts,
                         "earlyStoppedTrees": fitted.member_trees or [fitted.trees], "linearTrees": linear}

    # --- prequential folds and the hyper-parameter search on their inner validation slices ---
    mature_to, maturity = mature_until(examples.label_source, event_time, examples.labeled_at)
    folds, skipped = weekly_folds(event_time, labels, mature_to, args.folds, args.gap_days, args.valid_days, args.fold_days)
    final_valid = split.train & (event_time >= split.gap_from - args.valid_days * DAY_MS)
    final_fit = split.train & ~final_valid
    final_usable = both_classes(labels[final_fit]) and both_classes(labels[final_valid])
    slices = [(f.fit, f.valid) for f in folds] or ([(final_fit, final_valid)] if final_usable else [])
    data = [(feature_matrix(examples, features, a), labels[a], feature_matrix(examples, features, b), labels[b]) for a, b in slices]
    # The hybrid's first stage per slice: the regression on the slice's fit rows only (the validation
    # rows stay unseen for early stopping, the search and calibration).
    # The blend's regression is the same one, fitted on the same fit rows, but mixed in after the boosting.
    stages = [linear_stage(xf, yf) if args.init == "lr" or args.blend == "valid" else None for xf, yf, _, _ in data]
    boost_from = stages if args.init == "lr" else [None] * len(data)
    default = {"num_leaves": args.leaves, "min_child_samples": args.min_child_samples, "learning_rate": args.learning_rate, "feature_fraction": 1.0, "class_weight": "none"}
    configs = search_space(args.seed, args.search_budget, default)
    search_rows, fits = [], []
    for config in configs:
        fitted = [fit(config, xf, yf, xv, yv, args.seed, args.threads, args.trees, stage) for (xf, yf, xv, yv), stage in zip(data, boost_from)]
        fits.append(fitted)
        search_rows.append({**config, "validAveragePrecision": [round(f.valid_ap, 6) for f in fitted],
                            "meanValidAveragePrecision": float(np.mean([f.valid_ap for f in fitted])) if fitted else None,
                            "trees": [f.trees for f in fitted]})
    chosen = max(range(len(configs)), key=lambda c: (search_rows[c]["meanValidAveragePrecision"] or 0.0, -c)) if data else 0
    config = configs[chosen]

    # The chosen configuration as a seed bag (the search compared single boosters: k times cheaper), with the
    # monotone constraints (the search's boosters had none, so with --bag 1 the chosen one is fitted again).
    monotone = monotone_params(features) if args.monotone == "amount" else {}
    chosen_fits = ([fit_bagged(config, xf, yf, xv, yv, args.seed, args.threads, args.trees, args.bag, monotone) for xf, yf, xv, yv in data]
                   if args.bag > 1 or monotone else fits[chosen] if data else [])
    fold_rows = []
    for fold, fitted, (xf, yf, xv, yv), stage in zip(folds, chosen_fits if folds else [], data if folds else [], stages if folds else []):
        model, fold_blend = blended(fitted.booster, stage, xv, yv)
        # Calibrated on the validation slice by the model that has not seen it; with --refit the same map is
        # applied to the refitted model (same configuration and tree counts, so about the same raw-score scale).
        platt = fit_platt(raw_scores(model, xv), yv)
        model, fold_refit = refitted(model, fitted, fold_blend, xf, yf, xv, yv)
        x_test, y_test = feature_matrix(examples, features, fold.test), labels[fold.test]
        raw = raw_scores(model, x_test)
        candidate_scores = platt.apply(raw)
        baseline = fit_baseline(np.vstack([xf, xv]), np.concatenate([yf, yv]))
        fold_rows.append({
            **fold.summary(labels),
            "trees": sum(fold_refit["memberTrees"]) if fold_refit else fitted.trees,
            **({"memberTrees": fold_refit["memberTrees"] if fold_refit else fitted.member_trees} if fitted.member_trees else {}),
            "linearTrees": fitted.linear_trees or (fold_refit["linearTrees"] if fold_refit else fold_blend["linearTrees"] if fold_blend else 0),
            "blend": fold_blend,
            "refit": fold_refit,
            "calibration": {"a": platt.a, "b": platt.b, "brierUncalibrated": brier(y_test, sigmoid(raw)), "brierCalibrated": brier(y_test, candidate_scores),
                            **({"note": platt.note} if platt.note else {})},
            "candidate": metrics_on(fold.test, fold.test_days, candidate_scores),
            "baseline": metrics_on(fold.test, fold.test_days, baseline_scores(baseline, x_test)),
            "parent": parent_on(fold.test, fold.test_days),
        })

    # --- the released model: the chosen recipe on the train period, early-stopped and calibrated on its last days ---
    x_test, y_test = feature_matrix(examples, features, split.test), labels[split.test]
    training_note = None
    final_blend = None
    final_refit = None
    if final_usable:
        x_final_valid = feature_matrix(examples, features, final_valid)
        x_final_fit = feature_matrix(examples, features, final_fit)
        if not folds:
            final, final_stage = chosen_fits[0], stages[0]
        else:
            final_stage = linear_stage(x_final_fit, labels[final_fit]) if args.init == "lr" or args.blend == "valid" else None
            final = (fit_bagged(config, x_final_fit, labels[final_fit], x_final_valid, labels[final_valid], args.seed, args.threads, args.trees, args.bag, monotone)
                     if args.bag > 1 or monotone else
                     fit(config, x_final_fit, labels[final_fit], x_final_valid, labels[final_valid],
                         args.seed, args.threads, args.trees, final_stage if args.init == "lr" else None))
        booster, final_blend = blended(final.booster, final_stage, x_final_valid, labels[final_valid])
        platt = fit_platt(raw_scores(booster, x_final_valid), labels[final_valid])
        booster, final_refit = refitted(booster, final, final_blend, x_final_fit, labels[final_fit], x_final_valid, labels[final_valid])
        trees = sum(final_refit["memberTrees"]) if final_refit else final.trees
        linear_trees = final.linear_trees or (final_refit["linearTrees"] if final_refit else final_blend["linearTrees"] if final_blend else 0)
    else:
        # No usable validation slice: the chosen configuration with a fixed tree count, uncalibrated.
        # Trees per booster (per member of a bag).
        trees = int(np.median([t for f in fold_rows for t in f.get("memberTrees", [f["trees"]])])) if fold_rows else 200
        training_note = (f"the last {args.valid_days} d of the train period lack a class: no early stopping ({trees} trees), no calibration"
                         + (" and no blend (nothing to choose its weight on)" if args.blend == "valid" else ""))
        x_train = feature_matrix(examples, features, split.train)
        stage = linear_stage(x_train, labels[split.train]) if args.init == "lr" and both_classes(labels[split.train]) else None
        booster = fit_fixed(config, x_train, labels[split.train], trees, args.seed, args.threads, stage, args.bag, monotone)
        linear_trees = len(stage) if stage else 0
        platt = Platt(1.0, 0.0, training_note)

    # Thresholds as float32 (scores unchanged on float32 inputs), so the ONNX graph's float32 compare routes as the booster does.
    booster = float32_thresholds(booster)
    onnx_model = bake_platt(lightgbm_to_onnx(booster, version, features, set_version), platt.a, platt.b)
    trees_document_ = trees_document(booster, version, features, platt.a, platt.b)
    # The trees travel inside the model (covered by its sha256, inline in a model release), so the
    # scorer's contributions always describe the model that scored; <version>.trees.json is a copy.
    add_metadata(onnx_model, TREES_METADATA_KEY, trees_json(trees_document_).strip())
    onnx_bytes = onnx_model.SerializeToString()
    session = open_session(onnx_bytes)
    booster_predict = lambda rows: platt.apply(raw_scores(booster, rows))  # noqa: E731
    max_diff = parity(session, booster_predict, x_test, args.seed + 1)
    if max_diff > PARITY_TOLERANCE:
        print(f"riskloop train: the ONNX export differs from the LightGBM booster by {max_diff:.3g} (> {PARITY_TOLERANCE}); nothing written", file=sys.stderr)
        return 1
    # Metrics and thresholds from the exported graph: that is what the hot path will compute.
    test_scores = onnx_scores(session, x_test)
    raw_test = raw_scores(booster, x_test)

    metrics = {"holdoutAuc": None, **metrics_on(split.test, split.test_days, test_scores), "onnxBoosterMaxAbsDiff": max_diff}
    # The bootstrap card's key, read by tooling that compares cards: here the holdout is the test period.
    metrics["holdoutAuc"] = metrics["aucRoc"]
    parent_metrics = parent_on(split.test, split.test_days)

    thresholds = alert_rate_thresholds(test_scores, args.review_alert_rate, args.decline_alert_rate)
    warnings = [w for w in [label_maturity_warning(examples, split)] if w]
    if warnings and final_usable and split.gap_from > mature_to:
        # The calibration slice lies before the test period, so it is immature only when the test is.
        warnings[0] += (f" The calibration slice ({iso_time(split.gap_from - args.valid_days * DAY_MS)} .. {iso_time(split.gap_from)}) "
                        "reaches past the maturity horizon as well: its legitimate labels are incomplete, so the calibrated probabilities run high.")
    train_fraud = int(labels[split.train].sum())
    if train_fraud < MIN_TRAIN_FRAUD:
        warnings.append(f"only {train_fraud} fraud examples in the train period (fewer than {MIN_TRAIN_FRAUD}): the model cannot have learned much; "
                        "collect more labelled history before releasing it")
    if int(split.after.sum()):
        warnings.append(f"{int(split.after.sum())} examples after the test period (--test-end) were not used")
    declined = Counter(d for d, t in zip(examples.decisions, split.train) if t)["DECLINE"]
    if declined:
        warnings.append(f"{declined} training transactions were declined: a declined transaction rarely gets a chargeback, so their labels lean legitimate (selection bias)")

    trees_path = args.out_dir / f"{version}.trees.json"
    model_path.write_bytes(onnx_bytes)
    trees_path.write_text(trees_json(trees_document_))
    split_summary = {
        "trainFrom": iso_time(int(event_time[split.train].min())),
        "trainTo": iso_time(split.gap_from),
        "gapDays": args.gap_days,
        "testFrom": iso_time(split.test_from),
        "testTo": iso_time(split.test_to),
        "testDays": args.test_days,
        "trainRows": int(split.train.sum()),
        "trainFraud": int(labels[split.train].sum()),
        "gapRows": int(split.gap.sum()),
        "gapFraud": int(labels[split.gap].sum()),
        "testRows": int(split.test.sum()),
        "testFraud": int(y_test.sum()),
        "afterTestRows": int(split.after.sum()),
        "validFrom": iso_time(split.gap_from - args.valid_days * DAY_MS),
        "validRows": int(final_valid.sum()),
        "validFraud": int(labels[final_valid].sum()),
    }
    hyperparameters = {
        **config,
        "n_estimators": trees,
        # Seed bag: boosters averaged, their seeds, subsampling and boosted trees each (n_estimators is their sum).
        "bag": {"members": args.bag, "seeds": [args.seed + i for i in range(args.bag)], **bag_params(config),
                "memberTrees": (final_refit["memberTrees"] if final_refit else final.member_trees) if final_usable else None} if args.bag > 1 else None,
        "init": args.init,
        # The blend as released: weight of the boosted trees, the rest on the regression (None: trees alone).
        "blend": final_blend,
        # The refit as released: rows (fit + validation), the scale and the trees per member before and after.
        "refit": final_refit,
        # Features constrained to an increasing effect in the released trees (empty: none).
        "monotoneIncreasing": [f for f, c in zip(features, monotone.get("monotone_constraints", [])) if c],
        "linearTrees": linear_trees,
        "linearBins": LINEAR_BINS if linear_trees else None,
        "scale_pos_weight": positive_weight(config, labels[final_fit] if final_usable else labels[split.train]),
        "maxTrees": args.trees,
        "earlyStoppingRounds": STOPPING_ROUNDS,
        "random_state": args.seed,
        "threads": args.threads,
    }
    card = {
        "version": version,
        "artifact": model_path.name,
        "sha256": sha256(model_path),
        "treesArtifact": trees_path.name,
        "treesSha256": sha256(trees_path),
        "algorithm": (f"LightGBM {lgb.__version__} binary, {trees} trees "
                      + ("(counts early-stopped on the validation slice, then refitted on train + validation rows), " if final_refit else "(early-stopped), ")
                      + f"{config['num_leaves']} leaves, "
                      + (f"the mean of a seed bag of {args.bag} boosters, " if args.bag > 1 else "")
                      + (f"boosted from a logistic regression binned into {linear_trees} per-feature trees, " if linear_trees and args.init == "lr" else "")
                      + (f"blended in log-odds {final_blend['weight']:g} x trees + {1 - final_blend['weight']:g} x a logistic regression "
                         f"binned into {linear_trees} per-feature trees, " if final_blend and linear_trees else "")
                      + "Platt-calibrated; ONNX via onnxmltools (zipmap off), calibration in the leaf weights"),
        "features": features,
        "feature_set_version": set_version,
        "missingValues": "nan",
        "scoreOutput": "probabilities[:, 1]",
        "dataWindow": f"{iso_time(int(event_time.min()))} .. {iso_time(int(event_time.max()))} (transaction event time, UTC)",
        "split": split_summary,
        "data": {
            "source": str(args.input),
            "examplesRead": examples.lines_read,
            "supersededByCorrections": examples.superseded,
            "transactions": len(examples),
            "fraudRate": float(labels.mean()),
            "labelSources": dict(sorted(Counter(examples.label_source).items())),
            "decisions": dict(sorted(Counter(examples.decisions).items())),
            "featureSets": set_counts,
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
        "foldScheme": {
            "method": (f"prequential: {args.folds} weekly folds ending at the maturity horizon; each trains on everything before its test week "
                       f"minus a {args.gap_days} d label-delay gap; the last {args.valid_days} d of its train period are the inner validation "
                       "slice (early stopping, hyper-parameter choice, Platt calibration); the test week chooses nothing"),
            "requested": args.folds,
            "foldDays": args.fold_days,
            "gapDays": args.gap_days,
            "validDays": args.valid_days,
            "matureUntil": iso_time(mature_to),
            "maturityWindowDays": None if maturity is None else maturity / DAY_MS,
            "skipped": skipped,
            "baseline": BASELINE_DESCRIPTION,
        },
        "folds": fold_rows,
        "foldSummary": fold_summary(fold_rows) if fold_rows else None,
        "search": {
            "budget": args.search_budget,
            "seed": args.seed,
            "selectedBy": ("mean average precision on the folds' inner validation slices" if folds
                           else "average precision on the final model's validation slice (no usable fold)" if data else "no usable validation slice: the default configuration"),
            "chosen": chosen,
            "configs": search_rows,
            "classImbalance": IMBALANCE_NOTE,
        },
        "calibration": {
            "method": ("Platt scaling (sigmoid(a * raw + b)) fitted on the train period's last days, baked into the ONNX leaf weights"
                       + ("; fitted on the scores of the early-stopped model that had not seen those days, then applied to the model refitted "
                          "on them (same configuration and tree counts)" if final_refit else "")),
            "a": platt.a,
            "b": platt.b,
            **({"note": platt.note} if platt.note else {}),
            "test": {
                "brierUncalibrated": brier(y_test, sigmoid(raw_test)),
                "brierCalibrated": brier(y_test, test_scores.astype(float)),
                "reliabilityUncalibrated": reliability(y_test, sigmoid(raw_test)),
                "reliabilityCalibrated": reliability(y_test, test_scores.astype(float)),
            },
        },
        "featureImportance": importances(booster, features, x_test, platt.a, args.seed),
        "thresholds": thresholds,
        "thresholdPolicy": {"reviewAlertRate": args.review_alert_rate, "declineAlertRate": args.decline_alert_rate, "on": "test-period scores of the ONNX graph (calibrated)"},
        "referenceValues": reference_values(feature_matrix(examples, features, split.train), features),
        "referenceValuesAre": REFERENCE_VALUES_ARE,
        "referenceDistributions": reference_distributions(feature_matrix(examples, features, split.train), features, test_scores),
        "hyperparameters": hyperparameters,
        "warnings": warnings,
        "notes": [n for n in [training_note] if n],
        "intendedUse": "Candidate to replace the parent model: release it as shadow or canary first and compare on live traffic before making it champion.",
        "trainedAt": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "trainingSeconds": round(time.perf_counter() - started, 2),
    }
    json_path, md_path = write_card(args.out_dir, card)

    if args.dump_predictions:
        booster_scores = booster_predict(x_test)
        test_rows = np.flatnonzero(split.test)
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

    print_summary(card, [model_path, trees_path, json_path, md_path])
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
    for line in fold_lines(card):
        print("  " + line)
    cal = card["calibration"]
    print(f"  calibration Platt a={cal['a']:.4f} b={cal['b']:.4f}; test Brier {cal['test']['brierUncalibrated']:.5f} uncalibrated -> {cal['test']['brierCalibrated']:.5f}")
    top = card["featureImportance"][:5]
    print("  top features (mean |SHAP|, gain share): " + ", ".join(f"{r['feature']} {r['meanAbsShap']:.3f} {r['gainShare']:.0%}" for r in top))
    t, policy = card["thresholds"], card["thresholdPolicy"]
    print(f"  thresholds review >= {t['review']:.4f} ({policy['reviewAlertRate']:.1%} alerts), decline >= {t['decline']:.4f} ({policy['declineAlertRate']:.1%})")
    print(f"  onnx vs booster max |diff| {card['metrics']['onnxBoosterMaxAbsDiff']:.1e}; trained in {card['trainingSeconds']} s")
    for w in card["warnings"]:
        print(f"  warning: {w}")
    print(f"  wrote {', '.join(str(p) for p in written)}")


if __name__ == "__main__":
    sys.exit(main())
