"""He et al. (2019)'s own code against `bench.py`'s reference `RefVAE`: the same weights, the same loss, then timed.

`RefVAE` and `ref_iw_log_px` stand for He et al.'s public code (github.com/jxhe/vae-lagging-encoder: the `modules`
package and the loop body of `text.py`). This script checks that claim against their code itself and times the two
side by side. Their code never enters this repository: clone it anywhere outside and name the folder.

    git clone https://github.com/jxhe/vae-lagging-encoder /work/peer/vae-lagging-encoder
    python benchmarks/peer.py --peer /work/peer/vae-lagging-encoder --check
    python benchmarks/peer.py --peer PATH --time --corpus yelp_short --size 512/1024 --threads 1 --rounds 7 \\
        --out runs/peer/yelp_short-512-1024-t1.json

`--peer` defaults to `$SEQVAE_PEER`. The model is built as their `text.py` builds it (`LSTMEncoder`, `LSTMDecoder`,
`VAE`; nz 32, enc_nh = dec_nh, decoder dropout 0.5 in and out, U(-0.01, 0.01) weights, U(-0.1, 0.1) embeddings),
and its weights are copied into a `SeqVAE` (the biases they lack at zero, `he_compatible_`) and from it into
`RefVAE` (`RefVAE.load_seqvae`).

Shims for torch 2.x, applied here (their files are never edited):
- none is needed on the code paths used (`LSTMEncoder`, `LSTMDecoder`, `VAE.loss`, `VAE.nll_iw`, the step of
  `text.py`). `LSTMDecoder` builds `nn.CrossEntropyLoss(weight=..., reduce=False)`, deprecated but still accepted by
  torch 2.13 as reduction="none"; only its UserWarning is silenced while the decoder is built.
- `LSTMDecoder` is given `range(vocab_size)` for its vocabulary: it only takes its length outside decoding.
"""
from __future__ import annotations

import argparse
import datetime
import importlib
import json
import math
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402
from seqvae.data import Batches, pad_batch  # noqa: E402
from seqvae.metrics import iw_nll  # noqa: E402
from seqvae.model import SeqVAE, VAEConfig  # noqa: E402
from seqvae.train.builder import load_data  # noqa: E402

PEER_FILES = ("modules/__init__.py", "modules/vae.py", "modules/encoders/enc_lstm.py", "modules/decoders/dec_lstm.py")
RENAMED = {"encoder.to_stats.weight": "encoder.linear.weight", "decoder.to_c0.weight": "decoder.trans_linear.weight",
           "decoder.out.weight": "decoder.pred_linear.weight"}   # seqvae name -> theirs; the rest share names


def load_peer(path=None):
    "He et al.'s `modules` package from `path` (else $SEQVAE_PEER); a clear error naming what is missing."
    path = path or os.environ.get("SEQVAE_PEER")
    if not path:
        raise SystemExit("no peer: pass --peer PATH or set SEQVAE_PEER to a clone of "
                         "github.com/jxhe/vae-lagging-encoder (kept outside this repository)")
    root = Path(path).expanduser().resolve()
    missing = [f for f in PEER_FILES if not (root / f).is_file()]
    if missing:
        raise SystemExit(f"{root} is not a clone of jxhe/vae-lagging-encoder: missing {', '.join(missing)}")
    if "modules" in sys.modules and Path(sys.modules["modules"].__file__).resolve() != root / PEER_FILES[0]:
        raise SystemExit(f"another `modules` package is already imported: {sys.modules['modules'].__file__}")
    sys.path.insert(0, str(root))
    try:
        return importlib.import_module("modules")
    finally:
        sys.path.remove(str(root))


def build_peer(peer, cfg: VAEConfig, seed=0):
    "Their `VAE(LSTMEncoder, LSTMDecoder)` as `text.py` builds it, for `cfg`'s sizes, initialised from `seed`."
    args = argparse.Namespace(ni=cfg.emb_dim, enc_nh=cfg.hidden_dim, dec_nh=cfg.hidden_dim, nz=cfg.latent_dim,
                              dec_dropout_in=cfg.dec_in_dropout, dec_dropout_out=cfg.dec_out_dropout,
                              device=torch.device("cpu"))

    def uniform(r):                                       # their uniform_initializer
        return lambda t: nn.init.uniform_(t, -r, r)

    torch.manual_seed(seed)
    enc = peer.LSTMEncoder(args, cfg.vocab_size, uniform(0.01), uniform(0.1))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "size_average and reduce args", UserWarning)
        dec = peer.LSTMDecoder(args, range(cfg.vocab_size), uniform(0.01), uniform(0.1))
    return peer.VAE(enc, dec, args)


def twins(vae, cfg: VAEConfig):
    "(SeqVAE, RefVAE) holding `vae`'s weights: every parameter of theirs used once, seqvae's extra biases zero."
    ours, theirs = SeqVAE(cfg), dict(vae.named_parameters())
    state = {}
    for k, v in ours.state_dict().items():
        state[k] = torch.zeros_like(v) if k in bench.HE_NO_BIAS else theirs.pop(RENAMED.get(k, k)).detach().clone()
    if theirs:
        raise ValueError(f"parameters of theirs with no seqvae counterpart: {sorted(theirs)}")
    ours.load_state_dict(state)
    ours.check_inputs = False
    return ours, bench.RefVAE(cfg).load_seqvae(ours)


def peer_step(vae, opts, x) -> float:
    "One step of the loop body of their `text.py` (not aggressive, kl_weight 1): two SGD optimizers, clip at 5."
    enc_opt, dec_opt = opts
    enc_opt.zero_grad()
    dec_opt.zero_grad()
    loss, loss_rc, loss_kl = vae.loss(x, 1.0, nsamples=1)
    loss = loss.mean(dim=-1)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(vae.parameters(), 5.0)
    loss_rc, loss_kl = loss_rc.sum(), loss_kl.sum()
    enc_opt.step()
    dec_opt.step()
    return loss_rc.item() + loss_kl.item()


def sgd_pair(m):
    "Their optimizers: SGD at lr 1 on the encoder and on the decoder."
    return [torch.optim.SGD(m.encoder.parameters(), lr=1.0), torch.optim.SGD(m.decoder.parameters(), lr=1.0)]


def _losses(vae, ref, ours, x, seed):
    "Batch-mean training losses of the three on x (B, T), each right after torch.manual_seed(seed): the same eps."
    out = {}
    torch.manual_seed(seed)
    out["peer"] = vae.loss(x, 1.0, nsamples=1)[0].mean()
    torch.manual_seed(seed)
    out["ref"] = ref(x)["loss"]
    if ours is not None:
        torch.manual_seed(seed)
        out["seqvae"] = ours(x, torch.full((len(x),), x.size(1)))["loss"]
    return out


def _diffs(vals: dict, tol: float) -> dict:
    "Values, and each one's relative difference from the peer's, and whether all are within `tol`."
    vals = {k: v.detach().item() for k, v in vals.items()}
    rel = {k: abs(v - vals["peer"]) / max(1.0, abs(vals["peer"])) for k, v in vals.items() if k != "peer"}
    return dict(values=vals, rel_diff=rel, ok=all(r <= tol for r in rel.values()))


def check_train(vae, ref, ours, x, seed=0, tol=1e-5) -> dict:
    """Training loss (`VAE.loss`, kl_weight 1, one sample) against `RefVAE` and `SeqVAE` on x (B, T). Train mode with
    dropout: peer and RefVAE draw eps and both `nn.Dropout` masks in the same order (same values); seqvae draws its
    masks with torch.rand, so it joins in eval mode (dropout off), where eps alone is drawn (randn = normal_)."""
    vae.train(), ref.train()
    train = _losses(vae, ref, None, x, seed)
    for v in train.values():
        v.backward()
    theirs, grad = dict(vae.named_parameters()), {}
    for k, p in ref.named_parameters():
        g_peer = theirs[RENAMED.get(k, k)].grad
        if k == "decoder.embed.weight":   # theirs: padding_idx=-1, the last row never gets a gradient
            grad["embed_last_row_ref_grad"] = float(p.grad[-1].abs().max())
            g_peer, p = g_peer[:-1], p.grad[:-1]
        else:
            p = p.grad
        grad[k] = float((g_peer - p).abs().max())
    vae.eval(), ref.eval(), ours.eval()
    with torch.no_grad():
        evals = _losses(vae, ref, ours, x, seed)
    torch.manual_seed(seed)
    a = torch.zeros(len(x), 1, ours.cfg.latent_dim).normal_()
    torch.manual_seed(seed)
    same_eps = bool(torch.equal(a, torch.randn(len(x), 1, ours.cfg.latent_dim)))
    return dict(train_dropout=_diffs(train, tol), eval_no_dropout=_diffs(evals, tol), same_eps=same_eps,
                grad_max_abs_diff=grad)


def check_step(vae, ref, x, seed=0) -> dict:
    "Parameters after one `text.py` step (theirs) and one `bench._ref_step` (RefVAE) from the same weights and seed."
    vae.train(), ref.train()
    torch.manual_seed(seed)
    peer_step(vae, sgd_pair(vae), x)
    torch.manual_seed(seed)
    bench._ref_step(ref, sgd_pair(ref), x)
    theirs, out = dict(vae.named_parameters()), {}
    for k, p in ref.named_parameters():
        d = (theirs[RENAMED.get(k, k)] - p).detach().abs()
        if k == "decoder.embed.weight":                   # their padding row (last) is not updated
            out["embed_last_row"], d = float(d[-1].max()), d[:-1]
        out[k] = float(d.max())
    return out


@torch.no_grad()
def check_iw(vae, ref, ours, seqs, n_iw=500, ns=100, seed=0) -> dict:
    """log p(x) per sentence by their `VAE.nll_iw` (batch size 1, as `calc_iwnll`) and `ref_iw_log_px`, both from
    `seed` (the same draws), and seqvae's `iw_nll` (its own draws): within Monte Carlo error, Eq. (3)."""
    vae.eval()
    torch.manual_seed(seed)
    peer = torch.stack([-vae.nll_iw(pad_batch([s])[0], n_iw, ns)[0] for s in seqs])   # (N,)
    torch.manual_seed(seed)
    est, se = bench.ref_iw_log_px(ref, seqs, n_iw, ns)                                # (N,) each
    nll = iw_nll(ours, Batches(seqs, 32), n_iw=n_iw, seed=seed + 1)["nll"]
    tol = 4 * math.sqrt(2 * float(se.pow(2).sum())) / len(seqs)
    return dict(peer_nll=-float(peer.mean()), ref_nll=-float(est.mean()), seqvae_nll=nll,
                peer_vs_ref_max_abs=float((peer - est).abs().max()), seqvae_vs_peer=nll + float(peer.mean()),
                mc_tol=tol, ok=abs(nll + float(peer.mean())) <= tol + 1e-3 and float((peer - est).abs().max()) < 1e-3)


def spread_(vae, factor):
    "Multiply every weight of `vae` by `factor`: at their init z hardly matters and the IW check would say little."
    with torch.no_grad():
        for p in vae.parameters():
            p.mul_(factor)
    return vae


def run_check(peer, vocab=60, emb=16, hidden=32, length=12, batch=32, seed=0, spread=20.0) -> dict:
    """All checks at a small size on synthetic equal-length sentences (token vocab-1 included: their padding row),
    their init's weights times `spread` (U(-0.2, 0.2) and U(-2, 2) for the embeddings at 20)."""
    cfg = VAEConfig(vocab, emb_dim=emb, hidden_dim=hidden, latent_dim=32)
    g = torch.Generator().manual_seed(seed)
    seqs = torch.randint(4, vocab, (batch, length), generator=g).tolist()
    seqs[0][0] = vocab - 1
    x, _ = pad_batch(seqs)                                                               # (B, T)
    vae = spread_(build_peer(peer, cfg, seed), spread)
    ours, ref = twins(vae, cfg)
    out = dict(spread=spread, size=f"{emb}/{hidden}", vocab=vocab, batch=list(x.shape))
    out["loss"] = check_train(vae, ref, ours, x, seed)
    out["iw"] = check_iw(vae, ref, ours, [s[:3 + i] for i, s in enumerate(seqs[:4])], seed=seed)
    vae = spread_(build_peer(peer, cfg, seed), spread)
    out["step_param_max_abs_diff"] = check_step(vae, twins(vae, cfg)[1], x, seed)
    out["ok"] = out["loss"]["train_dropout"]["ok"] and out["loss"]["eval_no_dropout"]["ok"] and out["iw"]["ok"]
    return out


def peer_rounds(peer, cfg: VAEConfig, seqs, rounds=7, steps=6, warmup=1, batch_size=32, variants=("fp32",),
                seed=0) -> dict:
    """`bench.bench_train`'s interleaved rotating rounds with their code added: `steps` training steps per round of
    their `text.py` step ("peer"), `RefVAE` ("ref") and seqvae `variants`, all from the same weights, on
    `bench.paired_batches` (peer and ref: the same equal-length x (B, T)); name -> medians and rounds."""
    vae = build_peer(peer, cfg, seed)
    base, _ = twins(vae, cfg)
    pairs = bench.paired_batches(seqs, batch_size, steps * rounds + warmup, seed)
    runners = bench._runners(cfg, base, ("ref", *variants), pairs, "cpu")
    vae.train()
    opts = sgd_pair(vae)
    runners = {"peer": (lambda p: peer_step(vae, opts, p[1]), bench._equal_lengths, {}), **runners}
    shapes = list({(tuple(p[0].x.shape), tuple(p[1].shape)): p for p in pairs[warmup:]}.values())
    warm = pairs[:warmup] + shapes
    chunks = [pairs[warmup + r * steps: warmup + (r + 1) * steps] for r in range(rounds)]
    times = bench.time_rounds({v: (s, o.get("flush_denormal", False)) for v, (s, _, o) in runners.items()}, warm,
                              chunks)
    out, med = {}, lambda xs: sorted(xs)[len(xs) // 2]
    for v, (_, lens, _) in runners.items():
        lengths = [torch.cat([lens(p) for p in c]) for c in chunks]                     # framed lengths per round
        rates = [float(n.sub(1).sum()) / dt for n, dt in zip(lengths, times[v])]
        gflops = [bench.step_flops(cfg, n)["step"] / dt / 1e9 for n, dt in zip(lengths, times[v])]
        out[v] = dict(tokens_per_s=med(rates), gflops=med(gflops), rounds_tokens_per_s=rates, seconds=times[v])
    return out


@torch.no_grad()
def peer_iw_rounds(peer, cfg: VAEConfig, seqs, n_iw=500, ns=100, rounds=3, seed=0) -> dict:
    """IW-NLL of `seqs` (mixed lengths) three ways, in rounds whose order rotates: their `VAE.nll_iw` one sentence at
    a time (`calc_iwnll`), `bench.ref_iw_log_px` (the same), seqvae's batched `iw_nll` in float32; name -> target
    tokens/s (median), GFLOP/s (decoder for every sample), seconds per round, the estimate."""
    vae = build_peer(peer, cfg, seed)
    ours, ref = twins(vae, cfg)
    vae.eval(), ref.eval(), ours.eval()
    runs = dict(peer=lambda ss: float(torch.stack([vae.nll_iw(pad_batch([s])[0], n_iw, ns)[0] for s in ss]).mean()),
                ref=lambda ss: -float(bench.ref_iw_log_px(ref, ss, n_iw, ns)[0].mean()),
                fp32=lambda ss: iw_nll(ours, Batches(ss, 32), n_iw=n_iw, seed=seed)["nll"])
    names, times, nll = list(runs), {k: [] for k in runs}, {}
    for k in names:                                                                     # warm-up, untimed
        runs[k]([min(seqs, key=len)])
    for r in range(rounds):
        for k in names[r % 3:] + names[:r % 3]:
            torch.manual_seed(seed + r)
            t = time.perf_counter()
            nll[k] = runs[k](seqs)
            times[k].append(time.perf_counter() - t)
    work, tokens = bench.iw_flops(cfg, seqs, n_iw), sum(len(s) + 1 for s in seqs)
    med = lambda xs: sorted(xs)[len(xs) // 2]
    return {k: dict(tokens_per_s=tokens / med(times[k]), gflops=work / med(times[k]) / 1e9, seconds=times[k],
                    nll=nll[k]) for k in names}


def cpu_model() -> str:
    "`lscpu`'s model name (else /proc/cpuinfo's)."
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, timeout=30).stdout.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return bench._cpuinfo()[0]


def run_time(peer, corpus: str, size: str, threads=1, rounds=7, steps=6, max_train=None, seed=0, n_iw=500) -> dict:
    """Time peer, RefVAE and seqvae float32 on `corpus` at `size` ("E/H"): training at batch 32, then IW-NLL on 8
    sentences of mixed lengths (fewer for long documents); JSON-ready, with the ratios and fractions of the fp32 peak.
    `fp32_ceiling_over_peer` is the most any float32 program could gain: the peer's time at 100 % of the peak."""
    E, H = map(int, size.split("/"))
    torch.set_num_threads(threads)
    rc = bench.run_config(corpus, "tiny", 32, None, "cpu", seed)
    if max_train:
        rc.data.max_train = max_train
    data = load_data(rc.data)
    seqs = bench._encoded(data, "train", None)
    cfg = VAEConfig(len(data.vocab), emb_dim=E, hidden_dim=H, latent_dim=32)
    scale = max(1, round(sum(map(len, seqs)) / len(seqs) / 10))    # as `bench.bench_one`: long documents, fewer steps
    steps = max(1, steps // scale)
    before = bench.machine_peaks()
    res = peer_rounds(peer, cfg, seqs, rounds, steps, seed=seed)
    g = torch.Generator().manual_seed(seed)
    picked = [seqs[i] for i in torch.randperm(len(seqs), generator=g)[:max(1, 8 // scale)].tolist()]  # mixed lengths
    iw = peer_iw_rounds(peer, cfg, picked, n_iw, seed=seed)
    after = bench.machine_peaks()
    peak = max(before["fp32"], after["fp32"])                           # a busy moment can only lower a measured peak
    for part in (res, iw):
        for r in part.values():
            r["fraction_of_fp32_peak"] = r["gflops"] / peak
    return dict(date=datetime.datetime.now().astimezone().isoformat(timespec="seconds"), cpu=cpu_model(),
                machine=bench.machine_info(), corpus=corpus, size=size, vocab_size=cfg.vocab_size, batch_size=32,
                threads=threads, rounds=rounds, steps=steps, long_document_scale=scale,
                matmul_peak_gflops=dict(before=before, after=after, fp32=peak), train=res,
                ref_over_peer=res["ref"]["tokens_per_s"] / res["peer"]["tokens_per_s"],
                fp32_over_peer=res["fp32"]["tokens_per_s"] / res["peer"]["tokens_per_s"],
                iw=dict(n_iw=n_iw, sentences=len(picked), tokens=sum(len(s) + 1 for s in picked), **iw),
                iw_ref_over_peer=iw["ref"]["tokens_per_s"] / iw["peer"]["tokens_per_s"],
                iw_fp32_over_peer=iw["fp32"]["tokens_per_s"] / iw["peer"]["tokens_per_s"],
                fp32_ceiling_over_peer=1 / res["peer"]["fraction_of_fp32_peak"])


def peer_table(folder) -> str:
    """A markdown table of the `--time` results in `folder` (*.json): per corpus, size and threads, the peer's tokens/s
    and each program's speed relative to it, in training and in IW-NLL, with fractions of the fp32 peak."""
    rows = [json.loads(f.read_text()) for f in sorted(Path(folder).glob("*.json"))]
    rows.sort(key=lambda r: (r["threads"], r["corpus"], int(r["size"].split("/")[1])))
    pct = lambda r: f"{100 * r['fraction_of_fp32_peak']:.0f} %"
    head = ("| corpus, E/H, threads | peer train tok/s (of peak) | RefVAE / peer | seqvae fp32 / peer (of peak) "
            "| fp32 ceiling / peer | peer IW tok/s (of peak) | RefVAE IW / peer | seqvae fp32 IW / peer (of peak) |\n"
            "|---|---|---|---|---|---|---|---|")
    lines = [head] + [
        f"| {r['corpus']}, {r['size']}, {r['threads']} "
        f"| {r['train']['peer']['tokens_per_s']:,.0f} ({pct(r['train']['peer'])}) "
        f"| {r['ref_over_peer']:.2f}x | {r['fp32_over_peer']:.2f}x ({pct(r['train']['fp32'])}) "
        f"| {r['fp32_ceiling_over_peer']:.2f}x | {r['iw']['peer']['tokens_per_s']:,.1f} ({pct(r['iw']['peer'])}) "
        f"| {r['iw_ref_over_peer']:.2f}x | {r['iw_fp32_over_peer']:.2f}x ({pct(r['iw']['fp32'])}) |" for r in rows]
    return "\n".join(lines)


def main(argv=None) -> int:
    "The command line: --check, or --time (see the module docstring)."
    p = argparse.ArgumentParser(prog="python benchmarks/peer.py", description=__doc__.splitlines()[0])
    p.add_argument("--peer", help="clone of jxhe/vae-lagging-encoder (default $SEQVAE_PEER)")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="equality checks at a small size, synthetic data")
    mode.add_argument("--time", action="store_true", help="time peer against RefVAE and seqvae float32")
    p.add_argument("--corpus", default="yelp_short")
    p.add_argument("--size", default="512/1024", help="emb/hidden, e.g. 256/256 or 512/1024")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--steps", type=int, default=6, help="training steps per round (divided by mean length / 10)")
    p.add_argument("--max-train", type=int, default=None, help="a random subset of this many training sentences")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="JSON file for --time")
    a = p.parse_args(argv)
    peer = load_peer(a.peer)
    if a.check:
        res = run_check(peer, seed=a.seed)
        print(json.dumps(res, indent=1))
        return int(not res["ok"])
    res = run_time(peer, a.corpus, a.size, a.threads, a.rounds, a.steps, a.max_train, a.seed)
    print(json.dumps({k: res[k] for k in ("cpu", "corpus", "size", "threads", "ref_over_peer", "fp32_over_peer",
                                          "iw_ref_over_peer", "iw_fp32_over_peer", "fp32_ceiling_over_peer")}))
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
