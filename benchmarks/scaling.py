"""How training cost grows with sentence length and batch size: seqvae against the reference, side by side.

    python benchmarks/scaling.py --out results/bench/scaling --threads 1

Times `bench.bench_train` (interleaved rounds, medians) on random sentences of one length per sweep point, so every
variant sees the same token count: lengths 10 to 200 at batch 32, and batches 8 to 128 at length 25, for the
reference that follows He et al.'s code, seqvae in float32 (as is, and with subnormal floats flushed to zero) and
seqvae with bf16 autocast and bf16 LSTMs. Writes `scaling.json` (tokens per second, GFLOP/s and the speed-up over
the reference at every point, the machine and its load) and `scaling.png`. No corpus is needed: the cost of a step depends on the shapes, not on the words.
"""
import argparse, json, os, sys
from pathlib import Path
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench                                                        # noqa: E402
from seqvae.io import atomic_write_text                              # noqa: E402
from seqvae.model import VAEConfig                                   # noqa: E402

LENGTHS, BATCHES = (10, 25, 50, 100, 200), (8, 16, 32, 64, 128)
VARIANTS = ("ref", "fp32", "flush", "bf16_lstm")


def sentences(n: int, length: int, vocab: int, seed: int = 0) -> list[list[int]]:
    "`n` random sentences of `length` word ids (ids 4 and up: clear of the special tokens)."
    rng = np.random.default_rng(seed)
    return rng.integers(4, vocab, size=(n, length)).tolist()


def point(cfg: VAEConfig, length: int, batch: int, steps: int, rounds: int, seed: int = 0) -> dict:
    "One sweep point: tokens/s and GFLOP/s per variant, and each variant's speed-up over the reference."
    seqs = sentences(batch * (steps * rounds + 1), length, cfg.vocab_size, seed)
    res = bench.bench_train(cfg, seqs, VARIANTS, batch_size=batch, steps=steps, rounds=rounds, seed=seed)
    out = {v: dict(tokens_per_s=r["tokens_per_s"], gflops=r["gflops"]) for v, r in res.items()}
    for v in out:
        out[v]["speedup"] = out[v]["tokens_per_s"] / out["ref"]["tokens_per_s"]
    return dict(length=length, batch=batch, **out)


def measure(size="small", vocab=9085, lengths=LENGTHS, batches=BATCHES, at_batch=32, at_length=25, steps=3,
            rounds=3, threads=1, seed=0) -> dict:
    "Both sweeps, with the machine, its matmul peaks and the load average before and after."
    torch.set_num_threads(threads)
    E, H, D = bench.SIZES[size]
    cfg = VAEConfig(vocab, emb_dim=E, hidden_dim=H, latent_dim=D)
    load = [os.getloadavg()]
    by_length = [point(cfg, n, at_batch, steps, rounds, seed) for n in lengths]
    by_batch = [point(cfg, at_length, b, steps, rounds, seed) for b in batches]
    load.append(os.getloadavg())
    return dict(machine=bench.machine_info(), peaks=bench.machine_peaks(), threads=threads, size=size,
                model=dict(vocab_size=vocab, emb_dim=E, hidden_dim=H, latent_dim=D), steps=steps, rounds=rounds,
                load_avg=load, by_length=by_length, by_batch=by_batch)


def plot(r: dict, path: Path):
    "Tokens per second against length and against batch size, one line per variant, log-log."
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for ax, key, x in ((axes[0], "by_length", "length"), (axes[1], "by_batch", "batch")):
        pts = r[key]
        for v in VARIANTS:
            ax.plot([p[x] for p in pts], [p[v]["tokens_per_s"] for p in pts], "o-", label=v)
        fixed = f"batch {pts[0]['batch']}" if x == "length" else f"length {pts[0]['length']}"
        ax.set(xscale="log", yscale="log", xlabel=f"sentence {x}" if x == "length" else "batch size",
               ylabel="target tokens / s", title=f"{r['size']} model, {fixed}, {r['threads']} thread(s)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/bench/scaling")
    p.add_argument("--size", default="small", choices=sorted(bench.SIZES))
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    res = measure(a.size, threads=a.threads)
    atomic_write_text(out/"scaling.json", json.dumps(res, indent=1))
    plot(res, out/"scaling.png")
    for key in ("by_length", "by_batch"):
        for q in res[key]:
            print(key, q["length"], q["batch"], {v: round(q[v]["speedup"], 2) for v in VARIANTS})
