"""What the element-wise part of logsumexp costs in IW-NLL's output layer, beside the product itself.

    python benchmarks/lse_block.py --out results/bench/lse/lse_block.json

One block of the no-grad output layer as `Decoder.log_prob` runs it (`logits_block` = 2**22 logits: 461 rows at a
vocabulary of 9,085, hidden size 256), over 4,610 rows: the product alone (`F.linear`), the product with
`torch.logsumexp` minus the target's logit (what `linear_cross_entropy` does without autograd), and the product with
an in-place max, subtract, exp and sum. Interleaved rounds, medians, 1 thread by default. The two ways agree to 1e-4.
"""
import argparse, json, statistics, sys, time
from pathlib import Path
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench                                                        # noqa: E402
from seqvae.io import atomic_write_text                              # noqa: E402


def blocks(h, t, rows):
    return zip(h.split(rows), t.split(rows))


def measure(V=9085, H=256, n=4610, rows=461, rounds=9, threads=1, seed=0) -> dict:
    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(seed)
    w, b = torch.randn(V, H, generator=g) * 0.1, torch.zeros(V)
    h, t = torch.randn(n, H, generator=g), torch.randint(0, V, (n,), generator=g)

    def product():
        for hb, _ in blocks(h, t, rows): F.linear(hb, w, b)

    def logsumexp():
        out = []
        for hb, tb in blocks(h, t, rows):
            lg = F.linear(hb, w, b)                                          # (rows, V)
            out.append(torch.logsumexp(lg, 1) - lg.gather(1, tb[:, None])[:, 0])
        return torch.cat(out)

    def in_place():
        out = []
        for hb, tb in blocks(h, t, rows):
            lg = F.linear(hb, w, b)                                          # (rows, V)
            target = lg.gather(1, tb[:, None])[:, 0]
            mx = lg.amax(1, keepdim=True)
            out.append(lg.sub_(mx).exp_().sum(1).log_().add_(mx[:, 0]).sub_(target))
        return torch.cat(out)

    agree = bool(torch.allclose(logsumexp(), in_place(), atol=1e-4))
    fns = dict(product=product, logsumexp=logsumexp, in_place=in_place)
    times = {k: [] for k in fns}
    for r in range(rounds):
        names = list(fns)[r % 3:] + list(fns)[:r % 3]                       # rotating order
        for k in names:
            t0 = time.perf_counter()
            fns[k]()
            times[k].append(time.perf_counter() - t0)
    ms = {k: 1e3 * statistics.median(v) for k, v in times.items()}
    return dict(machine=bench.machine_info(), vocab=V, hidden=H, rows=n, block_rows=rows, rounds=rounds,
                threads=threads, agree=agree, ms=ms,
                elementwise_share=(ms["logsumexp"] - ms["product"]) / ms["logsumexp"],
                in_place_saving=1 - ms["in_place"] / ms["logsumexp"])


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="a JSON file that does not exist yet")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    if Path(a.out).exists(): p.error(f"--out {a.out} exists (an earlier run is never overwritten)")
    r = measure(threads=a.threads)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(Path(a.out), json.dumps(r, indent=1))
    print(json.dumps({k: r[k] for k in ("agree", "ms", "elementwise_share", "in_place_saving")}, indent=1))
