"""The task list that trains the `long` lm_schedules settings in two processes, kept for provenance and to resume.

Start two of these side by side (each claims a task with os.mkdir, so no setting is trained twice):

    mkdir -p /tmp/work/claims_long
    SEQVAE_DATA=... .venv/bin/python results/long/train_workers.py > /tmp/work/worker_a.log 2>&1 &
    SEQVAE_DATA=... .venv/bin/python results/long/train_workers.py > /tmp/work/worker_b.log 2>&1 &

A finished setting is reused (its result.json), an unfinished one resumes from its last checkpoint. The settings are
read from the notebook's own `SETTINGS` cell and trained by its own `Experiment.seed_grid` names and preset, so the
notebook (`seqvae reproduce --scale long --only lm_schedules --out results/long`) reuses every one."""
import json, os, sys, time, traceback
from pathlib import Path
REPO = Path(__file__).resolve().parents[2]
os.chdir(REPO)
from seqvae.runs import setup
CLAIMS = Path(os.environ.get("SEQVAE_CLAIMS", "/tmp/work/claims_long"))
ex = setup("lm_schedules", dict(scale="long", seed=0, device="cpu", threads=1, out_dir=str(REPO/"results/long/lm_schedules")))
cell = next("".join(c["source"]) for c in json.loads((REPO/"nbs/experiments/lm_schedules.ipynb").read_text())["cells"]
            if c["cell_type"] == "code" and "SETTINGS = {" in "".join(c["source"]))
scope = {"ex": ex}
exec(cell, scope)                                              # p = ex.preset; SETTINGS = {...}, as the notebook runs it
SETTINGS, p = scope["SETTINGS"], ex.preset
pair, side = ("monotonic", "cyclical"), ("constant", "cyclical + lr restarts")
tasks = [(n, s) for s in range(p.seeds) for n in pair] + [(n, s) for s in range(p.side_seeds) for n in side]
CLAIMS.mkdir(parents=True, exist_ok=True)
for i, (name, seed) in enumerate(tasks):
    try: (CLAIMS/f"{i:02d}").mkdir()
    except FileExistsError: continue
    t0 = time.time()
    print(time.strftime("%H:%M:%S"), "start", i, name, seed, flush=True)
    try:
        t = ex.grid({f"{name}, seed {seed}": {**SETTINGS[name], "seed": seed}})
        print({k: {m: v.row.get(m) for m in ("kl", "au", "elbo", "nll", "mi_dataset")} for k, v in t.items()}, flush=True)
    except Exception:
        traceback.print_exc()
    print(time.strftime("%H:%M:%S"), "end", i, f"{(time.time() - t0) / 60:.1f} min", flush=True)
    sys.stdout.flush()
