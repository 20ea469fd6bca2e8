"""Several processes: `fit` under torchrun's environment with 2 CPU processes (gloo) takes the same steps as one
process on the combined batch.

Eq. (5a.1) of nbs/05a_train.runtime.ipynb: DDP averages the gradients of the processes' batch means, which for batches of
equal size is the gradient of the mean over the combined batch. A language model with dropout 0 (so no random numbers
are drawn) and SGD must therefore end with the same parameters, up to float rounding, in both set-ups. The same two
processes also train a VAE with a checkpoint, resume it, and must match their own uninterrupted run exactly; only
process 0 writes the run folder.
"""
import socket
import subprocess
import sys
import textwrap
import torch
from conftest import ROOT, clean_env

WORKER = textwrap.dedent('''
    import json, os, sys
    import numpy as np, torch
    torch.set_num_threads(1)
    from seqvae.data import load_corpus
    from seqvae.model import LSTMLanguageModel, SeqVAE, VAEConfig
    from seqvae.train.loop import TrainConfig, fit

    mode, out = sys.argv[1], sys.argv[2]
    corpus = load_corpus("synthetic", n_train=192, n_valid=40)
    train, valid = corpus.batches("train", 8, shuffle=True, seed=0), corpus.batches("valid", 20)   # 24 batches of 8
    mcfg = VAEConfig(vocab_size=len(corpus.vocab), emb_dim=16, hidden_dim=24, latent_dim=4, dec_in_dropout=0.0,
                     dec_out_dropout=0.0, init_range=0.1)
    tcfg = TrainConfig(max_steps=5, optimizer="sgd", lr=0.5, log_every=1, device="cpu", threads=1)
    torch.manual_seed(0)
    lm = LSTMLanguageModel(mcfg)
    result = {"lm_init": {k: v.clone() for k, v in lm.state_dict().items()}}
    if mode == "single":         # one process, step s on the union of the batches that processes 0 and 1 take at step s
        plan = train.plan(0)
        combined = [train.batch(np.concatenate([plan[2 * s], plan[2 * s + 1]])) for s in range(tcfg.max_steps)]
        h = fit(lm, combined, None, tcfg)
    else:
        h = fit(lm, train, None, tcfg)
        vcfg = VAEConfig(**{**mcfg.to_dict(), "dec_in_dropout": 0.3})
        vae_cfg = TrainConfig(max_steps=6, lr=3e-3, checkpoint_every=2, eval_every=3, device="cpu", threads=1)
        torch.manual_seed(0)
        straight = SeqVAE(vcfg)
        fit(straight, train, valid, vae_cfg, run_dir=sys.argv[3] + "/straight")
        torch.manual_seed(0)
        part = SeqVAE(vcfg)
        fit(part, train, valid, TrainConfig(**{**vae_cfg.to_dict(), "max_steps": 4}), run_dir=sys.argv[3] + "/parts")
        torch.manual_seed(1)
        resumed = SeqVAE(vcfg)
        fit(resumed, train, valid, vae_cfg, run_dir=sys.argv[3] + "/parts", resume=True)
        result |= {"vae_straight": straight.state_dict(), "vae_resumed": resumed.state_dict()}
        from seqvae.train.builder import build          # a run built from a RunConfig: its beta schedule spans its own steps
        from seqvae.train.config import DataConfig, RunConfig
        from seqvae.schedules import ScheduleConfig
        run = build(RunConfig(DataConfig(max_train=192, batch_size=8),
                              VAEConfig(None, emb_dim=8, hidden_dim=8, latent_dim=2),
                              TrainConfig(epochs=1, device="cpu", threads=1,
                                          beta=ScheduleConfig("cyclical", total_steps=None))))
        seen = []
        run.fit(callbacks=[lambda event, tr: seen.append((tr.state.step, tr.schedule.cfg.total_steps))
                           if event == "step" else None])
        result["schedule"] = dict(built=run.total_steps, batches=len(run.train_batches), seen=seen)
    torch.save({"lm": lm.state_dict(), "train": h.train, **result}, out)
''')

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def test_two_gloo_processes_match_one_process_on_the_combined_batch(tmp_path):
    script = tmp_path/"worker.py"
    script.write_text(WORKER)
    base = clean_env() | {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}
    # what torchrun sets
    dist_env = base | {"WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port())}
    run = lambda mode, out, env: subprocess.Popen([sys.executable, str(script), mode, str(tmp_path/out), str(tmp_path)],
                                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    procs = [run("dist", f"rank{r}.pt", dist_env | {"RANK": str(r), "LOCAL_RANK": str(r)}) for r in (0, 1)]
    procs.append(run("single", "single.pt", base))
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    r0, r1, single = (torch.load(tmp_path/f, weights_only=True) for f in ("rank0.pt", "rank1.pt", "single.pt"))
    for k, v in single["lm"].items():
        assert torch.equal(r0["lm"][k], r1["lm"][k]), f"{k}: the processes disagree"
        torch.testing.assert_close(r0["lm"][k], v, rtol=0, atol=1e-5,
                                   msg=lambda m: f"{k}: 2 processes vs 1 on the combined batch: {m}")
    # the steps did move the weights
    assert not torch.equal(single["lm"]["decoder.out.weight"], single["lm_init"]["decoder.out.weight"])
    for a, b in zip(r0["train"]["loss"], single["train"]["loss"]):
        assert abs(a - b) < 1e-4, (r0["train"]["loss"], single["train"]["loss"])
    for k, v in r0["vae_straight"].items():
        assert torch.equal(v, r1["vae_straight"][k]) and torch.equal(v, r0["vae_resumed"][k]), \
            f"VAE {k}: resume under 2 processes is not exact"
    for r in (r0, r1):   # under 2 processes each takes half the batches: the schedule spans those steps, not len(train)
        sch = r["schedule"]
        assert sch["built"] == sch["batches"] // 2 == len(sch["seen"]) == sch["seen"][-1][0], sch
        assert {t for _, t in sch["seen"]} == {sch["built"]}, sch
    ck = torch.load(tmp_path/"parts"/"last.pt", weights_only=True)
    assert ck["world_size"] == 2 and len(ck["rng"]) == 2 and ck["state"]["step"] == 6
    assert sorted(p.name for p in (tmp_path/"straight").iterdir()) == \
        [".lock", "best.pt", "history.json", "last.pt", "log.jsonl"]          # .lock: process 0 held the folder
