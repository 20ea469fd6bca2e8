"""Exact resume: a training process killed with SIGKILL at an arbitrary point and resumed ends bit-identical to one
that was never killed.

Each case runs three (or more) child processes on CPU with one thread and deterministic algorithms:
an uninterrupted reference, a run killed by SIGKILL (inside a forward pass, or half-way through writing a
checkpoint), and the resumed run. Every parameter must be `torch.equal` to the reference's, and the history
(training records and validations) the same number for number.
"""
import json
import random
import signal
import subprocess
import sys
import textwrap
import pytest
import torch
from conftest import ROOT, clean_env

CHILD = textwrap.dedent('''
    import json, os, signal, sys
    import torch
    torch.set_num_threads(1)
    from seqvae.data import load_corpus
    from seqvae.model import SeqVAE, VAEConfig
    from seqvae.schedules import ScheduleConfig
    from seqvae.train.loop import TrainConfig, fit

    run_dir, resume, out = sys.argv[1], sys.argv[2] == "resume", sys.argv[3]
    kill_mode, kill_at = os.environ.get("KILL_MODE", ""), int(os.environ.get("KILL_AT", "-1"))
    params = json.loads(os.environ["TRAIN_PARAMS"])
    if "beta" in params: params["beta"] = ScheduleConfig(**params["beta"])

    calls = [0]
    def count_and_maybe_die(f=None):
        calls[0] += 1
        if calls[0] == kill_at:
            if f is not None:
                f.write(b"half a checkpoint")
                f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
    if kill_mode == "forward":                      # die in the middle of a training step
        forward = SeqVAE.forward
        def killing_forward(self, *a, **k):
            count_and_maybe_die()
            return forward(self, *a, **k)
        SeqVAE.forward = killing_forward
    if kill_mode == "save":                         # die half-way through writing a checkpoint
        save = torch.save
        def killing_save(obj, f, *a, **k):
            count_and_maybe_die(f)
            return save(obj, f, *a, **k)
        torch.save = killing_save

    corpus = load_corpus("synthetic", n_train=240, n_valid=60)
    # 10 batches per epoch
    train, valid = corpus.batches("train", 24, shuffle=True, seed=0), corpus.batches("valid", 30)
    torch.manual_seed(0)
    model = SeqVAE(VAEConfig(vocab_size=len(corpus.vocab), emb_dim=16, hidden_dim=24, latent_dim=4,
                             dec_in_dropout=0.3, dec_out_dropout=0.3, word_dropout=0.1, init_range=0.1))
    h = fit(model, train, valid, TrainConfig(**params), run_dir=run_dir, resume=resume)
    torch.save({"model": model.state_dict(), "history": h.to_dict()}, out)
''')

BASE = dict(epochs=3, device="cpu", threads=1, deterministic=True, log_every=3, eval_n_iw=3)
CASES = {
    # Adam, cyclical beta with cosine lr restarts, dropout and word dropout. Killed twice: in the middle of a step
    # (2 steps after a checkpoint, in epoch 1), then the resumed run again, half-way through writing a checkpoint.
    "adam-cyclical-restarts": (dict(BASE, lr=3e-3, checkpoint_every=4, lr_schedule="cosine_restarts",
                                    beta=dict(kind="cyclical", total_steps=30, n_cycles=3)),
                               [("forward", 19), ("save", 2)]),
    # He et al.'s baselines: SGD, aggressive inner loops on random fresh batches, plateau decay with best-model reload
    "sgd-aggressive-plateau": (dict(BASE, optimizer="sgd", lr=0.5, aggressive=True, aggressive_max_inner=12,
                                    aggressive_check_every=4, lr_schedule="plateau", lr_decay_after=0, lr_patience=1,
                                    eval_every=4, checkpoint_every=2),
                               [("forward", 40)]),
}

def child(tmp_path, run_dir, name, resume=False, kill=None, params=None):
    "Start a training process; `finish(...)` waits for it."
    script = tmp_path/"child.py"
    script.write_text(CHILD)
    env = clean_env() | {"TRAIN_PARAMS": json.dumps(params), "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    if kill: env |= {"KILL_MODE": kill[0], "KILL_AT": str(kill[1])}
    out = tmp_path/f"{name}.pt"
    p = subprocess.Popen([sys.executable, str(script), str(run_dir), "resume" if resume else "fresh", str(out)],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return p, out

def finish(p, returncode=0):
    _, err = p.communicate(timeout=300)
    assert p.returncode == returncode, (p.returncode, err)

@pytest.mark.parametrize("case", list(CASES))
def test_killed_and_resumed_run_is_bit_identical(tmp_path, case):
    params, kills = CASES[case]
    ref, ref_out = child(tmp_path, tmp_path/"straight", "reference", params=params)   # runs beside the first killed run
    run_dir, resume = tmp_path/"killed", False
    for i, kill in enumerate(kills):
        finish(child(tmp_path, run_dir, f"killed{i}", resume=resume, kill=kill, params=params)[0], -signal.SIGKILL)
        resume = True
    finish(ref)
    last = torch.load(run_dir/"last.pt", weights_only=True)
    assert 0 < last["state"]["step"] < 30, last["state"]["step"]            # killed in the middle, after a checkpoint
    if kills[-1][0] == "save": assert list(run_dir.glob(".last.pt.*.tmp")) or list(run_dir.glob(".best.pt.*.tmp"))
    p, res_out = child(tmp_path, run_dir, "resumed", resume=True, params=params)
    finish(p)
    assert not list(run_dir.glob(".*.tmp"))                                  # the torn temporary file was cleaned up
    ref, res = torch.load(ref_out, weights_only=True), torch.load(res_out, weights_only=True)
    assert ref["model"].keys() == res["model"].keys()
    for k, v in ref["model"].items():
        assert torch.equal(v, res["model"][k]), f"{case}: parameter {k} differs after resume"
    for table in ("train", "valid"):
        strip = lambda t: {k: v for k, v in t.items() if k != "time_s"}
        assert strip(res["history"][table]) == strip(ref["history"][table]), f"{case}: {table} history differs"
    for k in ("inner_steps", "bad_steps", "best_step", "best_elbo", "stop_reason"):
        assert res["history"][k] == ref["history"][k], k
    kinds = lambda h: [e["kind"] for e in h["events"] if e["kind"] != "resume"]
    assert kinds(res["history"]) == kinds(ref["history"])
    assert any(e["kind"] == "resume" for e in res["history"]["events"])
    if case == "sgd-aggressive-plateau":   # the resumed part must include a plateau decay, which reloads best.pt
        assert ref["history"]["inner_steps"], "aggressive training did not run"
        assert any(e["kind"] == "lr_decay" and e["step"] > last["state"]["step"] for e in ref["history"]["events"]), \
            ref["history"]["events"]
    log = [json.loads(l) for l in (run_dir/"log.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in log if r["kind"] == "train"]
    assert steps == sorted(set(steps)), "the log repeats records of the steps that were redone"

def test_ten_random_faults_resume_bit_exact_and_leave_usable_folders(tmp_path):
    """Fault injection: SIGKILL at 10 random points (inside a step, or half-way through writing a checkpoint), each
    time resuming the killed run; the folder stays loadable after every kill, and the end is bit-identical."""
    rng = random.Random(2026)
    kills = [("save", rng.randint(1, 2)) if rng.random() < 0.3 else ("forward", rng.randint(2, 6)) for _ in range(10)]
    params = dict(BASE, lr=3e-3, checkpoint_every=2, beta=dict(kind="cyclical", total_steps=30, n_cycles=3))
    ref, ref_out = child(tmp_path, tmp_path/"straight", "reference", params=params)
    run_dir, codes = tmp_path/"killed", []
    for i, kill in enumerate(kills):
        p, _ = child(tmp_path, run_dir, f"killed{i}", resume=True, kill=kill, params=params)
        p.communicate(timeout=300)
        codes.append(p.returncode)
        assert p.returncode in (-signal.SIGKILL, 0), (kill, p.returncode)
        if (run_dir/"last.pt").exists(): torch.load(run_dir/"last.pt", weights_only=True)   # always loadable
    finish(ref)
    assert codes.count(-signal.SIGKILL) >= 8, codes                           # the faults did strike mid-run
    p, res_out = child(tmp_path, run_dir, "resumed", resume=True, params=params)
    finish(p)
    ref, res = torch.load(ref_out, weights_only=True), torch.load(res_out, weights_only=True)
    for k, v in ref["model"].items(): assert torch.equal(v, res["model"][k]), f"parameter {k} differs after resume"
    strip = lambda t: {k: v for k, v in t.items() if k != "time_s"}
    for table in ("train", "valid"): assert strip(res["history"][table]) == strip(ref["history"][table]), table
    log = [json.loads(line) for line in (run_dir/"log.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in log if r["kind"] == "train"]
    assert steps == sorted(set(steps)) and steps == ref["history"]["train"]["step"], steps
