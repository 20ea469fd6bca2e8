"""Training and evaluation throughput of seqvae against a straightforward reference implementation.

Everything is measured in one process, interleaved, with the machine's matmul ceiling. The method and
its checks are in `benchmarks/bench.ipynb`; `benchmarks/benchmark.ipynb` runs it with papermill and
draws the figures.

    python benchmarks/bench.py --scale smoke --threads 1 --out runs/bench-smoke   # seconds, synthetic
    python benchmarks/bench.py --scale small --out runs/bench                     # the real settings

Import it as `benchmarks.bench` from the repository root, or put this folder on `sys.path` and
`import bench`. It uses seqvae's public API only; `RefVAE`, `ref_iw_log_px` and `ref_mi_au` are
independent references that share nothing with seqvae but the data helpers.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.utils.mkldnn
from torch import nn

from seqvae.data import Batches, pad_batch
from seqvae.lab.notebooks import write_results
from seqvae.metrics import active_units, encode_all, iw_nll, mi_au, mi_estimate, model_device, mutual_info, seeded
from seqvae.model import SeqVAE, VAEConfig, evaluating, set_lstm_autocast
from seqvae.train.builder import load_data, model_of
from seqvae.train.config import DataConfig, RunConfig, TrainConfig
from seqvae.train.runtime import get_device
from seqvae.train.loop import Trainer

BENCH_DIR = Path(__file__).resolve().parent
NOTEBOOK = BENCH_DIR / "benchmark.ipynb"   # the papermill notebook: runs `run_benchmark`, adds loss curves and figures

__all__ = ["VARIANTS", "SIZES", "BENCH_DIR", "NOTEBOOK", "machine_info", "sync", "timeit", "matmul_peak",
           "onednn_fp32_peak", "machine_peaks", "peak_key", "step_flops", "iw_flops", "HE_NO_BIAS", "he_compatible_",
           "RefVAE",
           "ref_iw_log_px", "ref_mi_au",
           "paired_batches", "float_settings", "subnormal_slowdown", "time_rounds", "bench_train", "bench_iw",
           "mi_au_one_pass",
           "bench_mi_au", "peak_memory", "loss_curves", "BenchConfig", "bench_one", "run_benchmark", "bench_table",
           "bench_config", "notebook_job", "add_bench_arguments", "add_bench_command", "run_bench_command",
           "bench_main"]


# ## The machine

def _cpuinfo() -> tuple[str, set]:
    "CPU model name and flag set from /proc/cpuinfo (Linux), else from `platform`."
    name, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and name in ("", platform.machine(), platform.processor()):
                    name = line.split(":", 1)[1].strip()
                if line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return name, flags


def machine_info(device="cpu") -> dict:
    "CPU model and the flags that matter for matmuls (AMX, AVX-512 BF16/VNNI), threads, torch, device, load."
    name, flags = _cpuinfo()
    dev = torch.device(device)
    matmul_flags = sorted(f for f in flags if f.startswith(("amx", "avx512", "avx2", "fma", "avx_vnni")))
    return dict(cpu=name, cpu_flags=matmul_flags, amx_bf16="amx_bf16" in flags, avx512_bf16="avx512_bf16" in flags,
                cpu_count=os.cpu_count(), threads=torch.get_num_threads(), torch=torch.__version__,
                python=platform.python_version(), device=str(dev),
                gpu=torch.cuda.get_device_name(dev) if dev.type == "cuda" else None,
                load_avg=[round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None,
                flush_denormal_supported=torch.set_flush_denormal(False))


# ## Timing and the matmul ceiling

def sync(device):
    "Wait for queued work on `device` (CUDA); nothing on CPU."
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def timeit(fn, repeats=5, warmup=1, device="cpu") -> list[float]:
    "Seconds of each of `repeats` calls of `fn()` after `warmup` uncounted calls."
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        sync(device)
        t = time.perf_counter()
        fn()
        sync(device)
        out.append(time.perf_counter() - t)
    return out


def matmul_peak(dtype=torch.float32, n=1024, repeats=5, device="cpu") -> float:
    "Median GFLOP/s of an (n, n) @ (n, n) product, 2 n^3 FLOPs, in `dtype` on `device`."
    a = torch.randn(n, n, device=device).to(dtype)                     # (n, n)
    b = torch.randn(n, n, device=device).to(dtype)                     # (n, n)
    return 2 * n ** 3 / statistics.median(timeit(lambda: a @ b, repeats, 2, device)) / 1e9


def onednn_fp32_peak(n=1024, repeats=5) -> float | None:
    "Median GFLOP/s of oneDNN's float32 (n, n) x (n, n) linear on CPU (the GEMM behind `nn.LSTM`); None if unavailable."
    try:
        lin = torch.utils.mkldnn.to_mkldnn(nn.Linear(n, n, bias=False))   # oneDNN weights; a zero bias, n^2 FLOPs
        a = torch.randn(n, n).to_mkldnn()                                  # (n, n) in oneDNN's layout
        with torch.no_grad():
            secs = statistics.median(timeit(lambda: lin(a), repeats, 2))
    except (RuntimeError, AttributeError):
        return None
    return 2 * n ** 3 / secs / 1e9


def machine_peaks(n=1024, device="cpu") -> dict:
    "GFLOP/s ceilings: `fp32_mm` (a @ b), `fp32_onednn` (CPU only), `fp32` (the faster of the two) and `bf16`."
    out = dict(fp32_mm=matmul_peak(torch.float32, n, device=device), bf16=matmul_peak(torch.bfloat16, n, device=device))
    if torch.device(device).type == "cpu":
        onednn = onednn_fp32_peak(n)
        if onednn:
            out["fp32_onednn"] = onednn
    return dict(out, fp32=max(out["fp32_mm"], out.get("fp32_onednn", 0.0)))


def peak_key(variant: str) -> str:
    "The ceiling a variant is measured against: bf16 for the bfloat16 variants, else fp32."
    return "bf16" if variant.startswith("bf16") else "fp32"


# ## FLOPs of a training step

def step_flops(cfg: VAEConfig, lengths) -> dict:
    "Eqs. (1)-(2): forward FLOPs of `SeqVAE` by part, for sentences of framed `lengths`, and the step (3x forward)."
    lengths = torch.as_tensor(lengths)
    E, H, D, V, B = cfg.emb_dim, cfg.hidden_dim, cfg.latent_dim, cfg.vocab_size, len(lengths)
    n_enc, n_dec = int(lengths.sum()), int((lengths - 1).sum())       # encoder inputs, decoder targets
    parts = dict(encoder_lstm=n_enc * 8 * H * (E + H), decoder_lstm=n_dec * 8 * H * (E + D + H),
                 output=n_dec * 2 * H * V, latent=B * (2 * H * 2 * D + 2 * D * H))
    fwd = sum(parts.values())
    return dict(parts, forward=fwd, step=3 * fwd, output_share=parts["output"] / fwd)


def iw_flops(cfg: VAEConfig, seqs, n_iw: int) -> float:
    """IW-NLL's FLOPs on sentences `seqs` (word lists): the decoder (LSTM, output layer) for each of `n_iw` samples,
    Eq. (2); not the encoder, which runs once per sentence."""
    f = step_flops(cfg, [len(s) + 2 for s in seqs])
    return n_iw * (f["decoder_lstm"] + f["output"])


# ## The reference implementation

HE_NO_BIAS = ("encoder.to_stats.bias", "decoder.to_c0.bias", "decoder.out.bias")  # layers He et al. build bias-free


def he_compatible_(model: SeqVAE) -> SeqVAE:
    "Zero the biases that He et al.'s model does not have, so `RefVAE` computes the same function; returns `model`."
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in HE_NO_BIAS:
                p.zero_()
    return model


class RefVAE(nn.Module):
    """He et al. (2019)'s text VAE as their `LSTMEncoder`, `LSTMDecoder` and `VAE.loss` compute it: float32 `nn.LSTM`s
    on equal-length batches (no packing, no padding), the last encoder state to (mu, logvar) without bias, z
    concatenated to every input and initialising the cell through a bias-free linear map, a bias-free output layer,
    cross-entropy with a vector of unit class weights over the flattened logits."""
    def __init__(self, cfg: VAEConfig):
        super().__init__()
        shape = (cfg.n_layers, cfg.bidirectional, cfg.pooling, cfg.z_concat, cfg.z_init_state)
        if shape != (1, False, "last", True, True):
            raise ValueError("RefVAE is the plain baseline: one layer, unidirectional, last-state encoder, "
                             "z concatenated and initialising the decoder")
        E, H, D, V = cfg.emb_dim, cfg.hidden_dim, cfg.latent_dim, cfg.vocab_size
        self.cfg = cfg
        self.encoder = nn.ModuleDict(dict(embed=nn.Embedding(V, E), lstm=nn.LSTM(E, H, batch_first=True),
                                          to_stats=nn.Linear(H, 2 * D, bias=False)))
        self.decoder = nn.ModuleDict(dict(embed=nn.Embedding(V, E), lstm=nn.LSTM(E + D, H, batch_first=True),
                                          to_c0=nn.Linear(D, H, bias=False), drop_in=nn.Dropout(cfg.dec_in_dropout),
                                          drop_out=nn.Dropout(cfg.dec_out_dropout), out=nn.Linear(H, V, bias=False)))
        self.loss = nn.CrossEntropyLoss(weight=torch.ones(V), reduction="none")   # as theirs: `vocab_mask` of ones

    def load_seqvae(self, model: SeqVAE):
        "Take `model`'s weights; the biases He et al. do not have must be zero there (see `he_compatible_`)."
        state = model.state_dict()
        nonzero = [k for k in HE_NO_BIAS if state[k].abs().max() > 0]
        if nonzero:
            raise ValueError(f"RefVAE has no {', '.join(nonzero)}: zero them first with he_compatible_(model)")
        self.load_state_dict({k: v for k, v in state.items() if k not in HE_NO_BIAS}, strict=False)
        return self

    def encode(self, x):
        "mu, logvar (B, D) from the last LSTM state of equal-length x (B, T)."
        _, (h, _) = self.encoder.lstm(self.encoder.embed(x))           # h: (1, B, H)
        mu, logvar = self.encoder.to_stats(h).chunk(2, -1)              # (1, B, D) each
        return mu.squeeze(0), logvar.squeeze(0)                         # (B, D) each

    def sample(self, x, n):
        "z (B, n, D) ~ q(z|x) and (mu, logvar), their `encoder.sample`: the encoder runs at every call."
        mu, logvar = self.encode(x)                                     # (B, D) each
        std = (0.5 * logvar).exp()
        eps = torch.zeros_like(std[:, None].expand(-1, n, -1)).normal_()            # (B, n, D)
        return mu[:, None].expand(-1, n, -1) + eps * std[:, None], (mu, logvar)

    def log_px_z(self, x, z):
        "log p(x|z) (B, n) for equal-length x (B, T) and z (B, n, D), as their `reconstruct_error`."
        d, (B, n, D) = self.decoder, z.shape
        src, tgt, T = x[:, :-1], x[:, 1:], x.size(1) - 1
        e = d.drop_in(d.embed(src))                                     # (B, T-1, E)
        if n > 1: e = e[:, None].expand(-1, n, -1, -1).contiguous().view(B * n, T, -1)  # (B*n, T-1, E)
        zs = z.view(B * n, 1, D).expand(-1, T, -1) if n == 1 else z[:, :, None].expand(-1, -1, T, -1).contiguous()
        e = torch.cat([e, zs.reshape(B * n, T, D)], -1)                 # (B*n, T-1, E + D)
        c0 = d.to_c0(z.reshape(B * n, D))[None]                         # (1, B*n, H)
        h, _ = d.lstm(e, (c0.tanh(), c0))                               # (B*n, T-1, H)
        logits = d.out(d.drop_out(h))                                   # (B*n, T-1, V)
        tgt = tgt[:, None].expand(-1, n, -1).contiguous().view(-1)      # (B*n*(T-1),)
        return -self.loss(logits.view(-1, logits.size(-1)), tgt).view(B, n, -1).sum(-1)  # (B, n)

    def forward(self, x, beta=1.0):
        "Their `VAE.loss` and the step's mean: encoder once, one sample, KL in closed form."
        z, (mu, logvar) = self.sample(x, 1)                             # (B, 1, D)
        rec = -self.log_px_z(x, z).mean(1)                              # (B,)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(1)       # (B,)
        return dict(loss=(rec + beta * kl).mean(), rec=rec.mean(), kl=kl.mean())


@torch.no_grad()
def ref_iw_log_px(model: RefVAE, seqs, n_iw=500, chunk=100) -> tuple[torch.Tensor, torch.Tensor]:
    """log p(x) estimates (N,) as their `calc_iwnll` with batch size 1 and `VAE.nll_iw`: one sentence at a time,
    `n_iw / chunk` passes that each run the encoder and draw `chunk` samples; and the standard errors by Eq. (3)."""
    model.eval()
    est, se = [], []
    prior = torch.distributions.Normal(torch.zeros(model.cfg.latent_dim), torch.ones(model.cfg.latent_dim))
    for s in seqs:
        x, _ = pad_batch([s])                                           # (1, T)
        log_w = []
        for j in range(0, n_iw, chunk):                                 # theirs: n_iw a multiple of chunk
            z, (mu, logvar) = model.sample(x, min(chunk, n_iw - j))     # (1, k, D)
            log_joint = prior.log_prob(z).sum(-1) + model.log_px_z(x, z)                  # (1, k)
            dev = z - mu[:, None]
            log_q = -0.5 * (dev.pow(2) / logvar.exp()[:, None]).sum(-1) \
                - 0.5 * (z.size(-1) * math.log(2 * math.pi) + logvar.sum(-1, keepdim=True))  # (1, k)
            log_w.append(log_joint - log_q)
        lw = torch.cat(log_w, -1)[0].double()                          # (n_iw,)
        est.append(torch.logsumexp(lw, 0) - math.log(n_iw))
        w = (lw - lw.max()).exp()                                       # (n_iw,)
        se.append(w.std() / (math.sqrt(n_iw) * w.mean()))
    return torch.stack(est).float(), torch.stack(se).float()


@torch.no_grad()
def ref_mi_au(model: RefVAE, batches, delta=0.01, sampled=False) -> tuple[float, int]:
    """(MI in nats, active units) from equal-length batches x (B, T), as He et al.'s calc_mi and calc_au; `sampled`:
    log q(z_i|x_i) at the draw in place of the closed-form entropy (seqvae's form, the same expectation)."""
    model.eval()
    mi, n, mus = 0.0, 0, []
    for x in batches:
        mu, logvar = model.encode(x)                                    # (B, D) each
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()            # (B, D)
        dev = z[:, None] - mu[None]                                     # (B, B, D)
        log_q = -0.5 * (dev.pow(2) / logvar.exp()[None] + logvar[None] + math.log(2 * math.pi)).sum(-1)  # (B, B)
        closed = (-0.5 * math.log(2 * math.pi) - 0.5 * (1 + logvar)).sum(-1)   # (B,) -H(q(z|x_i))
        neg_h = log_q.diagonal().mean() if sampled else closed.mean()
        log_qz = torch.logsumexp(log_q, 1) - math.log(len(x))           # (B,)
        mi += float(neg_h - log_qz.mean()) * len(x)
        n += len(x)
        mus.append(mu)
    var = torch.cat(mus).double().var(0)                                # (D,)
    return mi / n, int((var >= delta).sum())


# ## Paired batches

def paired_batches(seqs, batch_size=32, n=8, seed=0) -> list[tuple]:
    "`n` pairs (seqvae Batch, reference x (B, T) of equal-length sentences), full batches, drawn at random."
    rng = np.random.default_rng(seed)
    ours = Batches(seqs, batch_size, shuffle=True, seed=seed)
    plan = [r for r in ours.plan(0) if len(r) == batch_size] or ours.plan(0)
    by_len = defaultdict(list)
    for i, s in enumerate(seqs):
        by_len[len(s)].append(i)
    out = []
    for k in rng.choice(len(plan), n, replace=n > len(plan)):
        b = ours.batch(plan[k])
        pool = by_len[int(b.lengths.max()) - 2]                         # sentences as long as ours' longest
        rows = rng.choice(pool, len(b.x), replace=len(pool) < len(b.x))
        out.append((b, pad_batch([seqs[i] for i in rows])[0]))
    return out


# ## Timed training

VARIANTS = {"fp32": dict(), "flush": dict(flush_denormal=True), "bf16": dict(flush_denormal=True, autocast=True),
            "bf16_lstm": dict(flush_denormal=True, autocast=True, autocast_lstm=True)}


@contextmanager
def float_settings(flush_denormal=False):
    "Flush subnormal floats to zero inside the block when asked; always off again afterwards."
    torch.set_flush_denormal(bool(flush_denormal))
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def run_config(corpus: str, size: str, batch_size=32, max_vocab=None, device="cpu", seed=0) -> RunConfig:
    "The benchmark's run as a `RunConfig`: He et al.'s training (SGD at lr 1, gradients clipped at 5), model `size`."
    E, H, D = SIZES[size]
    return RunConfig(DataConfig(corpus, max_vocab=max_vocab, corpus_seed=seed, batch_size=batch_size),
                     VAEConfig(None, emb_dim=E, hidden_dim=H, latent_dim=D),
                     TrainConfig(epochs=None, max_steps=10 ** 9, optimizer="sgd", lr=1.0, grad_clip=5.0,
                                 log_every=10 ** 6, seed=seed, device=str(device), progress=False))


def _trainer(model, batches, device, log_every=10 ** 6, **opts) -> Trainer:
    "seqvae's `Trainer` with the benchmark's training settings (`run_config`); `opts` from VARIANTS."
    cfg = replace(run_config("synthetic", "tiny", device=device).train, log_every=log_every, **opts)
    return Trainer(model, batches, cfg=cfg)


def _ref_step(model, opts, x) -> float:
    "One step of their training loop on x (B, T): zero both optimizers, loss, backward, clip all at 5, step both."
    for opt in opts: opt.zero_grad()
    loss = model(x)["loss"]
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    for opt in opts: opt.step()
    return float(loss.detach())


def subnormal_slowdown(n=1024, repeats=5, device="cpu") -> dict:
    "Time on subnormal (1e-39) over normal (1e-3) float32 operands, flushing off: (n, n) matmul and n*n multiply-add."
    ops = dict(matmul=lambda a, b: a @ b, elementwise=lambda a, b: torch.addcmul(a, a, b))
    out, flush = {}, torch.set_flush_denormal(False)   # probe: True where flushing is supported; leaves it off
    for name, op in ops.items():
        t = {}
        for v in (1e-3, 1e-39):
            a = torch.full((n, n), v, device=device)                    # (n, n)
            b = torch.full((n, n), 0.5, device=device)                  # (n, n)
            t[v] = statistics.median(timeit(lambda: op(a, b), repeats, 2, device))
        out[name] = t[1e-39] / t[1e-3]
    return dict(out, flush_supported=flush)


def _equal_lengths(p):
    "The reference's sentence lengths in a pair: all equal, no padding."
    return torch.full((len(p[1]),), p[1].size(1))


def _runners(cfg, base, variants, pairs, device):
    """Per variant: (one training step on a pair, the pair's sentence lengths, float options), all from `base`'s
    weights. `variants`: names of `VARIANTS` (and "ref"), or a mapping name -> float options."""
    runners = {}
    opts_of = variants if isinstance(variants, dict) else VARIANTS
    for v in variants:
        if v == "ref":
            m = RefVAE(cfg).load_seqvae(base).to(device)
            m.train()
            opts = [torch.optim.SGD(m.encoder.parameters(), lr=1.0), torch.optim.SGD(m.decoder.parameters(), lr=1.0)]
            runners[v] = (lambda p, m=m, opts=opts: _ref_step(m, opts, p[1].to(device)), _equal_lengths, {})
        else:
            m = SeqVAE(cfg)
            m.load_state_dict(base.state_dict())
            m.check_inputs = False
            tr = _trainer(m, [p[0] for p in pairs], device, **opts_of[v])
            runners[v] = (lambda p, tr=tr: tr.train_step(p[0]), lambda p: torch.as_tensor(p[0].lengths), opts_of[v])
    return runners


def time_rounds(runs: dict, warm: list, chunks: list, device="cpu") -> dict:
    """`runs`: name -> (step on one pair, flush subnormals?). Every pair of `warm` through every step, untimed; then
    each chunk of `chunks` through every step, in an order that rotates from chunk to chunk (in a fixed order the
    step right after another ran slower); name -> seconds per chunk."""
    names, times = list(runs), {n: [] for n in runs}
    for r, chunk in enumerate([warm] + list(chunks)):
        k = max(r - 1, 0) % len(names)
        for n in names[k:] + names[:k]:
            step, flush = runs[n]
            with float_settings(flush):
                sync(device)
                t = time.perf_counter()
                for p in chunk:
                    step(p)
                sync(device)
                if r > 0:
                    times[n].append(time.perf_counter() - t)
    return times


def bench_train(cfg: VAEConfig, seqs, variants=("ref", *VARIANTS), batch_size=32, steps=6, rounds=3,
                warmup=1, device="cpu", seed=0) -> dict:
    """Interleaved rounds of `steps` training steps per variant, in an order rotated each round (`time_rounds`):
    variant -> medians of sentences/s, tokens/s, GFLOP/s."""
    device = torch.device(device)
    torch.manual_seed(seed)
    base = he_compatible_(SeqVAE(cfg))
    pairs = paired_batches(seqs, batch_size, steps * rounds + warmup, seed)
    runners = _runners(cfg, base, variants, pairs, device)
    shapes = list({(tuple(p[0].x.shape), tuple(p[1].shape)): p for p in pairs[warmup:]}.values())  # one pair per shape
    warm = pairs[:warmup] + shapes if warmup else []   # warm-up: `warmup` pairs, then every timed shape (oneDNN plans)
    chunks = [pairs[warmup + r * steps: warmup + (r + 1) * steps] for r in range(rounds)]
    times = time_rounds({v: (step, opts.get("flush_denormal", False)) for v, (step, _, opts) in runners.items()},
                        warm, chunks, device)
    rates = defaultdict(list)
    for v, (_, lens, _) in runners.items():
        for chunk, dt in zip(chunks, times[v]):
            lengths = torch.cat([lens(p) for p in chunk])               # (sentences,)
            gflops = step_flops(cfg, lengths)["step"] / dt / 1e9
            rates[v].append((len(lengths) / dt, float((lengths - 1).sum()) / dt, gflops))
    med = statistics.median
    return {v: dict(sentences_per_s=med(x[0] for x in rs), tokens_per_s=med(x[1] for x in rs),
                    gflops=med(x[2] for x in rs), rounds=[list(map(float, x)) for x in rs]) for v, rs in rates.items()}


# ## Timed evaluation

def _autocast(device, on):
    "bfloat16 autocast on `device` when `on`, else a context that does nothing."
    return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16) if on else nullcontext()


def _timed_iw(model, seqs, n_ref, n_iw, batch_size, device, seed, bf16):
    "seqvae's IW-NLL on all `seqs` (timed) and on the first `n_ref` (the reference's sentences, other draws)."
    with _autocast(device, bf16):
        sync(device)
        t = time.perf_counter()
        r = iw_nll(model, Batches(seqs, batch_size), n_iw=n_iw, seed=seed)
        sync(device)
        dt = time.perf_counter() - t
        head = iw_nll(model, Batches(seqs[:n_ref], batch_size), n_iw=n_iw, seed=seed + 1)["nll"]
    return r["nll"], head, dt


def bench_iw(model: SeqVAE, seqs, n_ref=4, n_iw=500, batch_size=32, device="cpu", bf16=True, seed=0) -> dict:
    """IW-NLL sentences/s, tokens/s: reference on the first `n_ref` sentences, seqvae on all (fp32; with `bf16`, also
    bf16 autocast and bf16 autocast with bf16 LSTMs); agreement."""
    device = torch.device(device)
    ref = RefVAE(model.cfg).load_seqvae(model).to(device)
    torch.manual_seed(seed)
    t = time.perf_counter()
    est, se = ref_iw_log_px(ref, seqs[:n_ref], n_iw)                    # (n_ref,) each
    dt_ref = time.perf_counter() - t

    def gflops(ss, dt):
        return iw_flops(model.cfg, ss, n_iw) / dt / 1e9

    def tokens(ss):      # targets: words and </s>
        return sum(len(s) + 1 for s in ss)

    ref_rates = dict(sentences_per_s=n_ref / dt_ref, tokens_per_s=tokens(seqs[:n_ref]) / dt_ref, nll=-float(est.mean()),
                     gflops=gflops(seqs[:n_ref], dt_ref))
    out = dict(ref=ref_rates, n_iw=n_iw, n_ref=n_ref, n_ours=len(seqs))
    tol = 4 * math.sqrt(2 * float(se.pow(2).sum())) / n_ref             # two independent estimates, Eq. (3)
    for name, on, lstm in [("fp32", False, None)] + [("bf16", True, None), ("bf16_lstm", True, True)] * bf16:
        set_lstm_autocast(model, lstm)                                  # bf16_lstm: the LSTMs in bf16 too
        try:
            nll, head, dt = _timed_iw(model, seqs, n_ref, n_iw, batch_size, device, seed, on)
        finally:
            set_lstm_autocast(model, None)
        diff = head + float(est.mean())
        out[name] = dict(sentences_per_s=len(seqs) / dt, tokens_per_s=tokens(seqs) / dt, gflops=gflops(seqs, dt),
                         nll=nll, nll_shared=head, diff_vs_ref=diff, mc_tol=tol, agrees=abs(diff) <= tol + 1e-3,
                         speedup=tokens(seqs) / dt / ref_rates["tokens_per_s"])   # in target tokens/s: lengths differ
    return out


def mi_au_one_pass(model, batches, seed=0, delta=0.01) -> tuple[float, int]:
    "He et al.'s MI (within-batch, batch-size weighted) and active units from one encoder pass: what `ref_mi_au` does."
    with evaluating(model), seeded(seed, model_device(model)):
        mu, logvar, sizes = encode_all(model, batches)                  # (N, D) each
        parts = zip(mu.split(sizes), logvar.split(sizes))               # per batch: (B, D) each
        mi = sum(mi_estimate(m, lv) * len(m) for m, lv in parts) / len(mu)
    return mi, int((mu.cpu().double().var(0) >= delta).sum())


def _seconds(fn):
    "(fn(), seconds it took)."
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def bench_mi_au(model: SeqVAE, seqs, batch_size=32, device="cpu", seed=0) -> dict:
    "Seconds for MI and active units over `seqs`: reference, `mutual_info` + `active_units`, one pass, `mi_au`."
    ref = RefVAE(model.cfg).load_seqvae(model).to(device)
    by_len = defaultdict(list)
    for s in seqs:
        by_len[len(s)].append(s)
    ref_batches = [pad_batch(g[i:i + batch_size])[0].to(device) for g in by_len.values()
                   for i in range(0, len(g), batch_size)]
    torch.manual_seed(seed)
    (mi_r, au_r), dt_ref = _seconds(lambda: ref_mi_au(ref, ref_batches))
    b = Batches(seqs, batch_size)
    (mi, au), dt = _seconds(lambda: (mutual_info(model, b, seed=seed), active_units(model, b)["au"]))
    (mi1, au1), dt1 = _seconds(lambda: mi_au_one_pass(model, b, seed))
    lib, dt_lib = _seconds(lambda: mi_au(model, b, seed=seed))
    return dict(n_sentences=len(seqs), ref=dict(seconds=dt_ref, mi=mi_r, au=au_r),
                metrics=dict(seconds=dt, mi=mi, au=au), ours=dict(seconds=dt1, mi=mi1, au=au1),
                mi_au=dict(seconds=dt_lib, mi=lib["mi"], mi_dataset=lib["mi_dataset"], au=lib["au"]),
                speedup=dt_ref / dt1, speedup_metrics=dt_ref / dt)


# ## Peak memory

def _proc_kib(key: str) -> int | None:
    "A `VmRSS`/`VmHWM` line of /proc/self/status in KiB (Linux), else None."
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _rss_mark() -> tuple[int, str]:
    "Reset the resident-set peak (Linux: /proc/self/clear_refs); the current RSS in bytes and the method's name."
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _proc_kib("VmRSS") * 1024, "VmHWM after a peak reset, minus VmRSS before, in a fresh process"
    except (OSError, TypeError):  # ru_maxrss survives fork and exec on Linux: hence the fresh process and the reset
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "ru_maxrss delta in a fresh process"


def _probe(job: dict) -> dict:
    "Run one memory job in this process; its peak memory in MiB (resident set on CPU, max_memory_allocated on CUDA)."
    device = torch.device(job.get("device", "cpu"))
    torch.set_num_threads(job.get("threads") or torch.get_num_threads())
    cfg = VAEConfig.from_dict(job["cfg"])
    torch.manual_seed(0)
    model = SeqVAE(cfg).to(device)
    model.check_inputs = False
    seqs = [[4 + (i * 31 + j) % (cfg.vocab_size - 4) for j in range(job["length"])] for i in range(job["n"])]
    batch = Batches(seqs, job["n"]).batch(range(job["n"]))
    tr = None if job["kind"] == "iw" else _trainer(model, [batch], device, **VARIANTS[job.get("variant", "bf16")])
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
        before, method = torch.cuda.memory_allocated(device), "torch.cuda.max_memory_allocated"
    else:
        before, method = _rss_mark()
    if tr is None:
        with _autocast(device, job.get("bf16", False)):
            iw_nll(model, [batch], n_iw=job["n_iw"])
    else:
        with float_settings(True):
            tr.train_step(batch)
    if cuda:
        peak = torch.cuda.max_memory_allocated(device)
    elif "VmHWM" in method:
        peak = _proc_kib("VmHWM") * 1024
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return dict(job, peak_mib=(peak - before) / 2 ** 20, method=method)


def peak_memory(job: dict, timeout=600) -> dict:
    "`_probe(job)` in a fresh Python process (CUDA: in this one, where max_memory_allocated is exact)."
    if torch.device(job.get("device", "cpu")).type == "cuda":
        return _probe(job)
    code = "\n".join(["import json, sys", "sys.path.insert(0, sys.argv[1])", "from bench import _probe",
                      "print(json.dumps(_probe(json.loads(sys.argv[2]))))"])
    r = subprocess.run([sys.executable, "-c", code, str(BENCH_DIR), json.dumps(job)], capture_output=True, text=True,
                       timeout=timeout)
    if r.returncode:
        raise RuntimeError(f"memory probe failed: {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


# ## Loss curves: bfloat16 against float32

def _smooth(v, k):
    "Moving average over `k` steps (the values themselves when there are fewer)."
    return np.convolve(v, np.ones(k) / k, mode="valid") if len(v) >= k else np.asarray(v)


def loss_curves(cfg: VAEConfig, seqs, steps=300, batch_size=32, device="cpu", seed=0, fast=("bf16", "bf16_lstm"),
                window=20) -> dict:
    "Per-step losses in float32 and each `fast` variant (same weights, batches, draws); max relative gap, smoothed."
    torch.manual_seed(seed)
    base, b = SeqVAE(cfg).state_dict(), Batches(seqs, batch_size, shuffle=True, seed=seed)
    plan = [b.batch(r) for r in (b.plan(0) * (1 + steps // max(len(b), 1)))[:steps]]
    curves, times = {}, {}
    for v in ("fp32", *fast):
        m = SeqVAE(cfg)
        m.load_state_dict(base)
        m.check_inputs = False
        tr = _trainer(m, plan, device, log_every=1, **VARIANTS[v])
        torch.manual_seed(seed + 1)
        with float_settings(VARIANTS[v].get("flush_denormal", False)):
            t = time.perf_counter()
            for batch in plan:
                tr.train_step(batch)
            times[v] = time.perf_counter() - t
        curves[v] = [float(loss) for loss in tr.history.train["loss"]]
    ref = _smooth(curves["fp32"], window)
    gap = {v: float(np.max(np.abs(_smooth(curves[v], window) - ref) / np.abs(ref))) for v in fast}
    return dict(curves=curves, max_rel_gap=gap, window=window, steps=steps, seconds=times)


# ## The whole benchmark

SIZES = {"tiny": (32, 32, 8), "small": (256, 256, 32), "paper": (512, 1024, 32)}


@dataclass
class BenchConfig:
    "Everything `run_benchmark` needs, as plain values."
    corpora: tuple = ("yelp_short", "yahoo")   # names for `load_corpus(name, split="auto")`
    sizes: tuple = ("small", "paper")          # keys of SIZES
    variants: tuple = ("ref", *VARIANTS)
    batch_size: int = 32
    steps: int = 6             # training steps per timed round (divided by mean length / 10 for long documents)
    rounds: int = 3            # timed rounds per variant (median reported)
    warmup: int = 1            # untimed rounds first
    iw_ref: int = 4            # sentences for the one-at-a-time reference IW-NLL (also divided for long documents)
    iw_ours: int = 32          # sentences for seqvae's batched IW-NLL
    n_iw: int = 500
    mi_sentences: int = 2000
    memory: bool = True        # peak-memory probes in a fresh process
    matmul_n: int = 1024       # size of the square matmul that measures the peak
    max_len: int | None = None  # truncate sentences (None: as in the corpus)
    max_vocab: int | None = None
    threads: int | None = 2
    device: str = "cpu"
    seed: int = 0

    def __post_init__(self):
        for s in self.sizes:
            if s not in SIZES:
                raise ValueError(f"sizes: unknown size {s!r}; choose from {sorted(SIZES)}")
        for v in self.variants:
            if v != "ref" and v not in VARIANTS:
                raise ValueError(f"variants: unknown {v!r}; choose from ref, {', '.join(VARIANTS)}")
        for f in ("batch_size", "steps", "rounds", "iw_ref", "iw_ours", "n_iw", "mi_sentences"):
            if not (isinstance(getattr(self, f), int) and getattr(self, f) >= 1):
                raise ValueError(f"{f} must be an int >= 1")

    def to_dict(self):
        return asdict(self)


def _ratios(train: dict) -> dict:
    "Speed-ups of each seqvae variant over the reference, in target tokens/s (the work done)."
    ref = train.get("ref", {}).get("tokens_per_s")
    return {v: r["tokens_per_s"] / ref for v, r in train.items() if v != "ref" and ref}


def _encoded(corpus, split, max_len):
    "The split's sentences as token ids, truncated to `max_len` words when given."
    return [corpus.vocab.encode(s)[:max_len] if max_len else corpus.vocab.encode(s) for s in corpus.split(split)]


def bench_one(bc: BenchConfig, corpus, size: str, peaks: dict, log=print) -> dict:
    "Training, IW-NLL, MI/AU and memory for one corpus and model size."
    rc = run_config(corpus.name, size, bc.batch_size, bc.max_vocab, bc.device, bc.seed)
    cfg = model_of(rc, corpus).cfg                                        # the builder's model config
    train_seqs = _encoded(corpus, "train", bc.max_len)
    eval_seqs = _encoded(corpus, "valid", bc.max_len) or train_seqs
    model_size = dict(emb_dim=cfg.emb_dim, hidden_dim=cfg.hidden_dim, latent_dim=cfg.latent_dim,
                      vocab_size=cfg.vocab_size)
    out = dict(corpus=corpus.name, size=size, model=model_size)
    mean_len = float(np.mean([len(s) for s in train_seqs]))
    scale = max(1, round(mean_len / 10))                                # long documents: fewer steps and IW sentences
    out["long_document_scale"] = scale
    before = machine_peaks(bc.matmul_n, bc.device)
    tr = bench_train(cfg, train_seqs, bc.variants, bc.batch_size, max(1, bc.steps // scale), bc.rounds, bc.warmup,
                     bc.device, bc.seed)
    after = machine_peaks(bc.matmul_n, bc.device)
    for k in peaks:  # a busy moment can only lower a measured peak
        peaks[k] = max(peaks[k], before.get(k, 0.0), after.get(k, 0.0))
    out["matmul_peak_gflops"] = dict(before=before, after=after, best_so_far=dict(peaks))
    for v, r in tr.items():
        r["fraction_of_peak"] = r["gflops"] / peaks[peak_key(v)]
    out.update(train=tr, train_speedup=_ratios(tr), flops=step_flops(cfg, [mean_len + 2] * bc.batch_size))
    log(f"{corpus.name} {size} train: " + ", ".join(f"{v} {r['tokens_per_s']:.0f} tok/s" for v, r in tr.items()))
    torch.manual_seed(bc.seed)
    model = he_compatible_(SeqVAE(cfg)).to(bc.device)
    model.check_inputs = False
    rng = np.random.default_rng(bc.seed)

    def pick(n):
        return [eval_seqs[i] for i in rng.permutation(len(eval_seqs))[:n]]

    n_ref, n_ours = max(1, bc.iw_ref // scale), max(2, bc.iw_ours // scale)
    out["iw"] = bench_iw(model, pick(n_ours), n_ref, bc.n_iw, bc.batch_size, bc.device, seed=bc.seed)
    log(f"{corpus.name} {size} iw: ref {out['iw']['ref']['tokens_per_s']:.1f} tok/s, "
        f"ours fp32 {out['iw']['fp32']['tokens_per_s']:.1f} tok/s")
    out["mi_au"] = bench_mi_au(model, pick(bc.mi_sentences), bc.batch_size, bc.device, bc.seed)
    if bc.memory:
        job = dict(cfg=cfg.to_dict(), device=bc.device, threads=bc.threads)
        out["memory"] = dict(iw_100_tokens=peak_memory(dict(job, kind="iw", length=100, n=1, n_iw=bc.n_iw)),
                             train_step=peak_memory(dict(job, kind="train", length=int(mean_len), n=bc.batch_size)))
    return out


def run_benchmark(bc: BenchConfig, log=print) -> dict:
    "The whole benchmark: machine, matmul peaks, and `bench_one` for every corpus and size; a JSON-ready dict."
    threads = torch.get_num_threads()
    if bc.threads:
        torch.set_num_threads(bc.threads)
    try:
        t0 = time.time()
        get_device(bc.device)                                           # fail early on a device this machine lacks
        peaks = machine_peaks(bc.matmul_n, bc.device)
        log(f"matmul peak: fp32 {peaks['fp32']:.0f} (a @ b {peaks['fp32_mm']:.0f}), bf16 {peaks['bf16']:.0f} GFLOP/s")
        runs = []
        for name in bc.corpora:
            corpus = load_data(run_config(name, "tiny", bc.batch_size, bc.max_vocab, bc.device, bc.seed).data)
            for size in bc.sizes:
                runs.append(bench_one(bc, corpus, size, peaks, log))
        for r in runs:  # fractions against the best peak measured anywhere in the run
            for v, t in r["train"].items():
                t["fraction_of_peak"] = t["gflops"] / peaks[peak_key(v)]
        slowdown = subnormal_slowdown(bc.matmul_n, device=bc.device)     # the matmul peak's size: small for smoke runs
        machine = dict(machine_info(bc.device), subnormal_slowdown=slowdown)
        return dict(machine=machine, config=bc.to_dict(), matmul_peak_gflops=peaks, runs=runs, table=bench_table(runs),
                    wall_time_s=time.time() - t0)
    finally:
        torch.set_num_threads(threads)


def bench_table(runs) -> list[dict]:
    "One row per corpus, size and variant: tokens/s, sentences/s, speed-up over the reference, fraction of peak."
    return [dict(corpus=r["corpus"], size=r["size"], variant=v, sentences_per_s=round(t["sentences_per_s"], 1),
                 tokens_per_s=round(t["tokens_per_s"], 1), speedup=round(r["train_speedup"].get(v, 1.0), 2),
                 fraction_of_peak=round(t["fraction_of_peak"], 3)) for r in runs for v, t in r["train"].items()]


def bench_config(scale="small", corpus="yelp_short,yahoo", sizes="small,paper", threads=2, repeats=3, device="cpu",
                 seed=0, **kw) -> BenchConfig:
    "A `BenchConfig` from flat values: smoke = synthetic corpus, tiny model, one round, seconds; small/paper = real."
    def split(s):
        return tuple(x for x in s.split(",") if x) if isinstance(s, str) else tuple(s)

    if scale == "smoke":   # tiny: one thread is fastest
        return BenchConfig(corpora=("synthetic",), sizes=("tiny",), steps=1, rounds=1, warmup=1, iw_ref=2, iw_ours=8,
                           n_iw=50, mi_sentences=100, memory=False, matmul_n=256, threads=1, device=device, seed=seed,
                           **kw)
    if scale not in ("small", "paper"):
        raise ValueError(f"scale must be smoke, small or paper, got {scale!r}")
    more = dict(steps=4, rounds=max(repeats, 5), iw_ref=8, iw_ours=128) if scale == "paper" else {}
    return BenchConfig(corpora=split(corpus), sizes=split(sizes), rounds=repeats, threads=threads, device=device,
                       seed=seed, **{**more, **kw})


# ## The command line

def notebook_job(out_dir, scale="small", corpus="yelp_short,yahoo", sizes="small,paper", threads=2, repeats=3,
                 device="cpu", seed=0):
    "A `seqvae.lab.notebooks.NotebookJob` that runs `benchmark.ipynb` into `out_dir` (results.json, figures)."
    from seqvae.lab.notebooks import NotebookJob
    params = dict(scale=scale, corpus=corpus, sizes=sizes, threads=threads, repeats=repeats, device=device, seed=seed,
                  bench_dir=str(BENCH_DIR))
    return NotebookJob(NOTEBOOK, params, out_dir, name="benchmark")


def add_bench_arguments(p):
    "The benchmark's options on an argparse parser."
    p.add_argument("--scale", default="small", choices=["smoke", "small", "paper"])
    p.add_argument("--corpus", default="yelp_short,yahoo", help="comma-separated corpus names")
    p.add_argument("--sizes", default="small,paper", help="comma-separated model sizes: tiny, small, paper")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3, help="timed rounds per variant")
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/bench", help="folder for results.json (and the executed notebook)")
    p.add_argument("--no-notebook", action="store_true", help="run `run_benchmark` directly, without papermill")
    return p


def add_bench_command(subparsers):
    "Add a `bench` command to an argparse sub-parser set."
    b = subparsers.add_parser("bench", help="training/evaluation throughput against the reference implementation")
    return add_bench_arguments(b)


def run_bench_command(args) -> int:
    "Run the benchmark for parsed arguments (through `benchmark.ipynb` unless --no-notebook); 0 on success."
    out = Path(args.out).resolve()
    params = dict(scale=args.scale, corpus=args.corpus, sizes=args.sizes, threads=args.threads, repeats=args.repeats,
                  device=args.device, seed=args.seed)
    if not args.no_notebook:
        from seqvae.lab.notebooks import run_notebooks
        r = run_notebooks([notebook_job(out, **params)], workers=1)[0]
        print(f"benchmark {r.status}: {r.results_path or r.error}")
        return int(r.status != "ok")
    res = run_benchmark(bench_config(**params))
    print(f"results: {write_results(out, {**res, 'experiment': 'benchmark'})}")
    return 0


def bench_main(argv=None) -> int:
    "`python benchmarks/bench.py [options]`: run the benchmark; `argv` defaults to the command line."
    p = argparse.ArgumentParser(prog="python benchmarks/bench.py", description=__doc__.splitlines()[0])
    add_bench_arguments(p)
    return run_bench_command(p.parse_args(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(bench_main())
