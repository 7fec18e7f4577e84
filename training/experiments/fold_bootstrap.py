"""How much of a fold's AP difference between the candidate and the LR baseline is the week's draw?

Per fold of one export: the trainer's default recipe (bag of 5, monotone amount ratios, early-stopped on the
validation slice, then refitted on fit + validation rows with the counts x (fit + valid rows) / fit rows: the
`refitSmono` of refit_recipes.py, which gives train.py's per-fold figures exactly) and the LR baseline, both
scored on the test week; then a paired bootstrap of AP(candidate) - AP(LR) over the test week's **accounts**
(Poisson(1) weight per account, 1000 resamples, seed 20261204), because fraud comes in bursts on a few
compromised cards: resampling rows would treat 57 fraud payments on 14 accounts as 57 independent draws.

The configuration is the one the trainer's search chose, read from its card (`search.configs[search.chosen]`)
or from a refit_recipes.py search cache (`chosen`), so the search is not run again.

Usage: .venv/bin/python training/experiments/fold_bootstrap.py NAME EXPORT.jsonl CARD.json|SEARCH.json OUT.json
"""
import json, sys, time
from pathlib import Path
import numpy as np
from export_folds import load_export_folds
from refit_recipes import fit_bag, monotone_of, refit
from riskloop_training.baseline import fit_baseline, baseline_scores
from sklearn.metrics import average_precision_score as ap, roc_auc_score as auc

RESAMPLES = 1000
CONFIG_KEYS = ('num_leaves', 'min_child_samples', 'learning_rate', 'feature_fraction', 'class_weight')


def chosen_config(source: dict) -> dict:
    if 'search' in source:  # a model card
        return {k: source['search']['configs'][source['search']['chosen']][k] for k in CONFIG_KEYS}
    return source['chosen']  # refit_recipes.py's OUT.search.json


def main():
    name, path, cfg_path, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
    cfg = chosen_config(json.loads(cfg_path.read_text()))
    print(name, cfg, flush=True)
    t0 = time.time()
    ef = load_export_folds(path, name)
    mono = {'monotone_constraints': monotone_of(ef.features), 'monotone_constraints_method': 'intermediate'}
    units = np.array(ef.examples.units)
    rng = np.random.default_rng(20261204)
    rows = []
    for f, (xf, yf, xv, yv) in zip(ef.folds, ef.data):
        xt, yt = ef.test(f)
        xa, ya = np.vstack([xf, xv]), np.concatenate([yf, yv])
        lr = baseline_scores(fit_baseline(xa, ya), xt)
        _, trees = fit_bag(cfg, xf, yf, xv, yv, mono)
        cand = refit(cfg, xa, ya, trees, len(ya) / len(yf), mono).predict(xt, raw_score=True)
        _, account = np.unique(units[f.test], return_inverse=True)
        diffs = []
        for _ in range(RESAMPLES):
            w = rng.poisson(1.0, account.max() + 1)[account].astype(float)
            if (w * yt).sum() > 0:
                diffs.append(ap(yt, cand, sample_weight=w) - ap(yt, lr, sample_weight=w))
        diffs = np.array(diffs)
        r = {'fold': f.index, 'testFrom': f.summary(ef.labels)['testFrom'][:10], 'rows': int(len(yt)), 'fraud': int(yt.sum()),
             'fraudAccounts': int(len(set(units[f.test][yt == 1]))),
             'APcand': float(ap(yt, cand)), 'APLR': float(ap(yt, lr)), 'AUCcand': float(auc(yt, cand)), 'AUCLR': float(auc(yt, lr)),
             'diffCI90': [float(np.percentile(diffs, 5)), float(np.percentile(diffs, 95))], 'pCandBetter': float((diffs > 0).mean()),
             'trees': trees}
        rows.append(r)
        print(name, json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}), f'{time.time()-t0:.0f}s', flush=True)
    json.dump({'name': name, 'cfg': cfg, 'rows': rows}, open(out, 'w'), indent=1)


if __name__ == '__main__':
    main()
