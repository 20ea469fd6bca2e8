"""Where the long lm_schedules runs stand: per-seed test metrics of every finished run folder, and paired differences
of cyclical against monotonic over the seeds both have. An interim look while seeds are still training, not the
notebook's verdicts (those come from `seqvae reproduce --scale long --only lm_schedules --out results/long` once
every seed is done). Usage: python results/long/interim.py"""
import json, sys
from pathlib import Path
from seqvae.lab.claims import mean_ci, paired_t

RUNS = Path(__file__).resolve().parent/"lm_schedules"/"runs"
rows = []
for f in sorted(RUNS.glob("*/result.json")):
    r = json.loads(f.read_text())
    name, seed = r["name"].rsplit(", seed ", 1)
    rows.append({"setting": name, "seed": int(seed), **{k: r["row"].get(k) for k in
                 ("kl", "au", "mi_dataset", "elbo", "nll", "rec", "train_s")}})
print(f"{len(rows)} finished run(s) in {RUNS}")
keys = ("kl", "au", "mi_dataset", "elbo", "nll", "rec", "train_s")
print("| setting | seed | " + " | ".join(keys) + " |\n|" + "---|" * (len(keys) + 2))
for r in rows: print(f"| {r['setting']} | {r['seed']} | " + " | ".join(f"{r[k]:.4g}" for k in keys) + " |")
by = lambda n: {r["seed"]: r for r in rows if r["setting"] == n}
cyc, mono = by("cyclical"), by("monotonic")
seeds = sorted(set(cyc) & set(mono))
if len(seeds) >= 2:
    for k in ("kl", "au", "elbo", "nll"):
        md, hw, p = paired_t([cyc[s][k] - mono[s][k] for s in seeds])
        print(f"cyclical - monotonic, {k}: mean {md:.4g}, 95 % interval [{md - hw:.4g}, {md + hw:.4g}], p = {p:.2g} "
              f"over seeds {seeds} (interim: not a verdict)")
