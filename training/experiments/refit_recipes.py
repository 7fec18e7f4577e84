"""Issue 16, second round: recipes that use the validation week for the final fit, measured per fold against the LR baseline.

Why: in every fold the LR baseline is fitted on fit + validation rows, while the trees (bag or single) are
fitted on the fit rows only — the validation week serves early stopping, the search and calibration. So the
trees are a week behind the regression, and in fold 1 that is a quarter of their history. The recipes here
keep the validation week for every *choice* (configuration, tree counts, blend weight) and then refit on
fit + validation rows, as the baseline is.

Per fold, on the test week (nothing is chosen on it):
  LR           the trainer's baseline (fit + validation rows)
  bag5         train.py's default: the chosen config as a seed bag of 5, early-stopped on the validation slice
  refit1       bag5's members refitted on fit + validation rows with the tree counts early stopping chose
  refitS       the same with those counts scaled by (fit + valid rows) / fit rows
  bag5+blendR  bag5 blended with the regression refitted on fit + validation (w chosen on the validation slice
               with the regression of the fit rows)
  refit1+blendR, refitS+blendR   the same on the refitted bags
  mono         bag5 with monotone increasing constraints on the amount-ratio and z-score features
  refit1mono   mono refitted as refit1; refitSmono as refitS
  refit2       bag5 refitted with twice the early-stopped counts (does early stopping on log loss stop too soon?)
  mix          the mean raw score of bag5 and refitS (10 members: 5 that saw the validation week, 5 that did not);
               mixmono the same of mono and refitSmono

RECIPES=a,b,... (environment) computes only those (bag5 always), e.g. RECIPES=refitS,mix,mono,refitSmono,mixmono.

The search (train.py's: budget 10, seed 20261125, single boosters, mean validation AP) is cached in
OUT.search.json so that a second run on the same export skips it.

Usage: .venv/bin/python training/experiments/refit_recipes.py NAME EXPORT.jsonl [OUT.json]
"""
import json, os, sys, time
from pathlib import Path
import lightgbm as lgb
import numpy as np
from export_folds import DEFAULT_CONFIG, SEED, load_export_folds
from riskloop_training.gbm import fit, fit_bagged, linear_stage, search_space, lgb_params, bag_params, positive_weight
from riskloop_training.baseline import fit_baseline, baseline_scores
from riskloop_training.blend import choose_weight, average
from riskloop_training.hybrid import LinearStage
from sklearn.metrics import average_precision_score as ap

MEMBERS = 5
ALL = ['bag5', 'refit1', 'refitS', 'bag5+blendR', 'refit1+blendR', 'refitS+blendR', 'mono', 'refit1mono', 'refitSmono', 'refit2', 'mix', 'mixmono']
RECIPES = ['bag5'] + [r for r in os.environ['RECIPES'].split(',') if r != 'bag5'] if os.environ.get('RECIPES') else ALL


def monotone_of(features: list[str]) -> list[int]:
    """+1 on features where more means more suspicious by construction: amount over the entity's own mean/max, z-scores."""
    return [1 if ('amount_to_' in f or 'zscore' in f) else 0 for f in features]


def fit_bag(cfg, xf, yf, xv, yv, extra=None):
    """gbm.fit_bagged, with optional extra LightGBM params for every member."""
    if not extra:
        return fit_bagged(cfg, xf, yf, xv, yv, SEED, 1, 600, MEMBERS)
    fitted = [fit(cfg, xf, yf, xv, yv, SEED + i, 1, 600, None, {**bag_params(cfg), **extra}) for i in range(MEMBERS)]
    return average([f.booster for f in fitted]), [f.trees for f in fitted]


def refit(cfg, x, y, member_trees, scale=1.0, extra=None):
    """Each member again, same seed and subsampling, on x/y with its early-stopped tree count (times scale)."""
    boosters = []
    for i, t in enumerate(member_trees):
        params = {**lgb_params(cfg, positive_weight(cfg, y), SEED + i, 1), **bag_params(cfg), **(extra or {})}
        boosters.append(lgb.train(params, lgb.Dataset(x, y, params={'verbose': -1}), num_boost_round=max(1, int(round(t * scale)))))
    return average(boosters)


def main():
    name, path = sys.argv[1], Path(sys.argv[2])
    out = Path(sys.argv[3]) if len(sys.argv) > 3 else Path(f'{name}-refit-recipes.json')
    t0 = time.time()
    ef = load_export_folds(path, name)
    features, labels, folds, data, skipped = ef.features, ef.labels, ef.folds, ef.data, ef.skipped
    cache = out.with_suffix('.search.json')
    if cache.exists():
        cfg = json.loads(cache.read_text())['chosen']
    else:
        configs = search_space(SEED, 10, DEFAULT_CONFIG)
        means = []
        for c in configs:
            fs = [fit(c, xf, yf, xv, yv, SEED, 1, 600) for xf, yf, xv, yv in data]
            means.append(float(np.mean([f.valid_ap for f in fs])))
            print(name, 'config', c, round(means[-1], 4), [f.trees for f in fs], f'{time.time()-t0:.0f}s', flush=True)
        cfg = configs[max(range(len(configs)), key=lambda i: (means[i], -i))]
        cache.write_text(json.dumps({'chosen': cfg, 'means': means}))
    print(name, 'chosen', cfg, flush=True)
    mono = {'monotone_constraints': monotone_of(features), 'monotone_constraints_method': 'intermediate'}
    print(name, 'monotone features', [f for f, m in zip(features, mono['monotone_constraints']) if m], flush=True)
    rows = []
    for f, (xf, yf, xv, yv) in zip(folds, data):
        xt, yt = ef.test(f)
        xa, ya = np.vstack([xf, xv]), np.concatenate([yf, yv])
        base = fit_baseline(xa, ya)
        r = {'fold': f.index, 'testFrom': f.summary(labels)['testFrom'][:10], 'rows': int(len(yt)), 'fraud': int(yt.sum()),
             'LR': float(ap(yt, baseline_scores(base, xt)))}
        bag = fit_bagged(cfg, xf, yf, xv, yv, SEED, 1, 600, MEMBERS)
        scale = len(ya) / len(yf)
        want = lambda *names: any(n in RECIPES for n in names)  # noqa: E731
        models = {'bag5': bag.booster}
        if want('refit1', 'refit1+blendR'):
            models['refit1'] = refit(cfg, xa, ya, bag.member_trees)
        if want('refitS', 'refitS+blendR', 'mix'):
            models['refitS'] = refit(cfg, xa, ya, bag.member_trees, scale)
        if want('refit2'):
            models['refit2'] = refit(cfg, xa, ya, bag.member_trees, 2.0)
        mono_trees = None
        if want('mono', 'refit1mono', 'refitSmono', 'mixmono'):
            models['mono'], mono_trees = fit_bag(cfg, xf, yf, xv, yv, mono)
            if want('refit1mono'):
                models['refit1mono'] = refit(cfg, xa, ya, mono_trees, 1.0, mono)
            if want('refitSmono', 'mixmono'):
                models['refitSmono'] = refit(cfg, xa, ya, mono_trees, scale, mono)
        raw = {label: m.predict(xt, raw_score=True) for label, m in models.items()}
        if want('mix'):
            raw['mix'] = 0.5 * (raw['bag5'] + raw['refitS'])
        if want('mixmono'):
            raw['mixmono'] = 0.5 * (raw['mono'] + raw['refitSmono'])
        for label, v in raw.items():
            r[label] = float(ap(yt, v))
        # The blend: w chosen on the validation slice with the fit rows' regression and bag5 (neither fitted on it),
        # then the regression refitted on fit + validation (as the baseline) mixed in at that w.
        if want('bag5+blendR', 'refit1+blendR', 'refitS+blendR'):
            st_fit, st_all = linear_stage(xf, yf), LinearStage(fit_baseline(xa, ya), xa)
            w, _ = choose_weight(yv, bag.booster.predict(xv, raw_score=True), st_fit.predict(xv))
            lin_t = st_all.predict(xt)
            for label in ('bag5', 'refit1', 'refitS'):
                if label + '+blendR' in RECIPES:
                    r[label + '+blendR'] = float(ap(yt, w * raw[label] + (1 - w) * lin_t))
            r['w'] = w
        r['memberTrees'] = bag.member_trees; r['monoTrees'] = mono_trees; r['scale'] = round(scale, 3)
        rows.append(r)
        print(name, json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}), f'{time.time()-t0:.0f}s', flush=True)
    json.dump({'name': name, 'chosen': cfg, 'rows': rows, 'skipped': skipped}, open(out, 'w'), indent=1)
    for m in [m for m in RECIPES if m in rows[0]]:
        print(name, f'{m:14s}', 'wins', sum(r[m] > r['LR'] for r in rows), 'of', len(rows), 'mean', round(float(np.mean([r[m] for r in rows])), 3),
              'LR', round(float(np.mean([r['LR'] for r in rows])), 3), ' '.join(f"{r[m]:.3f}/{r['LR']:.3f}" for r in rows))


if __name__ == '__main__':
    main()
