"""Is the fast path safe as the default? bfloat16 autocast with bfloat16 LSTMs against float32 on the headline setting.

The setting is lm_schedules' `cyclical` at the `long` scale (yelp_short, 12,000 steps), where the committed float32
runs are (`results/long/lm_schedules/runs/cyclical_seed_*`, seeds 0 to 4). This script trains seeds 0 to 2 of the
same setting with `TrainConfig(autocast=True, autocast_lstm=True)` into `results/long/precision/runs` (resumable from
`last.pt`), and judges them:

    SEQVAE_DATA=... python results/long/precision_equivalence.py train --seed 0    # 1 and 2 alike, two at a time
    python results/long/precision_equivalence.py verdict                            # -> results/long/precision/verdict.json

**The rule, fixed on 2026-12-08 before any bfloat16 run:** for each of the test ELBO, KL and active units, the mean
of the three bfloat16 seeds must lie within two standard deviations of the five committed float32 seeds (their
seed-to-seed spread) of the mean of float32 seeds 0 to 2. If both precisions have that spread, the difference of two
means of three seeds has 0.82 spreads of standard deviation, so equal true means fail a metric 1.4 % of the time, a
true shift of one spread fails 11 % of the time and a shift of two spreads half of the time: the rule catches gross
changes, not subtle ones. All three must hold for the default to change.

Training refuses a device without bfloat16 units (`seqvae.train.runtime.bf16_fast`): there bfloat16 is emulated and
the LSTM runs another kernel than on the hardware the default is for, so the run would not test the default.
`--emulated` trains anyway, and the verdict then says so.
"""
import argparse, json, os, statistics, sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUT = REPO/"results"/"long"/"precision"
FLOAT32 = REPO/"results"/"long"/"lm_schedules"/"runs"
SEEDS, METRICS, WIDTH = (0, 1, 2), ("elbo", "kl", "au"), 2.0
FAST = dict(autocast=True, autocast_lstm=True)


def float32_rows() -> dict:
    "seed -> the row of each committed float32 cyclical run at `long`."
    rows = {}
    for f in sorted(FLOAT32.glob("cyclical_seed_*/result.json")):
        seed = int(f.parent.name.split("_seed_")[1].split("-")[0])
        rows[seed] = json.loads(f.read_text())["row"]
    return rows


def bf16_rows() -> dict:
    "seed -> the row of each finished bfloat16 run (whether it was emulated is in `emulated_seed_*.json`)."
    rows = {}
    for f in sorted((OUT/"runs").glob("cyclical_bf16_seed_*/result.json")):
        seed = int(f.parent.name.split("_seed_")[1].split("-")[0])
        rows[seed] = json.loads(f.read_text())["row"]
    return rows


def verdict(f32: dict, fast: dict, emulated: bool) -> dict:
    "The rule of the module docstring on rows by seed; JSON-ready."
    missing = [s for s in SEEDS if s not in fast or s not in f32]
    if missing:
        return dict(done=False, missing_seeds=missing)
    out = dict(done=True, emulated=emulated, rule=f"|mean bf16 - mean float32| <= {WIDTH} x the float32 seeds' s.d.",
               seeds=list(SEEDS), float32_seeds_for_spread=sorted(f32), metrics={})
    for m in METRICS:
        sd = statistics.stdev(float(r[m]) for r in f32.values())
        a = statistics.mean(float(fast[s][m]) for s in SEEDS)
        b = statistics.mean(float(f32[s][m]) for s in SEEDS)
        out["metrics"][m] = dict(bf16_mean=a, float32_mean=b, difference=a - b, float32_sd=sd, margin=WIDTH * sd,
                                 bf16=[fast[s][m] for s in SEEDS], float32=[f32[s][m] for s in SEEDS],
                                 holds=abs(a - b) <= WIDTH * sd)
    out["holds"] = all(v["holds"] for v in out["metrics"].values()) and not emulated
    return out


def train(seed: int, emulated: bool):
    "Train bfloat16 seed `seed` of the headline setting (resumes a stopped run; reuses a finished one)."
    from seqvae.lab.grid import notebook_grid
    from seqvae.train.runtime import bf16_fast
    if not bf16_fast("cpu") and not emulated:
        raise SystemExit("this CPU has no bfloat16 units (seqvae.train.runtime.bf16_fast): the run would not test the "
                         "default; run it where it does, or pass --emulated to train anyway (labelled emulated)")
    os.chdir(REPO)
    ex, settings = notebook_grid("lm_schedules", scale="long", seed=0, device="cpu", threads=1, out_dir=str(OUT))
    name = f"cyclical bf16, seed {seed}"
    t = ex.grid({name: {**settings["cyclical"], **FAST, "seed": seed}})
    (OUT/"runs"/f"emulated_seed_{seed}.json").write_text(json.dumps(dict(emulated=emulated)))
    print({k: {m: v.row.get(m) for m in METRICS} for k, v in t.items()}, flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--seed", type=int, required=True, choices=SEEDS)
    t.add_argument("--emulated", action="store_true", help="train on a CPU without bfloat16 units (labelled)")
    sub.add_parser("verdict")
    a = p.parse_args(argv)
    if a.cmd == "train":
        train(a.seed, a.emulated)
        return 0
    flags = [json.loads(f.read_text())["emulated"] for f in (OUT/"runs").glob("emulated_seed_*.json")]
    res = verdict(float32_rows(), bf16_rows(), any(flags))
    OUT.mkdir(parents=True, exist_ok=True)
    tmp = OUT/"verdict.json.tmp"
    tmp.write_text(json.dumps(res, indent=1))
    tmp.replace(OUT/"verdict.json")
    print(json.dumps(res, indent=1))
    return 0 if res.get("holds") else 1


if __name__ == "__main__":
    sys.exit(main())
