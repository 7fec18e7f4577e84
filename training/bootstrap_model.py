"""Builds the bootstrap fraud model and a tiny test model, and writes them to models/.

The risk loop needs a champion before any label has come back, so the first model is trained on a
synthetic, seeded data set over exactly the feature names the hot path produces. Its labels come
from a documented fraud-generating rule (fraud_logit() below), so the model learns real structure
(card-testing bursts, impossible travel, blocked devices, new accounts, ...) and a test can check
that it ranks a fraudulent vector above a legitimate one. It is a placeholder until the training
pipeline has real labels: its data window is "synthetic" in the model card, on purpose.

Outputs (committed, so tests and the demo need no Python):
  models/bootstrap-v1.onnx       LightGBM, 50 trees, exported with zipmap off: outputs `label` [N]
                                 and `probabilities` [N, 2] (column 1 = fraud probability).
  models/bootstrap-v1.card.json  version, features, holdout AUC, thresholds, sha256, reference values.
  models/test-order.onnx         a linear model whose score spells its inputs in metadata order, for
  models/test-order.card.json    the scorer's "feature order comes from the model" test.

Both ONNX files carry metadata_props: `feature_names` (JSON array, the input column order),
`model_version`, and for the tree model `missing_values` = "nan" (LightGBM routes NaN down each
split's learned default branch, and the ONNX TreeEnsemble keeps that routing), which tells the
scorer it may feed NaN for a feature the context lacks. Before writing, the script checks that the
exported graph scores the holdout, and the holdout with 30% of its cells blanked to NaN, within 1e-5
of the LightGBM booster.

Usage:  .venv/bin/python training/bootstrap_model.py [--out models]
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime, timezone
from pathlib import Path

import lightgbm as lgb
import numpy as np
import onnx
from onnx import TensorProto, helper
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from riskloop_training.onnx_export import (
    IR_VERSION,
    PARITY_TOLERANCE,
    TARGET_OPSET,
    lightgbm_to_onnx,
    onnx_scores,
    open_session,
    parity,
    set_metadata,
    sha256,
)
from riskloop_training.reference import REFERENCE_VALUES_ARE, reference_distributions, reference_values

MODEL_VERSION = "bootstrap-v1"
DATA_LEARNED_FROM = (
    "60 000 synthetic feature vectors drawn independently by generate() in this script, labelled by the hand-written "
    "rule fraud_logit() (card-testing bursts, impossible travel, blocked devices, new accounts, ...). No transaction "
    "stream, no simulator run, no real or simulated chargeback: it has learned that rule, not fraud."
)
INTENDED_USE = (
    "Shadow model at cold start: scored and recorded beside the rules, which decide, until the first model retrained "
    "on the loop's own labels is released (docs/training.md 'Results', 'Cold start'). Not validated on real traffic; "
    "on traffic from another generator it ranks fraud only weakly (see evaluations)."
)
EVALUATIONS_FILE = "bootstrap-v1.evaluations.json"


def evaluations(out: Path) -> list:
    """The recorded evaluations (models/bootstrap-v1.evaluations.json), kept when the card is rebuilt."""
    f = out / EVALUATIONS_FILE
    return json.loads(f.read_text()) if f.exists() else []
SEED = 20261125
ROWS = 60_000
HOLDOUT_SHARE = 0.25
# Alert rates the thresholds are chosen for: the share of holdout transactions at or above them.
REVIEW_ALERT_RATE = 0.02
DECLINE_ALERT_RATE = 0.005

# The hot path's feature names, in the model's input order. The scorer reads this order from the
# model's metadata, never from here.
FEATURES = [
    "card.count_1m",
    "card.count_1h",
    "card.sum_1h",
    "account.count_24h",
    "account.sum_24h",
    "account.distinct_merchants_24h",
    "account.distinct_countries_24h",
    "card.secs_since_prev",
    "account.amount_zscore_30d",
    "travel.speed_kmh",
    "travel.impossible",
    "kyc.account_age_days",
    "kyc.risk_tier",
    "kyc.pep",
    "kyc.sanctioned",
    "kyc.missing",
    "device.blocked",
    "device.emulator",
    "device.rooted",
    "device.accounts_seen",
    "device.missing",
    "txn.amount_minor",
    "txn.card_present",
    "txn.channel_ecom",
    "txn.hour_of_day",
]

# Share of rows drawn from attack patterns rather than ordinary traffic; without them the risky
# combinations would be too rare for 50 trees to learn.
ATTACK_SHARE = 0.04
IMPOSSIBLE_TRAVEL_KMH = 900.0


def generate(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Synthetic feature rows: ordinary traffic plus card-testing and account-takeover patterns.

    Missing values look as the hot path makes them, so that training matches serving:
     - velocity and travel leave a feature out when there is nothing to compute it from (no previous
       card transaction, too little history for a z-score, no location): NaN here;
     - enrichment (processors/enrich.ts) sets a flag and fills defaults instead: no KYC row gives
       kyc.missing = 1, account age 0, risk tier 2 (HIGH), pep/sanctioned 0; no device row gives
       device.missing = 1 and blocked/emulator/rooted/accounts_seen 0.
    """
    f: dict[str, np.ndarray] = {}
    kind = rng.choice(3, size=n, p=[1 - ATTACK_SHARE, ATTACK_SHARE / 2, ATTACK_SHARE / 2])
    card_testing = kind == 1
    takeover = kind == 2

    card_present = (rng.random(n) < 0.55) & ~card_testing & ~takeover
    f["txn.card_present"] = card_present.astype(float)
    f["txn.channel_ecom"] = ((~card_present) & (rng.random(n) < 0.9)).astype(float)
    f["txn.hour_of_day"] = np.where(takeover, rng.integers(0, 24, n), np.clip(np.round(rng.normal(14, 4.5, n)), 0, 23) % 24)
    amount = np.round(np.exp(rng.normal(np.log(4_000), 1.0, n)))
    amount = np.where(card_testing, rng.integers(50, 600, n), amount)
    amount = np.where(takeover, np.round(np.exp(rng.normal(np.log(40_000), 0.8, n))), amount)
    f["txn.amount_minor"] = amount

    count_1m = rng.poisson(0.15, n) + np.where(card_testing, rng.integers(3, 20, n), 0)
    count_1h = count_1m + rng.poisson(0.8, n) + np.where(takeover, rng.poisson(3, n), 0)
    f["card.count_1m"] = count_1m.astype(float)
    f["card.count_1h"] = count_1h.astype(float)
    f["card.sum_1h"] = amount + np.maximum(count_1h - 1, 0) * np.where(card_testing, amount, np.round(np.exp(rng.normal(np.log(3_000), 1.0, n))))
    count_24h = count_1h + rng.poisson(2.5, n)
    f["account.count_24h"] = count_24h.astype(float)
    f["account.sum_24h"] = f["card.sum_1h"] + (count_24h - count_1h) * np.round(np.exp(rng.normal(np.log(3_000), 1.0, n)))
    f["account.distinct_merchants_24h"] = np.minimum(count_24h, 1 + rng.binomial(np.maximum(count_24h - 1, 0), np.where(card_testing, 0.9, 0.5))).astype(float)
    f["account.distinct_countries_24h"] = (1 + rng.binomial(2, np.where(takeover, 0.5, 0.03))).astype(float)
    secs = np.where(count_1m > 1, rng.uniform(1, 60, n), rng.exponential(6 * 3600, n))
    f["card.secs_since_prev"] = np.where(rng.random(n) < 0.05, np.nan, np.round(secs))
    zscore = rng.normal(0, 1, n) + np.where(takeover, rng.uniform(2, 6, n), 0)
    f["account.amount_zscore_30d"] = np.where(rng.random(n) < 0.1, np.nan, zscore)
    speed = np.exp(rng.normal(2.0, 1.5, n))
    speed = np.where(takeover & (rng.random(n) < 0.4), rng.uniform(1_000, 5_000, n), speed)
    speed = np.where(rng.random(n) < 0.3, np.nan, speed)
    f["travel.speed_kmh"] = speed
    f["travel.impossible"] = np.where(np.isnan(speed), np.nan, (speed > IMPOSSIBLE_TRAVEL_KMH).astype(float))

    kyc_missing = rng.random(n) < 0.03
    age = np.round(rng.exponential(700, n))
    age = np.where(takeover & (rng.random(n) < 0.5), rng.integers(0, 30, n), age)
    tier = rng.choice(3, size=n, p=[0.7, 0.25, 0.05]).astype(float)
    f["kyc.missing"] = kyc_missing.astype(float)
    f["kyc.account_age_days"] = np.where(kyc_missing, 0.0, age)
    f["kyc.risk_tier"] = np.where(kyc_missing, 2.0, tier)
    f["kyc.pep"] = np.where(kyc_missing, 0.0, (rng.random(n) < 0.01).astype(float))
    f["kyc.sanctioned"] = np.where(kyc_missing, 0.0, (rng.random(n) < 0.001).astype(float))

    device_missing = np.where(card_present, rng.random(n) < 0.9, rng.random(n) < 0.05)
    f["device.missing"] = device_missing.astype(float)
    f["device.blocked"] = np.where(device_missing, 0.0, (rng.random(n) < np.where(takeover, 0.1, 0.003)).astype(float))
    f["device.emulator"] = np.where(device_missing, 0.0, (rng.random(n) < np.where(takeover, 0.3, 0.01)).astype(float))
    f["device.rooted"] = np.where(device_missing, 0.0, (rng.random(n) < np.where(takeover, 0.3, 0.03)).astype(float))
    f["device.accounts_seen"] = np.where(device_missing, 0.0, (1 + rng.poisson(np.where(takeover, 2.0, 0.1), n)).astype(float))
    return f


def fraud_logit(f: dict[str, np.ndarray]) -> np.ndarray:
    """The documented rule the labels are drawn from: label ~ Bernoulli(sigmoid(logit)).

    Each term is a signal a fraud analyst would name; a missing input contributes nothing except
    through the explicit kyc.missing term (no KYC row is itself suspicious).
    """
    z = lambda name: np.nan_to_num(f[name], nan=0.0)  # noqa: E731 - a missing signal adds nothing
    logit = np.full(len(f["txn.amount_minor"]), -6.0)
    logit += 1.6 * (z("card.count_1m") >= 4)  # card-testing burst
    logit += 0.8 * ((z("card.count_1m") >= 4) & (f["txn.amount_minor"] < 1_000))  # ... of small amounts
    logit += 0.35 * np.log1p(z("card.count_1h"))
    logit += 2.5 * z("travel.impossible")
    logit += 3.0 * z("device.blocked")
    logit += 1.2 * z("device.emulator")
    logit += 0.5 * z("device.rooted")
    logit += 0.6 * np.clip(z("device.accounts_seen") - 1, 0, 4)  # 0 without a device: no term
    logit += 0.7 * np.clip(z("account.amount_zscore_30d"), 0, 5)
    logit += 1.0 * ((z("kyc.account_age_days") < 30) & (f["kyc.missing"] == 0))
    logit += 0.8 * ((z("kyc.risk_tier") == 2) & (f["kyc.missing"] == 0))
    logit += 2.0 * z("kyc.sanctioned")
    logit += 0.8 * f["kyc.missing"]
    logit += 0.9 * f["txn.channel_ecom"]
    logit += 0.5 * (f["txn.hour_of_day"] <= 5)
    logit += 0.4 * (f["account.distinct_countries_24h"] >= 3)
    return logit


def build_bootstrap(out: Path) -> None:
    started = time.perf_counter()
    rng = np.random.default_rng(SEED)
    f = generate(rng, ROWS)
    labels = (rng.random(ROWS) < 1 / (1 + np.exp(-fraud_logit(f)))).astype(int)
    x = np.column_stack([f[name] for name in FEATURES]).astype(np.float32)
    x_train, x_hold, y_train, y_hold = train_test_split(x, labels, test_size=HOLDOUT_SHARE, random_state=SEED, stratify=labels)

    model = lgb.LGBMClassifier(
        n_estimators=50,
        num_leaves=15,
        learning_rate=0.1,
        min_child_samples=40,
        subsample=1.0,
        colsample_bytree=1.0,
        random_state=SEED,
        deterministic=True,
        force_row_wise=True,
        n_jobs=1,
        verbose=-1,
    )
    model.fit(x_train, y_train)

    onnx_model = lightgbm_to_onnx(model.booster_, MODEL_VERSION, FEATURES)
    model_path = out / f"{MODEL_VERSION}.onnx"
    model_path.write_bytes(onnx_model.SerializeToString())

    # Score the holdout with the exported graph, not the booster: thresholds must match what the
    # hot path computes, and a converter that lost NaN routing would show up in the parity check.
    session = open_session(model_path)
    hold_scores = onnx_scores(session, x_hold)
    max_diff = parity(session, lambda rows: model.predict_proba(rows)[:, 1], x_hold, SEED + 1)
    if max_diff > PARITY_TOLERANCE:
        raise SystemExit(f"ONNX export differs from the booster by {max_diff}")
    auc = float(roc_auc_score(y_hold, hold_scores))
    review = float(np.quantile(hold_scores, 1 - REVIEW_ALERT_RATE))
    decline = float(np.quantile(hold_scores, 1 - DECLINE_ALERT_RATE))

    card = {
        "version": MODEL_VERSION,
        "artifact": model_path.name,
        "sha256": sha256(model_path),
        "algorithm": f"LightGBM {lgb.__version__} binary, 50 trees, 15 leaves; ONNX via onnxmltools (zipmap off)",
        "features": FEATURES,
        "missingValues": "nan",
        "scoreOutput": "probabilities[:, 1]",
        "dataWindow": "synthetic",
        "data": {
            "generator": "training/bootstrap_model.py generate() + fraud_logit(), seed %d" % SEED,
            "rows": ROWS,
            "fraudRate": float(labels.mean()),
            "holdoutRows": int(len(y_hold)),
            "holdoutFraud": int(y_hold.sum()),
        },
        "metrics": {"holdoutAuc": auc, "onnxBoosterMaxAbsDiff": max_diff},
        "thresholds": {"review": review, "decline": decline},
        "thresholdPolicy": {"reviewAlertRate": REVIEW_ALERT_RATE, "declineAlertRate": DECLINE_ALERT_RATE, "on": "holdout scores of the ONNX graph"},
        "referenceValues": reference_values(x_train, FEATURES),
        "referenceValuesAre": REFERENCE_VALUES_ARE,
        "referenceDistributions": reference_distributions(x_train, FEATURES, hold_scores),
        "dataLearnedFrom": DATA_LEARNED_FROM,
        # Measured outside this script (docs/training.md "Results"): how the model ranks traffic of
        # the project's simulator and of the second, independently written generator.
        "evaluations": evaluations(out),
        "intendedUse": INTENDED_USE,
        "trainedAt": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "trainingSeconds": round(time.perf_counter() - started, 2),
    }
    (out / f"{MODEL_VERSION}.card.json").write_text(json.dumps(card, indent=2) + "\n")
    print(f"{model_path}: AUC {auc:.4f}, review >= {review:.4f}, decline >= {decline:.4f}, fraud rate {labels.mean():.4f}")


# The test model: score = 0.1*x0 + 0.01*x1 + 0.001*x2 over the columns in metadata order, so with
# single-digit inputs the score spells the input digits in model order (0.123 = x0 1, x1 2, x2 3).
ORDER_FEATURES = ["order.c", "order.a", "order.b"]
ORDER_WEIGHTS = [0.1, 0.01, 0.001]


def build_test_order(out: Path) -> None:
    weights = helper.make_tensor("weights", TensorProto.FLOAT, [3, 1], ORDER_WEIGHTS)
    one = helper.make_tensor("one", TensorProto.FLOAT, [1, 1], [1.0])
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["features", "weights"], ["fraud"]),
            helper.make_node("Sub", ["one", "fraud"], ["legit"]),
            helper.make_node("Concat", ["legit", "fraud"], ["probabilities"], axis=1),
        ],
        "test_order",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, 3])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 2])],
        initializer=[weights, one],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", TARGET_OPSET)], producer_name="riskloop-training")
    model.ir_version = IR_VERSION
    # No missing_values entry: a linear model cannot take NaN, so the scorer must not feed it one.
    set_metadata(model, {"feature_names": json.dumps(ORDER_FEATURES), "model_version": "test-order"})
    onnx.checker.check_model(model)
    path = out / "test-order.onnx"
    path.write_bytes(model.SerializeToString())
    card = {
        "version": "test-order",
        "artifact": path.name,
        "sha256": sha256(path),
        "algorithm": "linear, hand-built ONNX graph (tests only)",
        "features": ORDER_FEATURES,
        "dataWindow": "none (not trained)",
        "thresholds": {"review": 0.5, "decline": 0.8},
        "referenceValues": {name: 0.0 for name in ORDER_FEATURES},
        "intendedUse": "Unit tests of feature ordering; never a production model.",
    }
    (out / "test-order.card.json").write_text(json.dumps(card, indent=2) + "\n")
    print(f"{path}: {ORDER_FEATURES} x {ORDER_WEIGHTS}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "models")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    build_bootstrap(args.out)
    build_test_order(args.out)


if __name__ == "__main__":
    main()
