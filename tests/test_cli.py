"The main command, run as a user runs it."
import json
from conftest import seqvae

def test_reproduce_runs_and_skips_finished(tmp_path):
    r = seqvae("reproduce", "--scale", "smoke", "--only", "corpus_overview", "--out", str(tmp_path),
               "-p", "max_vocab=40")
    assert r.returncode == 0, r.stderr
    res = json.loads((tmp_path/"corpus_overview"/"results.json").read_text())
    assert res["stats"]["vocab_size"] == 40 and (tmp_path/"corpus_overview"/"corpus_overview.ipynb").exists()
    assert json.loads((tmp_path/"reproduce.json").read_text())["runs"][0]["status"] == "ok"
    again = seqvae("reproduce", "--scale", "smoke", "--only", "corpus_overview", "--out", str(tmp_path),
                   "-p", "max_vocab=40")
    assert again.returncode == 0 and "skipped" in again.stderr

def test_reproduce_rejects_unknown_names(tmp_path):
    r = seqvae("reproduce", "--only", "nonesuch", "--out", str(tmp_path))
    assert r.returncode == 2 and "unknown notebook(s) nonesuch" in r.stderr
    r = seqvae("reproduce", "-p", "nonesuch=1", "--out", str(tmp_path))
    assert r.returncode == 2 and "declares nonesuch" in r.stderr

def test_train_then_evaluate(tmp_path):
    run = tmp_path/"run"
    r = seqvae("train", "--corpus", "synthetic", "--out", str(run), "--emb-dim", "16", "--hidden-dim", "32",
               "--latent-dim", "4", "--epochs", "1", "--max-steps", "20", "--beta-kind", "cyclical",
               "--beta-total-steps", "20", "--threads", "1")
    assert r.returncode == 0, r.stderr
    assert {"best.pt", "last.pt", "run.json", "vocab.json", "log.jsonl"} <= {p.name for p in run.iterdir()}
    e = seqvae("evaluate", str(run/"best.pt"))
    assert e.returncode == 0, e.stderr
    m = json.loads(e.stdout.strip().splitlines()[-1])
    assert m["nll"] > 0 and m["ppl"] > 1 and m["kl"] >= 0 and 0 <= m["au"] <= 4
    missing = seqvae("evaluate", str(run/"nope.pt"))
    assert missing.returncode == 2 and "nope.pt" in missing.stderr
