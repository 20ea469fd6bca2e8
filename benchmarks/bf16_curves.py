"""Does bfloat16 autocast keep the training loss within 2 % of float32 over 1,000 steps? (Issue: speed, bf16 default.)

    SEQVAE_DATA=../shared/data python benchmarks/bf16_curves.py --out results/bench

Trains the same model from the same weights on the same batches with the same draws in float32, with bf16 autocast
(LSTMs in float32 on CPU) and with the LSTMs in bf16 too (`bench.loss_curves`), on yelp_short at 256/256/32 with
He et al.'s SGD at lr 1, one thread; writes `loss_curves_1000.json` (every loss, the largest gap of the moving means)
and `loss_curves_1000.png`.
"""
import argparse, json, sys
from pathlib import Path
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench                                                        # noqa: E402
from seqvae.train.builder import load_data, model_of                       # noqa: E402
from seqvae.io import atomic_write_text                              # noqa: E402


def measure(steps=1000, window=50, sentences=40000, size="small") -> dict:
    "The three loss curves and their largest relative gap to float32 (moving means over `window` steps)."
    torch.set_num_threads(1)
    rc = bench.run_config("yelp_short", size)
    corpus = load_data(rc.data)
    seqs = [corpus.vocab.encode(s) for s in corpus.split("train")][:sentences]
    return bench.loss_curves(model_of(rc, corpus).cfg, seqs, steps=steps, batch_size=32, window=window)


def plot(r: dict, path: Path):
    "Loss curves and their percentage gap to float32."
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    k = r["window"]
    sm = lambda v: np.convolve(v, np.ones(k) / k, mode="valid")     # noqa: E731
    fig, ax = plt.subplots(1, 2, figsize=(11, 3.6))
    for v, c in r["curves"].items():
        ax[0].plot(sm(c), label=v, lw=1)
    ref = sm(r["curves"]["fp32"])
    for v in r["max_rel_gap"]:
        ax[1].plot((sm(r["curves"][v]) - ref) / np.abs(ref) * 100, label=v, lw=1)
    ax[0].set(xlabel="step", ylabel=f"training loss (moving mean of {k})", title="yelp_short, 256/256/32, SGD lr 1")
    gaps = ", ".join(f"{v} {g * 100:.2f} %" for v, g in r["max_rel_gap"].items())
    ax[1].set(xlabel="step", ylabel="% difference from float32", title=f"largest gap: {gaps}")
    for y in (2, -2):
        ax[1].axhline(y, color="k", ls=":", lw=0.8)
    for a in ax:
        a.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/bench")
    p.add_argument("--steps", type=int, default=1000)
    a = p.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    res = measure(a.steps)
    atomic_write_text(out/"loss_curves_1000.json", json.dumps(res))
    plot(res, out/"loss_curves_1000.png")
    print(res["max_rel_gap"], res["seconds"])
