"""Weight search for the "For you" channels on the *dev* half of bench/recommend.py's readers only.

Computes every channel once per (reader, month) with the model's own code, then scores weight settings
in numpy (seconds each). Prints recall@50 per setting; the chosen one goes into `Weights`' defaults.
    PYTHONPATH=src nice python bench/recommend_tune.py --vectors best
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recommend import Bench

from paperwire.recommend import ReaderSignals, fit_reader
from paperwire.recommend.channels import channels, zscore
from paperwire.recommend.selection import Weights

K = 50


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--readers", type=int, default=300)
    parser.add_argument("--vectors", default="static", choices=["static", "best"])
    parser.add_argument("--half", default="dev")
    parser.add_argument("--max-df", type=float, default=1.0)
    parser.add_argument("--min-df", type=int, default=1)
    parser.add_argument("--idf-power", type=float, default=1.0)
    parser.add_argument("--try", dest="trials", default="", help="JSON list of weight dicts to score as well")
    args = parser.parse_args()
    bench = Bench(args.readers, minilm=args.vectors == "best")
    readers = [r for r in bench.readers if r.half == args.half]
    if args.vectors == "best":
        readers = [r for r in readers if bench.minilm_complete(r)]
    blocks = []  # (channel dict of (R, N) arrays, relevant masks (R, N))
    for month, ids in bench.months.items():
        group = [r for r in readers if month in r.targets]
        settings = Weights(keyword_max_df=args.max_df, keyword_min_df=args.min_df, keyword_idf_power=args.idf_power)
        period = settings.period([bench.features(i, args.vectors) for i in ids], ())
        models = [
            fit_reader(ReaderSignals(tuple(bench.features(i, args.vectors) for i in r.library), ())) for r in group
        ]
        found = channels(models, period)
        relevant = np.zeros((len(group), len(ids)), dtype=bool)
        for row, reader in enumerate(group):
            relevant[row, [period.index[i] for i in reader.targets[month]]] = True
        blocks.append(({n: zscore(m) for n, m in found.items() if not n.startswith("_")}, relevant))
    names = list(blocks[0][0])
    print(f"{len(readers)} {args.half} readers; channels {names}")

    def recall(weights: dict[str, float]) -> float:
        values = []
        for found, relevant in blocks:
            score = sum(w * found[n] for n, w in weights.items() if w)
            top = np.argpartition(-score, K, axis=1)[:, :K]
            hits = np.take_along_axis(relevant, top, axis=1).sum(1)
            values.extend(hits / relevant.sum(1))
        return float(np.mean(values))

    for name in names:
        print(f"  {name} alone: {recall({name: 1.0}):.3f}")
    for trial in json.loads(args.trials) if args.trials else []:
        print(f"  {recall(dict(dict.fromkeys(names, 1.0), **trial)):.3f} {trial}")
    best = {n: 1.0 for n in names}
    best_value = recall(best)
    print(f"all at 1: {best_value:.3f}")
    grid = [0.0, 0.25, 0.5, 1.0, 1.5, 2.0]
    for _ in range(2):  # coordinate ascent
        for name, value in itertools.product(names, grid):
            trial = dict(best, **{name: value})
            got = recall(trial)
            if got > best_value + 1e-4:
                best, best_value = trial, got
                print(f"  {name}={value}: {got:.3f}", flush=True)
    print(f"best {best_value:.3f}: {best}")


if __name__ == "__main__":
    main()
