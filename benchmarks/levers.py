"""What each of seqvae's training levers is worth: bf16 training with one lever at a time taken back out.

The levers are the fused output layer and softmax (`seqvae.model.linear_cross_entropy`), the unpacked
unidirectional encoder from `Encoder.unpack_from` tokens on (`Encoder.features`; "encoder always unpacked"
sets that threshold to 1, and since the default is 0 it is the same setting as "all levers": the gap
between the two is the noise between rounds) and the row gradients of the embeddings under plain SGD
(`Trainer.use_sparse_embeddings`). To take one out, this script binds the earlier implementation (written
out below: `F.cross_entropy` over the logits, a packed encoder) to that model alone, or makes its
embeddings dense. Everything else is `bench.py`'s: paired batches, the reference, interleaved rounds
(here in an order that rotates from round to round), medians.

    SEQVAE_DATA=<data> python benchmarks/levers.py --corpus yelp_short --size small --threads 1 --out FILE.json
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import types
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench as B  # noqa: E402
from seqvae.train.builder import load_data, model_of  # noqa: E402
from seqvae.data import PAD  # noqa: E402
from seqvae.model import SeqVAE, run_lstm, word_dropout  # noqa: E402

LEVERS = ("fused", "unpacked", "rows")


def unfused_log_prob(self, x, lengths, z=None):
    "`Decoder.log_prob` before the fused output layer: the logits, then `F.cross_entropy` (train mode only)."
    B_, K = x.size(0), 1 if z is None else z.size(1)
    x = x[:, :int(lengths.max())]
    x_in, target = x[:, :-1], x[:, 1:]                                  # (B, T-1) each
    if self.training and self.word_dropout > 0: x_in = word_dropout(x_in, self.word_dropout)
    x_in, target = x_in.repeat_interleave(K, 0), target.repeat_interleave(K, 0)
    h, _ = self.hidden(x_in, None if z is None else z.reshape(B_ * K, -1))  # (B*K, T-1, H)
    logp = -F.cross_entropy(self.out(h.flatten(0, 1)), target.flatten(), ignore_index=PAD, reduction="none")
    return logp.view(B_, K, -1).sum(-1)                                 # (B, K)


def packed_features(self, x, lengths):
    "`Encoder.features` before the unpacked path, for a unidirectional last-state encoder: a packed batch."
    packed = pack_padded_sequence(self.embed(x), lengths.cpu(), batch_first=True, enforce_sorted=False)
    out, (h, _) = run_lstm(self.lstm, packed, None, self.lstm_autocast)
    if self.pooling == "last": return h[-1]
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.size(1))
    real = (torch.arange(x.size(1)) < lengths[:, None])[..., None]
    return (out * real).sum(1) / real.sum(1) if self.pooling == "mean" else out.masked_fill(~real, -1e30).amax(1)


def variant(cfg, base, pairs, without: tuple, opts: dict):
    "A training step of seqvae from `base`'s weights with `opts` (VARIANTS), the levers in `without` taken out."
    m = SeqVAE(cfg)
    m.load_state_dict(base.state_dict())
    m.check_inputs = False
    tr = B._trainer(m, [p[0] for p in pairs], "cpu", **opts)
    if "fused" in without: m.decoder.log_prob = types.MethodType(unfused_log_prob, m.decoder)
    if "unpacked" in without: m.encoder.features = types.MethodType(packed_features, m.encoder)
    if "always-unpacked" in without: m.encoder.unpack_from = 1          # not a lever out: the threshold out
    if "rows" in without:
        for e in (m.encoder.embed, m.decoder.embed): e.sparse = False
    return lambda p: tr.train_step(p[0])


def measure(corpus_name, size, threads=1, rounds=3, seed=0, precision="bf16_lstm") -> dict:
    "Interleaved rounds: the reference, seqvae with every lever, without each one, and without all three."
    torch.set_num_threads(threads)
    corpus = load_data(B.run_config(corpus_name, "tiny").data)
    cfg = model_of(B.run_config(corpus_name, size), corpus).cfg
    seqs = B._encoded(corpus, "train", None)
    scale = max(1, round(sum(map(len, seqs)) / len(seqs) / 10))        # long documents: fewer steps per round
    n = max(2, 8 // scale)
    pairs = B.paired_batches(seqs, 32, 1 + rounds * n, seed)
    torch.manual_seed(seed)
    base = B.he_compatible_(SeqVAE(cfg))
    ref = B._runners(cfg, base, ["ref"], pairs, "cpu")["ref"][0]
    opts = B.VARIANTS[precision]
    outs = [()] + [(lv,) for lv in LEVERS] + [LEVERS]
    steps = {"ref": ref, **{"all levers" if not w else "without " + "+".join(w): variant(cfg, base, pairs, w, opts)
                            for w in outs}}
    steps["encoder always unpacked"] = variant(cfg, base, pairs, ("always-unpacked",), opts)
    flush = opts.get("flush_denormal", False)
    times = B.time_rounds({k: (step, k != "ref" and flush) for k, step in steps.items()}, pairs[:1],
                          [pairs[1 + r * n: 1 + (r + 1) * n] for r in range(rounds)])
    med = {k: statistics.median(v) for k, v in times.items()}
    return dict(corpus=corpus_name, size=size, threads=threads, precision=precision, steps_per_round=n,
                rounds={k: v for k, v in times.items()}, speedup={k: med["ref"] / v for k, v in med.items()},
                load_average=list(os.getloadavg()))


def dropout_masks(shape=(32, 12, 256), threads=1, repeats=51) -> dict:
    "Median ms of one training-mode `nn.Dropout(0.5)` and one `seqvae.model.Dropout(0.5)` on a tensor of `shape`."
    from seqvae.model import Dropout
    torch.set_num_threads(threads)
    x = torch.randn(shape)
    out = {}
    for name, drop in (("nn.Dropout", torch.nn.Dropout(0.5)), ("seqvae Dropout", Dropout(0.5))):
        drop(x)
        ts = []
        for _ in range(repeats):
            t = time.perf_counter()
            drop(x)
            ts.append(time.perf_counter() - t)
        out[name] = 1e3 * statistics.median(ts)
    return dict(shape=list(shape), threads=threads, ms=out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", default="yelp_short,yahoo")
    p.add_argument("--size", default="small,paper")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", required=True)
    p.add_argument("--dropout-only", action="store_true", help="time the dropout masks alone (seconds)")
    a = p.parse_args(argv)
    out = Path(a.out)
    if out.exists(): sys.exit(f"{out} exists: choose a new --out, earlier results are not overwritten")
    if a.dropout_only:
        res = [dropout_masks(threads=t) for t in (1, 2)]
        print(res)
        out.write_text(json.dumps(dict(torch=torch.__version__, dropout=res), indent=1))
        return
    res = []
    for c in a.corpus.split(","):
        for s in a.size.split(","):
            r = measure(c, s, a.threads, a.rounds)
            print(c, s, {k: round(v, 2) for k, v in r["speedup"].items()}, flush=True)
            res.append(r)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(dict(torch=torch.__version__, runs=res), indent=1))
    tmp.replace(out)


if __name__ == "__main__":
    main()
