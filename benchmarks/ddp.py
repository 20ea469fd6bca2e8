"""Two processes with one thread each (DDP on gloo) against one process with two threads: seqvae training steps.

    SEQVAE_DATA=<data> python benchmarks/ddp.py --threads 2 --out A.json                                # 1 x 2
    SEQVAE_DATA=<data> torchrun --standalone --nproc_per_node 2 benchmarks/ddp.py --threads 1 --out B.json  # 2 x 1

Both do the same work per step: 32 sentences (each DDP process takes every other row of the batch) from the same
paired batches as `bench.py`, seqvae's `Trainer.train_step` with a `bench.VARIANTS` setting, from the same weights.
Under DDP the embeddings' gradients stay dense (`Trainer.use_sparse_embeddings`) and are averaged with the rest.
Rank 0 writes target tokens/s per round (all processes' tokens) and their median. Run the two commands
alternately several times: they cannot be interleaved within one process.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench as B  # noqa: E402
from seqvae.train.builder import load_data, model_of  # noqa: E402
from seqvae.data import Batch  # noqa: E402
from seqvae.model import SeqVAE  # noqa: E402


def rows(b: Batch, rank: int, world: int) -> Batch:
    "Every `world`-th row of `b` from `rank` on."
    return Batch(*(None if t is None else t[rank::world] for t in b))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", default="yelp_short")
    p.add_argument("--size", default="small")
    p.add_argument("--variant", default="bf16_lstm", choices=sorted(B.VARIANTS))
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--steps", type=int, default=8, help="steps per round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    world, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
    out = Path(a.out)
    if rank == 0 and out.exists(): sys.exit(f"{out} exists: choose a new --out, earlier results are not overwritten")
    torch.set_num_threads(a.threads)
    corpus = load_data(B.run_config(a.corpus, "tiny").data)
    cfg = model_of(B.run_config(a.corpus, a.size), corpus).cfg
    seqs = B._encoded(corpus, "train", None)
    pairs = B.paired_batches(seqs, 32, 1 + a.rounds * a.steps, 0)
    torch.manual_seed(0)
    model = B.he_compatible_(SeqVAE(cfg))
    model.check_inputs = False
    mine = [rows(q[0], rank, world) for q in pairs]
    tr = B._trainer(model, mine, "cpu", **B.VARIANTS[a.variant])     # joins the process group under torchrun
    shapes = list({tuple(b.x.shape): b for b in mine}.values())
    with B.float_settings(B.VARIANTS[a.variant].get("flush_denormal", False)):
        for b in shapes: tr.train_step(b)                             # every shape once: oneDNN plans
        rates = []
        for r in range(a.rounds):
            chunk = range(1 + r * a.steps, 1 + (r + 1) * a.steps)
            if world > 1: dist.barrier()
            t = time.perf_counter()
            for i in chunk: tr.train_step(mine[i])
            if world > 1: dist.barrier()
            dt = time.perf_counter() - t
            rates.append(sum(float((pairs[i][0].lengths - 1).sum()) for i in chunk) / dt)
    if rank == 0:
        res = dict(corpus=a.corpus, size=a.size, variant=a.variant, processes=world, threads=a.threads,
                   sparse_embeddings=tr.sparse_embeddings, tokens_per_s=rates, median=statistics.median(rates),
                   load_average=list(os.getloadavg()), torch=torch.__version__)
        print(json.dumps({k: res[k] for k in ("processes", "threads", "median")}))
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(res, indent=1))
        tmp.replace(out)
    if world > 1: dist.destroy_process_group()


if __name__ == "__main__":
    main()
