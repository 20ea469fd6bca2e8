"""The task list that trains the `long` settings of an experiment notebook in two processes, kept for provenance and
to resume. Usage: python results/long/train_workers.py [lm_schedules|collapse_map|pretrain_classify]

Start two of these side by side (each claims a task with os.mkdir, so no setting is trained twice; each run folder
is also locked by the process training it):

    mkdir -p /tmp/work/claims_long
    SEQVAE_DATA=... .venv/bin/python results/long/train_workers.py > /tmp/work/worker_a.log 2>&1 &
    SEQVAE_DATA=... .venv/bin/python results/long/train_workers.py > /tmp/work/worker_b.log 2>&1 &

A finished setting is reused (its result.json), an unfinished one resumes from its last checkpoint. The settings are
read from the notebook's own `SETTINGS` cell (`seqvae.lab.grid.notebook_grid`) and trained under its own `Experiment.seed_grid` names and preset, so
the notebook (`seqvae reproduce --scale long --only NAME --out results/long`) reuses every one. A setting whose
configuration equals a finished lm_schedules run (same run key) is copied from there, not trained again."""
import os, shutil, sys, time, traceback
from pathlib import Path
REPO = Path(__file__).resolve().parents[2]
os.chdir(REPO)
from seqvae.lab.grid import notebook_grid, run_folder
from seqvae.lab.presets import override
NAME = sys.argv[1] if len(sys.argv) > 1 else "lm_schedules"
CLAIMS = Path(os.environ.get("SEQVAE_CLAIMS", f"/tmp/work/claims_long{'' if NAME == 'lm_schedules' else '_' + NAME}"))
OUT = REPO/"results"/"long"
ex, SETTINGS = notebook_grid(NAME, scale="long", seed=0, device="cpu", threads=1, out_dir=str(OUT/NAME))
p = ex.preset                                                  # the notebook's own grid, as it runs it
if NAME == "lm_schedules":                                     # the compared pair first, then the side settings
    pair, side = ("monotonic", "cyclical"), ("constant", "cyclical + lr restarts")
    tasks = [(n, s) for s in range(p.seeds) for n in pair] + [(n, s) for s in range(p.side_seeds) for n in side]
else: tasks = [(n, s) for s in range(p.seeds) for n in SETTINGS]

def copy_from_lm_schedules(name: str, seed: int) -> bool:
    "Copy a finished lm_schedules run folder with the same run key into this setting's folder; True when copied."
    target = run_folder(ex.out/"runs", f"{name}, seed {seed}", override(ex.base, **{**SETTINGS[name], "seed": seed}))
    key = target.name.rsplit("-", 1)[1]
    need = ("result.json", "last.pt") if NAME == "pretrain_classify" else ("result.json",)   # it reloads the model
    found = [d for d in (OUT/"lm_schedules"/"runs").glob(f"*-{key}") if all((d/f).is_file() for f in need)]
    if not found or target.exists(): return False
    skip = (".lock", "lock.json") + (() if NAME == "pretrain_classify" else ("*.pt",))
    shutil.copytree(found[0], target, ignore=shutil.ignore_patterns(*skip))
    print("copied", found[0].name, "->", target.name, flush=True)
    return True

CLAIMS.mkdir(parents=True, exist_ok=True)
for i, (name, seed) in enumerate(tasks):
    try: (CLAIMS/f"{i:02d}").mkdir()
    except FileExistsError: continue
    t0 = time.time()
    print(time.strftime("%H:%M:%S"), "start", i, name, seed, flush=True)
    try:
        if NAME != "lm_schedules": copy_from_lm_schedules(name, seed)
        t = ex.grid({f"{name}, seed {seed}": {**SETTINGS[name], "seed": seed}})
        print({k: {m: v.row.get(m) for m in ("kl", "au", "elbo", "nll", "mi_dataset")} for k, v in t.items()}, flush=True)
    except Exception:
        traceback.print_exc()
    print(time.strftime("%H:%M:%S"), "end", i, f"{(time.time() - t0) / 60:.1f} min", flush=True)
