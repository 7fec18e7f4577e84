"""Why does the trainer's LR baseline rank a test week below chance? (handbook 6 fold 2: AUC 0.461)

Fits the baseline as the trainer does (fit + validation rows) and prints, for the 200 highest-scored test rows,
the features with the largest mean contribution (coefficient x standardised value), with the largest |z| each
reaches in the test week and in training; then the same regression with the test week's z-scores clipped to
±5 and ±10, to show how much of the collapse is extrapolation beyond the training range. A diagnosis of the
baseline only: nothing here changes the trainer or its baseline.

Usage: .venv/bin/python training/experiments/baseline_extrapolation.py NAME EXPORT.jsonl FOLD
"""
import sys
from pathlib import Path
import numpy as np
from export_folds import load_export_folds
from riskloop_training.baseline import fit_baseline, baseline_scores
from sklearn.metrics import roc_auc_score as auc, average_precision_score as ap


def main():
    name, path, k = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    ef = load_export_folds(path, name)
    f = ef.folds[k - 1]; xf, yf, xv, yv = ef.data[k - 1]
    xa, ya = np.vstack([xf, xv]), np.concatenate([yf, yv]); xt, yt = ef.test(f)
    pipe = fit_baseline(xa, ya); s = baseline_scores(pipe, xt)
    print('fold', k, 'AUC', round(auc(yt, s), 3), 'AP', round(ap(yt, s), 3))
    imp, sc, lr = pipe.named_steps['impute'], pipe.named_steps['scale'], pipe.named_steps['regression']
    names = list(ef.features) + ([ef.features[i] + '#missing' for i in imp.indicator_.features_] if imp.indicator_ is not None else [])
    zt = sc.transform(imp.transform(xt.astype(np.float64))); za = sc.transform(imp.transform(xa.astype(np.float64)))
    coef = lr.coef_[0]
    top = np.argsort(-s)[:200]
    print('top-200 scored test rows: fraud', int(yt[top].sum()))
    mean_c = (zt * coef)[top].mean(axis=0)
    for j in np.argsort(-np.abs(mean_c))[:8]:
        print(f'  {names[j]:45s} coef {coef[j]:+.3f} mean contrib top200 {mean_c[j]:+.2f}  max|z| test {np.abs(zt[:, j]).max():.1f} train {np.abs(za[:, j]).max():.1f}')
    for c in (5, 10):
        s2 = 1 / (1 + np.exp(-(np.clip(zt, -c, c) @ coef + lr.intercept_[0])))
        print(f'  same regression, test z clipped to ±{c}: AUC {auc(yt, s2):.3f} AP {ap(yt, s2):.3f}')


if __name__ == '__main__':
    main()
