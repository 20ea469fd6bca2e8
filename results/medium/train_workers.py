"""The task list behind the 2026-12-06 medium runs (pretrain_classify, pooling, collapse_map), kept for provenance.

Two of these, started side by side with SEQVAE_DATA set after `mkdir -p /tmp/work/claims`, each claim a task with
os.mkdir, so no setting is trained twice. Each setting is trained by the notebook's own `Experiment.grid` on the
same preset, so the notebooks reuse it."""
import os, subprocess, time, traceback
REPO = "/work/main"
os.chdir(REPO)
from seqvae.lab.grid import setup
def out(name): return f"{REPO}/results/medium/{name}"
def params(name): return dict(scale="medium", seed=0, device="auto", threads=1, out_dir=out(name))
POOL = {f"{p}, constant": dict(pooling=p, kind="constant") for p in ("last", "mean", "max")}
AGGR = ("last, aggressive + anneal", dict(pooling="last", kind="monotonic", ratio=0.25, aggressive=True, eval_every=200))
CMAP = {f"{k}, word dropout {wd:g}": dict(kind=k, word_dropout=wd) for k in ("constant", "cyclical") for wd in (0.0, 0.25, 0.5)}
tasks = [("set", "pooling", *AGGR, 0), ("nb", "pretrain_classify"), ("set", "pooling", *AGGR, 1), ("set", "pooling", *AGGR, 2)]
tasks += [("set", "pooling", n, ch, s) for s in (0, 1, 2) for n, ch in POOL.items()]
tasks += [("set", "collapse_map", n, ch, 0) for n, ch in CMAP.items()]
for i, task in enumerate(tasks):
    try: os.mkdir(f"/tmp/work/claims/{i:02d}")
    except FileExistsError: continue
    t0 = time.time()
    print(time.strftime("%H:%M:%S"), "start", i, task[:3], task[-1], flush=True)
    try:
        if task[0] == "nb":
            name = task[1]
            os.makedirs(out(name), exist_ok=True)
            subprocess.run([f"{REPO}/.venv/bin/papermill", f"nbs/experiments/{name}.ipynb", f"{out(name)}/{name}.ipynb",
                            "-k", "python3", "-p", "scale", "medium", "-p", "device", "auto", "-p", "out_dir", out(name)],
                           check=True)
        else:
            _, exp, name, ch, seed = task
            ex = setup(exp, params(exp))
            t = ex.grid({f"{name}, seed {seed}": {**ch, "seed": seed}})
            print({k: (v.row.get("kl"), v.row.get("au"), v.row.get("nll")) for k, v in t.items()}, flush=True)
    except Exception:
        traceback.print_exc()
    print(time.strftime("%H:%M:%S"), "end", i, f"{(time.time()-t0)/60:.1f} min", flush=True)
