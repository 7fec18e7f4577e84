"""The model card of a trained model: JSON for machines (the registry reads version, artifact,
sha256, features, thresholds and referenceValues from it; see specFromModelCard in
processors/modelRegistry.ts) and Markdown for the people who approve a release.

The JSON has the bootstrap card's fields (training/bootstrap_model.py) with the same meaning, plus
what only a model trained on real labels has: the split, per-day metrics, the parent model and its
metrics on the same rows, and warnings about the data.
"""

from __future__ import annotations

import json
from pathlib import Path


def _fmt(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def scored_metrics(parent_metrics: dict | None) -> dict | None:
    """The parent's metrics when it could score the test period at all, else None."""
    return parent_metrics if parent_metrics and "aucRoc" in parent_metrics else None


def metric_rows(new: dict, parent: dict | None) -> list[tuple[str, str, str]]:
    """(metric, new, parent) rows shared by the Markdown card and the console summary."""
    k = new["precisionAtK"]
    rows = [
        ("AUC ROC", _fmt(new["aucRoc"]), _fmt(parent["aucRoc"]) if parent else "-"),
        ("average precision", _fmt(new["averagePrecision"]), _fmt(parent["averagePrecision"]) if parent else "-"),
        (f"{k['unit']} precision@{k['k']}, mean of days", _fmt(k["mean"]), _fmt(parent["precisionAtK"]["mean"]) if parent else "-"),
    ]
    parent_days = {d["day"]: d for d in parent["precisionAtK"]["perDay"]} if parent else {}
    for day in k["perDay"]:
        other = parent_days.get(day["day"])
        rows.append((
            f"  {day['day']} ({day['units']} {k['unit']}s, {day['fraudUnits']} fraud)",
            _fmt(day["precision"], 3),
            _fmt(other["precision"], 3) if other else "-",
        ))
    return rows


def _cell(metrics: dict | None, key: str) -> str:
    if not metrics or "aucRoc" not in metrics:
        return "-"
    return _fmt(metrics["precisionAtK"]["mean"] if key == "precisionAtK" else metrics[key])


FOLD_METRICS = (("aucRoc", "AUC"), ("averagePrecision", "AP"), ("precisionAtK", "P@k"))


def fold_table(card: dict) -> list[list[str]]:
    """Rows (header first) of the per-fold comparison: candidate, logistic-regression baseline, parent."""
    header = ["fold", "test week", "rows", "fraud"] + [f"{label} {model}" for _, label in FOLD_METRICS for model in ("cand", "LR", "parent")]
    rows = [header]
    for f in card.get("folds") or []:
        rows.append([str(f["fold"]), f["testFrom"][:10], str(f["testRows"]), str(f["testFraud"])]
                    + [_cell(f.get(model), key) for key, _ in FOLD_METRICS for model in ("candidate", "baseline", "parent")])
    summary = card.get("foldSummary")
    if summary:
        for stat in ("mean", "std", "min"):
            cells = []
            for key, _ in FOLD_METRICS:
                for model in ("candidate", "baseline", "parent"):
                    m = summary.get(model)
                    cells.append(_fmt(m[key][stat]) if m else "-")
            rows.append([stat, "", "", ""] + cells)
    return rows


def fold_lines(card: dict) -> list[str]:
    """The fold comparison for the console."""
    scheme = card.get("foldScheme") or {}
    out = [f"prequential folds ({len(card.get('folds') or [])} of {scheme.get('requested')}, weekly, gap {scheme.get('gapDays')} d, "
           f"mature until {scheme.get('matureUntil')}); LR = logistic-regression baseline on the same folds"]
    for s in scheme.get("skipped") or []:
        out.append(f"  fold {s['fold']} ({s['testFrom'][:10]}) skipped: {s['reason']}")
    table = fold_table(card)
    if len(table) > 1:
        widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
        out += ["  " + "  ".join(c.rjust(widths[i]) for i, c in enumerate(r)) for r in table]
        summary = card["foldSummary"]
        out.append(f"  candidate beats LR on average precision in {summary['candidateBeatsBaselineOnAveragePrecision']} of {len(card['folds'])} folds")
        recipe = recipe_line(card)
        if recipe:
            out.append(f"  {recipe}")
    return out


def recipe_line(card: dict) -> str | None:
    """Per fold: the seed bag's boosted trees and the blend weight chosen on the fold's validation slice."""
    folds = card.get("folds") or []
    parts = []
    if any(f.get("memberTrees") for f in folds):
        parts.append("seed bag, boosted trees per member: " + "; ".join(f"fold {f['fold']} {'/'.join(map(str, f.get('memberTrees') or [f['trees']]))}" for f in folds))
    if any(f.get("blend") for f in folds):
        parts.append("blend weight of the trees (chosen on each fold's validation slice): "
                     + ", ".join(f"fold {f['fold']} {f['blend']['weight']:g}" if f.get("blend") else f"fold {f['fold']} -" for f in folds))
    return "; ".join(parts) or None


def write_card(out_dir: Path, card: dict) -> tuple[Path, Path]:
    json_path = out_dir / f"{card['version']}.card.json"
    md_path = out_dir / f"{card['version']}.card.md"
    json_path.write_text(json.dumps(card, indent=2) + "\n")
    md_path.write_text(markdown(card))
    return json_path, md_path


def markdown(card: dict) -> str:
    split, data, metrics = card["split"], card["data"], card["metrics"]
    parent, parent_metrics = card.get("parentModel"), scored_metrics(card.get("parentMetrics"))
    parent_name = parent["version"] if parent else "none"
    lines = [
        f"# Model card: {card['version']}",
        "",
        "| | |",
        "| --- | --- |",
        f"| artifact | `{card['artifact']}` (sha256 `{card['sha256']}`) |",
        f"| algorithm | {card['algorithm']} |",
        f"| parent model | {parent_name}{' (sha256 `' + parent['sha256'] + '`)' if parent else ''} |",
        f"| data window | {card['dataWindow']} |",
        f"| trained at | {card['trainedAt']} in {card['trainingSeconds']} s |",
        f"| thresholds | review >= {card['thresholds']['review']:.6f}, decline >= {card['thresholds']['decline']:.6f} |",
        f"| feature set | {card.get('feature_set_version') or 'not recorded (examples from before featureSetVersion)'} |",
        "",
        "## Data",
        "",
        f"{data['examplesRead']} training examples read, {data['supersededByCorrections']} superseded by a later label for the same "
        f"transaction, {data['transactions']} transactions (fraud rate {data['fraudRate']:.4f}). Features are the decision-time "
        "snapshots from the training topic, used as recorded: nothing is recomputed offline.",
        "",
        "| period | from | to (excl.) | rows | fraud |",
        "| --- | --- | --- | --- | --- |",
        f"| train | {split['trainFrom']} | {split['trainTo']} | {split['trainRows']} | {split['trainFraud']} |",
        f"| gap ({split['gapDays']} d, dropped) | {split['trainTo']} | {split['testFrom']} | {split['gapRows']} | {split['gapFraud']} |",
        f"| test ({split['testDays']} d) | {split['testFrom']} | {split['testTo']} | {split['testRows']} | {split['testFraud']} |",
        "",
        *([f"The train period's last days, from {split['validFrom']} ({split['validRows']} rows, {split['validFraud']} fraud), are its validation "
           "slice: the trees are fitted on the rows before it, early-stopped and Platt-calibrated on it.", ""] if "validFrom" in split else []),
        f"Label sources: {', '.join(f'{k} {v}' for k, v in sorted(data['labelSources'].items()))}. "
        f"Decisions taken: {', '.join(f'{k} {v}' for k, v in sorted(data['decisions'].items()))}.",
        "",
        "## Metrics on the test period",
        "",
        f"Same test rows for both models; precision@{metrics['precisionAtK']['k']} counts {metrics['precisionAtK']['unit']}s "
        f"({data['precisionUnitNote']}).",
        "",
        f"| metric | {card['version']} | {parent_name} |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {m.strip()} | {a} | {b} |" for m, a, b in metric_rows(metrics, parent_metrics)]
    not_scored = (card.get("parentMetrics") or {}).get("rowsNotScored")
    if not_scored:
        lines += ["", f"The parent could not score {not_scored} test rows (a feature missing and no NaN support); its metrics leave them out."]
    lines += [
        "",
        f"ONNX export vs LightGBM booster, max |difference| on the test rows (and with 30% of cells blanked): {metrics['onnxBoosterMaxAbsDiff']:.2e}.",
        "",
        "## Prequential folds",
        "",
        (card.get("foldScheme") or {}).get("method", ""),
        "",
        f"Baseline: {(card.get('foldScheme') or {}).get('baseline', '')}.",
        "",
    ]
    table = fold_table(card)
    if len(table) > 1:
        lines += ["| " + " | ".join(table[0]) + " |", "|" + " --- |" * len(table[0])] + ["| " + " | ".join(r) + " |" for r in table[1:]]
        lines += ["", f"The candidate beats the logistic regression on average precision in {card['foldSummary']['candidateBeatsBaselineOnAveragePrecision']} "
                  f"of {len(card['folds'])} folds (std is the population standard deviation over folds)."]
        recipe = recipe_line(card)
        if recipe:
            lines += ["", recipe[0].upper() + recipe[1:] + "."]
    else:
        lines += ["No usable fold."]
    for s in (card.get("foldScheme") or {}).get("skipped") or []:
        lines.append(f"- fold {s['fold']} ({s['testFrom'][:10]} .. {s['testTo'][:10]}) skipped: {s['reason']}")
    search = card.get("search") or {}
    if search:
        lines += ["", "## Hyper-parameter search", "",
                  f"{len(search['configs'])} configurations (budget {search['budget']}, seed {search['seed']}), chosen by {search['selectedBy']}; "
                  f"{search['classImbalance']}.", "",
                  "| # | leaves | min child | learning rate | feature fraction | class weight | mean valid AP | trees per slice |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for i, c in enumerate(search["configs"]):
            mark = " (chosen)" if i == search["chosen"] else ""
            lines.append(f"| {i}{mark} | {c['num_leaves']} | {c['min_child_samples']} | {c['learning_rate']} | {c['feature_fraction']} | {c['class_weight']} | "
                         f"{_fmt(c['meanValidAveragePrecision'])} | {', '.join(str(t) for t in c['trees'])} |")
    cal = card.get("calibration")
    if cal:
        t = cal["test"]
        lines += ["", "## Calibration", "", f"{cal['method']}: a = {cal['a']:.6f}, b = {cal['b']:.6f}.{' ' + cal['note'] if cal.get('note') else ''}",
                  f"Brier score on the test period: {t['brierUncalibrated']:.6f} uncalibrated, {t['brierCalibrated']:.6f} calibrated.", "",
                  "| probability bin | rows | mean predicted (uncal.) | observed (uncal.) | rows | mean predicted (cal.) | observed (cal.) |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for u, c in zip(t["reliabilityUncalibrated"], t["reliabilityCalibrated"]):
            lines.append(f"| {u['from']:g} .. {u['to']:g} | {u['rows']} | {_fmt(u['meanPredicted'])} | {_fmt(u['observedRate'])} | "
                         f"{c['rows']} | {_fmt(c['meanPredicted'])} | {_fmt(c['observedRate'])} |")
        fold_brier = [(f["fold"], f["calibration"]["brierUncalibrated"], f["calibration"]["brierCalibrated"]) for f in card.get("folds") or []]
        if fold_brier:
            lines += ["", "Per fold (Platt fitted on the fold's validation slice, Brier on its test week): "
                      + "; ".join(f"fold {i} {u:.5f} -> {c:.5f}" for i, u, c in fold_brier) + "."]
    if card.get("featureImportance"):
        lines += ["", "## Feature importance", "", "Gain: total loss reduction of the feature's splits. Mean |SHAP|: mean absolute TreeSHAP "
                  "contribution in calibrated log-odds over the test rows (up to 2000).", "",
                  "| feature | mean abs SHAP | gain | gain share | splits |", "| --- | --- | --- | --- | --- |"]
        lines += [f"| `{r['feature']}` | {r['meanAbsShap']:.4f} | {r['gain']:.1f} | {r['gainShare']:.1%} | {r['splits']} |" for r in card["featureImportance"]]
    lines += [
        "",
        "## Thresholds",
        "",
        f"Chosen on the test period's ONNX scores for alert rates of {card['thresholdPolicy']['reviewAlertRate']:.2%} (review) "
        f"and {card['thresholdPolicy']['declineAlertRate']:.2%} (decline).",
        "",
        f"## Features ({len(card['features'])}, input order)",
        "",
        ", ".join(f"`{f}`" for f in card["features"]),
        "",
    ]
    if card["warnings"]:
        lines += ["## Warnings", ""] + [f"- {w}" for w in card["warnings"]] + [""]
    lines += ["## Intended use", "", card["intendedUse"], ""]
    return "\n".join(lines)
