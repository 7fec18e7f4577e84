"""Per-fold average precision of the candidate recipes against the logistic-regression baseline, on one export.

The trainer's own folds and search (budget 10, seed 20261125, single boosters, chosen by mean validation AP,
as train.py), then per fold, on the test week: the LR baseline (fit + validation rows), the chosen single
booster, the seed bag of 5 (gbm.fit_bagged, train.py's default), and each blended with the regression of the
fold's fit rows (w chosen on the validation slice). Nothing is chosen on a test week. The figures of
docs/training.md (Seed bag and blend) came from this and from the same per-fold fits with bag 3, L2 and a
half/half average.

Usage: .venv/bin/python training/experiments/fold_recipes.py NAME EXPORT.jsonl [OUT.json]
"""
import json, sys, time
from pathlib import Path
import numpy as np
from export_folds import DEFAULT_CONFIG, SEED, load_export_folds
from riskloop_training.gbm import fit, fit_bagged, linear_stage, search_space
from riskloop_training.baseline import fit_baseline, baseline_scores
from riskloop_training.blend import choose_weight
from sklearn.metrics import average_precision_score as ap
name, path = sys.argv[1], Path(sys.argv[2])
t0 = time.time()
ef = load_export_folds(path, name)
folds, data, labels, skipped = ef.folds, ef.data, ef.labels, ef.skipped
configs = search_space(SEED, 10, DEFAULT_CONFIG)
fits, means = [], []
for c in configs:
    fs = [fit(c, xf, yf, xv, yv, SEED, 1, 600) for xf, yf, xv, yv in data]
    fits.append(fs); means.append(float(np.mean([f.valid_ap for f in fs])))
    print(name, 'config', c, round(means[-1], 4), [f.trees for f in fs], f'{time.time()-t0:.0f}s', flush=True)
chosen = max(range(len(configs)), key=lambda i: (means[i], -i)); cfg = configs[chosen]
print(name, 'chosen', chosen, cfg, flush=True)
rows = []
for f, single, (xf, yf, xv, yv) in zip(folds, fits[chosen], data):
    xt, yt = ef.test(f)
    bag = fit_bagged(cfg, xf, yf, xv, yv, SEED, 1, 600, 5)
    st = linear_stage(xf, yf)
    base = fit_baseline(np.vstack([xf, xv]), np.concatenate([yf, yv]))
    r = {'fold': f.index, 'testFrom': f.summary(labels)['testFrom'][:10], 'rows': int(len(yt)), 'fraud': int(yt.sum()), 'LR': float(ap(yt, baseline_scores(base, xt)))}
    for label, model in (('plain', single), ('bag5', bag)):
        tv, tt = model.booster.predict(xv, raw_score=True), model.booster.predict(xt, raw_score=True)
        r[label] = float(ap(yt, tt)); w, _ = choose_weight(yv, tv, st.predict(xv))
        r[label + '+blend'] = float(ap(yt, w * tt + (1 - w) * st.predict(xt))); r[label + '_w'] = w
    r['trees'] = single.trees; r['memberTrees'] = bag.member_trees
    rows.append(r); print(name, json.dumps(r), f'{time.time()-t0:.0f}s', flush=True)
out = Path(sys.argv[3]) if len(sys.argv) > 3 else Path(f'{name}-fold-recipes.json')
json.dump({'name': name, 'chosen': cfg, 'rows': rows, 'skipped': skipped}, open(out, 'w'), indent=1)
for m in ('plain', 'plain+blend', 'bag5', 'bag5+blend'):
    print(name, m, 'wins', sum(r[m] > r['LR'] for r in rows), 'of', len(rows), 'mean', round(np.mean([r[m] for r in rows]), 3), 'LR', round(np.mean([r['LR'] for r in rows]), 3))
