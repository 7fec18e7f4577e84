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
