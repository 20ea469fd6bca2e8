"""Where the milliseconds of one training step go: seqvae's step and the reference's, part by part and op by op.

    python benchmarks/profile_step.py --corpus yelp_short --size 512/1024 --threads 1 \\
        --out results/bench/profile/yelp_short-512x1024-t1.json

Two views of the same batch (batch 32, real sentences of one length drawn as `bench.paired_batches` draws them):

- **parts**: the step (`Trainer.train_step`), the loss's forward and backward alone, and, timed alone with the same
  shapes, the encoder (embedding, LSTM, posterior head), the decoder LSTM (embedding, dropout, z, LSTM) and the
  output layer with its cross-entropy (`linear_cross_entropy`), each forward and backward. `rest` is what the parts
  leave of the forward and backward (sampling, KL, sums); `update` is what that leaves of the step (clipping, SGD,
  bookkeeping).
- **ops**: `torch.profiler` over several steps, each op's self CPU time, largest first.

Each variant of `bench.VARIANTS` can be profiled (`--variants fp32,bf16_lstm`); `ref` is `bench.RefVAE`'s step.
Run it on a quiet machine: it times.
"""
from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402
from seqvae.model import PAD, SeqVAE, VAEConfig, linear_cross_entropy, run_lstm  # noqa: E402
from seqvae.train.builder import load_data  # noqa: E402


def _split(step, forward_backward, parts, repeats: int, flush: bool = False) -> dict:
    """Milliseconds of `step`, of its loss's `forward_backward` and of each of `parts` (named by their functions),
    in `bench.time_rounds`'s rotating rounds (2 untimed calls each, then `repeats` timed, median); `rest` is what the
    parts leave of the forward and backward (sampling, KL, sums), `update` what the forward and backward leave of the
    step (clipping, the optimizer, bookkeeping)."""
    fns = dict(step=step, forward_backward=forward_backward, **{f.__name__: f for f in parts})
    times = bench.time_rounds({n: (lambda _, f=f: f(), flush) for n, f in fns.items()}, [None] * 2,
                              [[None]] * repeats)
    out = {n: 1e3 * statistics.median(t) for n, t in times.items()}
    out["rest"] = out["forward_backward"] - sum(out[f.__name__] for f in parts)
    out["update"] = out["step"] - out["forward_backward"]
    return out


def seqvae_parts(cfg: VAEConfig, base: SeqVAE, batch, variant: str, repeats: int) -> tuple[dict, object]:
    """Milliseconds of seqvae's step and of its parts, timed alone on `batch`'s shapes under `variant`'s settings;
    and the step itself."""
    opts = bench.VARIANTS[variant]
    m = SeqVAE(cfg)
    m.load_state_dict(base.state_dict())
    m.check_inputs = False
    tr = bench._trainer(m, [batch], "cpu", **opts)
    m.train()
    on = tr.autocast                                                     # the Trainer set the LSTMs' precision too
    x, lengths = batch.x, torch.as_tensor(batch.lengths)
    T = int(lengths.max())
    d = m.decoder
    x_in, target = x[:, :T - 1], x[:, 1:T].flatten()                     # (B, T-1), (B*(T-1),)
    target = target[target != PAD]                                      # (n,): `Decoder.log_prob` skips padding
    z = torch.randn(len(x), cfg.latent_dim, requires_grad=True)          # (B, D)
    h = torch.randn(len(target), cfg.hidden_dim, requires_grad=True)     # (n, H)

    def amp():
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=on)

    def encoder():
        m.zero_grad(set_to_none=True)
        with amp():
            mu, logvar = m.encoder(x, lengths)                            # (B, D) each
        (mu.sum() + logvar.sum()).backward()

    def decoder_lstm():
        m.zero_grad(set_to_none=True)
        with amp():
            e = d.drop_in(d.embed(x_in))                                 # (B, T-1, E)
            e = torch.cat([e, z[:, None].expand(-1, x_in.size(1), -1)], -1)  # (B, T-1, E + D)
            out, _ = run_lstm(d.lstm, e, d.init_state(z), d.lstm_autocast)  # (B, T-1, H)
        out.float().sum().backward()

    def output():
        m.zero_grad(set_to_none=True)
        with amp():
            nll = linear_cross_entropy(d.drop_out(h), d.out.weight, d.out.bias, target)  # (B*(T-1),)
        nll.sum().backward()

    def forward_backward():
        m.zero_grad(set_to_none=True)
        with amp():
            loss = m(x, lengths)["loss"]
        loss.backward()

    step = lambda: tr.train_step(batch)                                 # noqa: E731
    return _split(step, forward_backward, (encoder, decoder_lstm, output), repeats, opts.get("flush_denormal")), step


def ref_parts(cfg: VAEConfig, base: SeqVAE, x, repeats: int) -> tuple[dict, object]:
    "Milliseconds of `RefVAE`'s step (equal-length x (B, T)) and of the same parts as `seqvae_parts`; the step."
    ref = bench.RefVAE(cfg).load_seqvae(base)
    ref.train()
    opts = [torch.optim.SGD(ref.encoder.parameters(), lr=1.0), torch.optim.SGD(ref.decoder.parameters(), lr=1.0)]
    d, T = ref.decoder, x.size(1) - 1
    z = torch.randn(len(x), 1, cfg.latent_dim, requires_grad=True)       # (B, 1, D)
    h = torch.randn(len(x), T, cfg.hidden_dim, requires_grad=True)       # (B, T-1, H)
    tgt = x[:, 1:].reshape(-1)                                           # (B*(T-1),)

    def encoder():
        ref.zero_grad(set_to_none=True)
        mu, logvar = ref.encode(x)
        (mu.sum() + logvar.sum()).backward()

    def decoder_lstm():
        ref.zero_grad(set_to_none=True)
        e = torch.cat([d.drop_in(d.embed(x[:, :-1])), z.expand(-1, T, -1)], -1)   # (B, T-1, E + D)
        c0 = d.to_c0(z[:, 0])[None]                                      # (1, B, H)
        out, _ = d.lstm(e, (c0.tanh(), c0))                              # (B, T-1, H)
        out.sum().backward()

    def output():
        ref.zero_grad(set_to_none=True)
        logits = d.out(d.drop_out(h))                                    # (B, T-1, V)
        ref.loss(logits.view(-1, logits.size(-1)), tgt).sum().backward()

    def forward_backward():
        ref.zero_grad(set_to_none=True)
        ref(x)["loss"].backward()

    step = lambda: bench._ref_step(ref, opts, x)                        # noqa: E731
    return _split(step, forward_backward, (encoder, decoder_lstm, output), repeats), step


def op_table(step, steps: int, top: int = 15) -> list[dict]:
    "`torch.profiler` over `steps` calls of `step()`: the `top` ops by self CPU time, ms per step and share."
    step()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    rows = [(e.key, e.self_cpu_time_total / 1e3 / steps, e.count // steps) for e in prof.key_averages()]
    total = sum(r[1] for r in rows)
    rows.sort(key=lambda r: -r[1])
    return [dict(op=k, ms_per_step=round(ms, 3), share=round(ms / total, 4), calls_per_step=n)
            for k, ms, n in rows[:top]] + [dict(op="(all ops)", ms_per_step=round(total, 3), share=1.0)]


def run_profile(corpus: str, size: str, threads=1, variants=("fp32",), repeats=7, steps=3, seed=0) -> dict:
    "Parts and op tables of `ref` and each seqvae variant on one batch of `corpus` at `size` (\"E/H\"); JSON-ready."
    E, H = map(int, size.split("/"))
    torch.set_num_threads(threads)
    data = load_data(bench.run_config(corpus, "tiny", 32, None, "cpu", seed).data)
    seqs = bench._encoded(data, "train", None)
    cfg = VAEConfig(len(data.vocab), emb_dim=E, hidden_dim=H, latent_dim=32)
    torch.manual_seed(seed)
    base = bench.he_compatible_(SeqVAE(cfg))
    pairs = bench.paired_batches(seqs, 32, 64, seed)
    mid = sorted(int(p[0].lengths.max()) for p in pairs)[len(pairs) // 2]
    batch, x = next(p for p in pairs if int(p[0].lengths.max()) == mid)  # a batch of median length
    flops = bench.step_flops(cfg, torch.full((32,), x.size(1)))
    out = dict(date=datetime.datetime.now().astimezone().isoformat(timespec="seconds"), cpu=bench._cpuinfo()[0],
               machine=bench.machine_info(), corpus=corpus, size=size, vocab_size=cfg.vocab_size, batch_size=32,
               threads=threads, ref_length=x.size(1), seqvae_lengths=[int(v) for v in batch.lengths],
               flops=flops, matmul_peak_gflops=bench.machine_peaks(), parts={}, ops={})
    out["parts"]["ref"], step = ref_parts(cfg, base, x, repeats)
    out["ops"]["ref"] = op_table(step, steps)
    for v in variants:
        out["parts"][v], step = seqvae_parts(cfg, base, batch, v, repeats)
        with bench.float_settings(bench.VARIANTS[v].get("flush_denormal", False)):
            out["ops"][v] = op_table(step, steps)
    return out


PARTS = ("encoder", "decoder_lstm", "output", "rest", "update")


def profile_table(path, top: int = 6) -> str:
    """Markdown of one `--out` file: milliseconds per part of the step for each program, with their share of its
    step, and the `top` ops by self time of each."""
    r = json.loads(Path(path).read_text())
    names = list(r["parts"])
    out = [f"{r['corpus']}, {r['size']}/32, batch 32, {r['threads']} thread(s), {r['cpu']}, {r['date'][:10]}; "
           f"reference sentences of {r['ref_length'] - 2} words, the output layer "
           f"{100 * r['flops']['output_share']:.0f} % of the step's FLOPs", "",
           "| part | " + " | ".join(f"{n} ms (share)" for n in names) + " |", "|---|" + "---|" * len(names)]
    for part in ("step", *PARTS):
        cells = [f"{r['parts'][n][part]:.0f}" + ("" if part == "step" else
                 f" ({100 * r['parts'][n][part] / r['parts'][n]['step']:.0f} %)") for n in names]
        out.append(f"| {part} | " + " | ".join(cells) + " |")
    for n in names:
        ops = ", ".join(f"`{o['op']}` {o['ms_per_step']:.0f} ms" for o in r["ops"][n][:top])
        out += ["", f"{n}, largest ops by self time per step (profiler): {ops}"]
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/profile_step.py", description=__doc__.splitlines()[0])
    p.add_argument("--corpus", default="yelp_short")
    p.add_argument("--size", default="512/1024", help="emb/hidden")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--variants", default="fp32", help=f"comma-separated, of {', '.join(bench.VARIANTS)}")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--steps", type=int, default=3, help="profiled steps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="JSON file")
    a = p.parse_args(argv)
    variants = tuple(v for v in a.variants.split(",") if v)
    bad = [v for v in variants if v not in bench.VARIANTS]
    if bad:
        p.error(f"--variants: unknown {', '.join(bad)}; choose from {', '.join(bench.VARIANTS)}")
    res = run_profile(a.corpus, a.size, a.threads, variants, a.repeats, a.steps, a.seed)
    for name, parts in res["parts"].items():
        print(name, " ".join(f"{k} {v:.1f}" for k, v in parts.items()), "ms")
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(a.out).with_suffix(".tmp")
        tmp.write_text(json.dumps(res, indent=1))
        tmp.replace(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
