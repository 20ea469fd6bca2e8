"""How training and IW-NLL cost grow with sentence length and batch size: seqvae against the reference, side by side.

    python benchmarks/scaling.py --out results/bench/scaling --threads 1

Training: times `bench.bench_train` (interleaved rounds, medians) on random sentences of one length per sweep point,
so every variant sees the same token count: lengths 10 to 200 at batch 32, and batches 8 to 128 at length 25, for the
reference that follows He et al.'s code, seqvae in float32 (as is, and with subnormal floats flushed to zero),
seqvae as `TrainConfig()` runs it on this machine ("default"), and seqvae with bf16 autocast and bf16 LSTMs.
IW-NLL (K = 500, He et al.'s estimator): lengths 10 to 200, `ref_iw_log_px` (their loop: one sentence at a time,
100 samples a pass) against seqvae's `iw_nll` on the same sentences, interleaved rotating rounds (`bench.time_rounds`).
The bf16 variants are left out where bfloat16 has no hardware units (`bf16_fast`): emulated, they time a software
path no one should take (the JSON says which were left out and why). Writes `scaling.json` (tokens per second,
GFLOP/s and the speed-up over the reference at every point, the machine, its matmul peaks and its load) and
`scaling.png`. No corpus is needed: the cost depends on the shapes, not on the words.
"""
import argparse, json, os, statistics, sys
from pathlib import Path
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench                                                        # noqa: E402
from seqvae.data import Batches                                      # noqa: E402
from seqvae.io import atomic_write_text                              # noqa: E402
from seqvae.metrics import iw_nll                                    # noqa: E402
from seqvae.model import SeqVAE, VAEConfig, set_lstm_autocast       # noqa: E402
from seqvae.train.config import TrainConfig                          # noqa: E402
from seqvae.train.runtime import bf16_fast, resolve_precision       # noqa: E402

LENGTHS, BATCHES = (10, 25, 50, 100, 200), (8, 16, 32, 64, 128)
VARIANTS = ("ref", "fp32", "flush", "default", "bf16_lstm")
IW_TOKENS = 200                                                     # IW-NLL: sentences per point ~ this / length


def default_options(device="cpu") -> dict:
    "The float options `TrainConfig()` trains with on `device`, resolved as `Trainer` resolves them."
    c = TrainConfig()
    on, lstm = resolve_precision(c.autocast, c.autocast_lstm, device)
    return dict(flush_denormal=c.flush_denormal, autocast=on, autocast_lstm=lstm)


def options(variant: str, device="cpu") -> dict:
    "A seqvae variant's float options: `bench.VARIANTS`, or `default_options` for \"default\"."
    return default_options(device) if variant == "default" else bench.VARIANTS[variant]


def runnable(variants, device="cpu") -> tuple[list, dict]:
    "(the variants to time, {left-out variant: why}): bf16 variants only where `bf16_fast(device)`."
    if bf16_fast(device): return list(variants), {}
    out = {v: "bfloat16 is emulated here (no bf16 units): a software path" for v in variants
           if v != "ref" and options(v, device).get("autocast")}
    return [v for v in variants if v not in out], out


def sentences(n: int, length: int, vocab: int, seed: int = 0) -> list[list[int]]:
    "`n` random sentences of `length` word ids (ids 4 and up: clear of the special tokens)."
    rng = np.random.default_rng(seed)
    return rng.integers(4, vocab, size=(n, length)).tolist()


def point(cfg: VAEConfig, length: int, batch: int, steps: int, rounds: int, seed: int = 0,
          variants=VARIANTS) -> dict:
    "One training sweep point: tokens/s and GFLOP/s per variant, and each variant's speed-up over the reference."
    seqs = sentences(batch * (steps * rounds + 1), length, cfg.vocab_size, seed)
    opts = {v: None if v == "ref" else options(v) for v in variants}
    res = bench.bench_train(cfg, seqs, opts, batch_size=batch, steps=steps, rounds=rounds, seed=seed)
    out = {v: dict(tokens_per_s=r["tokens_per_s"], gflops=r["gflops"]) for v, r in res.items()}
    for v in out:
        out[v]["speedup"] = out[v]["tokens_per_s"] / out["ref"]["tokens_per_s"]
    return dict(length=length, batch=batch, **out)


def _seqvae_iw(model: SeqVAE, seqs, n_iw: int, opts: dict, seed: int) -> float:
    "seqvae's IW-NLL (mean per sentence) on `seqs`, in one batch, with a variant's precision."
    set_lstm_autocast(model, opts.get("autocast_lstm"))
    try:
        with bench._autocast("cpu", opts.get("autocast", False)):
            return iw_nll(model, Batches(seqs, len(seqs)), n_iw=n_iw, seed=seed)["nll"]
    finally:
        set_lstm_autocast(model, None)


def iw_point(cfg: VAEConfig, length: int, n_sent: int, n_iw: int, rounds: int, seed: int = 0,
             variants=VARIANTS) -> dict:
    """One IW-NLL sweep point: `n_sent` random sentences of `length` words, K = `n_iw`; the reference's loop
    (`ref_iw_log_px`) and seqvae's `iw_nll` on the same sentences, interleaved rotating rounds after one untimed
    sentence each; tokens/s (targets: words and </s>), GFLOP/s of the decoder's samples, the speed-up, the NLL."""
    torch.manual_seed(seed)
    model = bench.he_compatible_(SeqVAE(cfg)).eval()
    ref = bench.RefVAE(cfg).load_seqvae(model)
    seqs = sentences(n_sent, length, cfg.vocab_size, seed)
    nll = {}

    def run(v):
        o = {} if v == "ref" else options(v)

        def step(ss):
            if v == "ref": nll[v] = -float(bench.ref_iw_log_px(ref, ss, n_iw)[0].mean())
            else: nll[v] = _seqvae_iw(model, ss, n_iw, o, seed)
        return step, o.get("flush_denormal", False)

    times = bench.time_rounds({v: run(v) for v in variants}, [seqs[:1]], [[seqs]] * rounds)
    tokens = n_sent * (length + 1)
    flop = bench.iw_flops(cfg, seqs, n_iw)
    out = {v: dict(tokens_per_s=tokens / statistics.median(t), gflops=flop / statistics.median(t) / 1e9,
                   nll=nll[v]) for v, t in times.items()}
    for v in out:
        out[v]["speedup"] = out[v]["tokens_per_s"] / out["ref"]["tokens_per_s"]
    return dict(length=length, sentences=n_sent, n_iw=n_iw, **out)


def measure(size="small", vocab=9085, lengths=LENGTHS, batches=BATCHES, at_batch=32, at_length=25, steps=3,
            rounds=3, threads=1, seed=0, variants=VARIANTS, iw_lengths=LENGTHS, n_iw=500, iw_tokens=IW_TOKENS) -> dict:
    """Both training sweeps and the IW-NLL sweep over `iw_lengths` (none: skipped), for the `variants` that run on
    hardware here (`runnable`), with the machine, its matmul peaks and the load average before and after."""
    torch.set_num_threads(threads)
    E, H, D = bench.SIZES[size]
    cfg = VAEConfig(vocab, emb_dim=E, hidden_dim=H, latent_dim=D)
    timed, left_out = runnable(variants)
    load = [os.getloadavg()]
    by_length = [point(cfg, n, at_batch, steps, rounds, seed, timed) for n in lengths]
    by_batch = [point(cfg, at_length, b, steps, rounds, seed, timed) for b in batches]
    iw = [iw_point(cfg, n, max(1, iw_tokens // n), n_iw, rounds, seed, timed) for n in iw_lengths]
    load.append(os.getloadavg())
    return dict(machine=bench.machine_info(), peaks=bench.machine_peaks(), threads=threads, size=size,
                model=dict(vocab_size=vocab, emb_dim=E, hidden_dim=H, latent_dim=D), steps=steps, rounds=rounds,
                variants=timed, left_out=left_out, default=default_options(), load_avg=load,
                by_length=by_length, by_batch=by_batch, iw_by_length=iw)


def peak_of(r: dict, variant: str) -> float:
    "The matmul peak (GFLOP/s) a variant of result `r` is measured against: bf16 for bfloat16 arithmetic, else fp32."
    bf16 = r["default"]["autocast"] if variant == "default" else bench.peak_key(variant) == "bf16"
    return r["peaks"]["bf16" if bf16 else "fp32"]


def scaling_table(paths) -> str:
    """A markdown table of scaling.json files (`paths`): per thread count and sweep point, the reference's target
    tokens/s and the speed of seqvae's default, float32 and flushed float32 relative to it, with fractions of the
    matmul peak; "-" where a variant was not timed."""
    rs = sorted((json.loads(Path(f).read_text()) for f in paths), key=lambda r: r["threads"])
    head = ("| threads | sweep | length, batch (IW: sentences) | reference tok/s (of peak) "
            "| seqvae default / reference (of peak) | float32 / reference | flushed / reference |\n"
            "|---|---|---|---|---|---|---|")
    sweeps = (("by_length", "training"), ("by_batch", "training"), ("iw_by_length", "IW-NLL, K = {n_iw}"))
    lines = [head]
    for r in rs:
        pct = lambda q, v: f"{100 * q[v]['gflops'] / peak_of(r, v):.0f} %"          # noqa: E731
        tok = lambda x: f"{x:,.0f}" if x >= 100 else f"{x:.1f}"                      # noqa: E731
        ratio = lambda q, v: f"{q[v]['speedup']:.2f}x" if v in q else "-"             # noqa: E731
        for key, what in sweeps:
            for q in r[key]:
                default = f"{ratio(q, 'default')} ({pct(q, 'default')})" if "default" in q else "-"
                size = q.get("batch", q.get("sentences"))   # training: batch; IW: sentences
                lines.append(f"| {r['threads']} | {what.format(**q)} | {q['length']}, {size} "
                             f"| {tok(q['ref']['tokens_per_s'])} ({pct(q, 'ref')}) | {default} "
                             f"| {ratio(q, 'fp32')} | {ratio(q, 'flush')} |")
    return "\n".join(lines)


def plot(r: dict, path: Path):
    "Tokens per second against length and batch size (training) and against length (IW-NLL), per variant, log-log."
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    panels = [("by_length", "length"), ("by_batch", "batch")]
    panels += [("iw_by_length", "length")] * bool(r.get("iw_by_length"))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 3.8))
    for ax, (key, x) in zip(axes, panels):
        pts = r[key]
        for v in r.get("variants", VARIANTS):
            ax.plot([p[x] for p in pts], [p[v]["tokens_per_s"] for p in pts], "o-", label=v)
        if key == "iw_by_length": what = f"IW-NLL, K = {pts[0]['n_iw']}"
        else: what = "training, " + (f"batch {pts[0]['batch']}" if x == "length" else f"length {pts[0]['length']}")
        ax.set(xscale="log", yscale="log", xlabel=f"sentence {x}" if x == "length" else "batch size",
               ylabel="target tokens / s", title=f"{r['size']} model, {what}, {r['threads']} thread(s)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/bench/scaling", help="a folder without a scaling.json (none is overwritten)")
    p.add_argument("--size", default="small", choices=sorted(bench.SIZES))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, from {', '.join(VARIANTS)}")
    p.add_argument("--no-iw", action="store_true", help="skip the IW-NLL sweep")
    a = p.parse_args()
    variants = a.variants.split(",")
    if "ref" not in variants or set(variants) - set(VARIANTS):
        p.error(f"--variants {a.variants}: needs ref, and only names from {', '.join(VARIANTS)}")
    out = Path(a.out)
    if (out/"scaling.json").exists():
        p.error(f"--out {out}: {out/'scaling.json'} exists; give another folder (an earlier run is never overwritten)")
    out.mkdir(parents=True, exist_ok=True)
    res = measure(a.size, threads=a.threads, variants=variants, iw_lengths=() if a.no_iw else LENGTHS)
    atomic_write_text(out/"scaling.json", json.dumps(res, indent=1))
    plot(res, out/"scaling.png")
    print("left out:", res["left_out"] or "none", "| default:", res["default"])
    for key in ("by_length", "by_batch", "iw_by_length"):
        for q in res[key]:
            print(key, q["length"], q.get("batch", q.get("sentences")),
                  {v: (round(q[v]["tokens_per_s"]), round(q[v]["speedup"], 2)) for v in res["variants"]})
