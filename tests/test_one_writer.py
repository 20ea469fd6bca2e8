"""One writer per run folder (issue 25): while a process trains into a folder, or `seqvae reproduce` writes into an
--out, a second process that would write there is refused in one line that names the first, and changes nothing; the
first one's run equals an uninterrupted run; a lock left by a killed process is taken over with a notice."""
import json, subprocess, sys, textwrap, time
from pathlib import Path
import nbformat
import pytest
import torch
from conftest import clean_env
from test_cli import seqvae

ARGS = ["--corpus", "synthetic", "--max-train", "200", "--emb-dim", "8", "--hidden-dim", "8", "--latent-dim", "2",
        "--device", "cpu", "--threads", "1", "--deterministic", "--beta-kind", "constant", "--epochs", "3",
        "--checkpoint-every", "5", "--log-every", "2"]

GATED = textwrap.dedent('''
    # `seqvae train ...`, except that from step 8 on it waits while the file $GATE exists
    import os, sys, time
    import seqvae.train.loop as t
    step = t.Trainer.train_step
    def gated(self, *a, **k):
        while self.state.step >= 8 and os.path.exists(os.environ["GATE"]): time.sleep(0.05)
        return step(self, *a, **k)
    t.Trainer.train_step = gated
    from seqvae.cli import main
    sys.exit(main(sys.argv[1:]))
''')

def gated_train(out: Path, gate: Path, log: Path) -> subprocess.Popen:
    "`seqvae train --out OUT` held after step 8 while `gate` exists; returns once it waits there, with checkpoints."
    gate.touch()
    with open(log, "w") as f:
        p = subprocess.Popen([sys.executable, "-c", GATED, "train", "--out", str(out), *ARGS],
                             env={**clean_env(), "GATE": str(gate)}, stdout=f, stderr=subprocess.STDOUT)
    wait_for(lambda: (out/"log.jsonl").is_file() and 8 in train_steps(out), p, log)   # its last write before the gate
    time.sleep(0.5)
    assert (out/"last.pt").is_file()
    return p

def wait_for(cond, proc, log, timeout=300):
    t0 = time.time()
    while not cond():
        assert proc.poll() is None, f"the first process ended early: {Path(log).read_text()}"
        assert time.time() - t0 < timeout, "timed out"
        time.sleep(0.05)

def refused(r, *needles):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    for n in needles: assert n in r.stderr, (n, r.stderr)

def files(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}

def train_steps(run: Path) -> list[int]:
    return [r["step"] for r in map(json.loads, (run/"log.jsonl").read_text().splitlines()) if r["kind"] == "train"]

def same_run(a: Path, b: Path):
    "The runs in `a` and `b` end with equal weights and equal training records."
    ca, cb = torch.load(a/"last.pt", weights_only=True), torch.load(b/"last.pt", weights_only=True)
    assert ca["state"]["step"] == cb["state"]["step"] > 8
    for k, v in ca["model"].items(): assert torch.equal(v, cb["model"][k]), k
    strip = lambda h: {k: v for k, v in h["train"].items() if k != "time_s"}
    assert strip(ca["history"]) == strip(cb["history"])

@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    "The uninterrupted run."
    out = tmp_path_factory.mktemp("straight")/"run"
    r = seqvae("train", "--out", str(out), *ARGS)
    assert r.returncode == 0, r.stderr
    return out

def test_a_second_train_into_a_folder_in_use_is_refused(tmp_path, straight):
    run, gate = tmp_path/"run", tmp_path/"gate"
    first = gated_train(run, gate, tmp_path/"first.log")
    before = files(run)
    msg = f"seqvae train: error: run folder {run.resolve()} is in use by process {first.pid} on "
    refused(seqvae("train", "--out", str(run), "--resume", *ARGS), msg, f"kill -INT {first.pid}")
    refused(seqvae("train", "--out", str(run), "--overwrite", *ARGS), msg)
    refused(seqvae("train", "--out", str(run), *ARGS), msg)
    assert files(run) == before and first.poll() is None          # nothing changed, and the first one trains on
    st = seqvae("status", str(run))
    assert st.returncode == 1 and "| running |" in st.stdout and f"| process {first.pid} on " in st.stdout, st.stdout
    gate.unlink()
    assert first.wait(timeout=300) == 0, (tmp_path/"first.log").read_text()
    steps = train_steps(run)
    assert len(steps) == len(set(steps)) and steps == train_steps(straight), steps
    assert not (run/"lock.json").exists()                        # let go
    same_run(run, straight)

def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path, straight):
    run, gate = tmp_path/"run", tmp_path/"gate"
    first = gated_train(run, gate, tmp_path/"first.log")
    first.kill()                                                  # SIGKILL: no chance to let go
    first.wait()
    assert json.loads((run/"lock.json").read_text())["pid"] == first.pid
    st = seqvae("status", str(run))
    assert "| stopped, resumable |" in st.stdout and "held by" not in st.stdout, st.stdout
    again = seqvae("train", "--out", str(run), "--resume", *ARGS)
    assert again.returncode == 0, again.stderr
    assert f"taking over the lock of process {first.pid} on " in again.stderr, again.stderr
    steps = train_steps(run)
    assert len(steps) == len(set(steps)) and steps == train_steps(straight), steps
    same_run(run, straight)

NOTEBOOK_CODE = '''import json, os, pathlib, time
pathlib.Path(out_dir, "started").touch()
while gate and os.path.exists(gate): time.sleep(0.05)
json.dump({"done": True}, open(pathlib.Path(out_dir) / "results.json", "w"))'''

def test_a_second_reproduce_into_one_out_is_refused(tmp_path):
    nbs, out, gate = tmp_path/"nbs", tmp_path/"out", tmp_path/"gate"
    nbs.mkdir()
    params = nbformat.v4.new_code_cell('out_dir = ""\ngate = ""')
    params.metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook(cells=[params, nbformat.v4.new_code_cell(NOTEBOOK_CODE)],
                                  metadata={"kernelspec": {"display_name": "python3", "language": "python",
                                                           "name": "python3"}})
    nbformat.write(nb, nbs/"waits.ipynb")
    gate.touch()
    cmd = ["reproduce", "--notebooks", str(nbs), "--out", str(out), "--workers", "1", "-p", f"gate={gate}"]
    with open(tmp_path/"first.log", "w") as f:
        first = subprocess.Popen([str(Path(sys.executable).parent/"seqvae"), *cmd], env=clean_env(), stdout=f,
                                 stderr=subprocess.STDOUT)
    wait_for(lambda: (out/"waits"/"started").exists(), first, tmp_path/"first.log")
    refused(seqvae(*cmd), f"seqvae reproduce: error: output folder {out.resolve()} is in use by process {first.pid} on ")
    st = seqvae("status", str(out))
    assert f"{out}: held by process {first.pid} on " in st.stdout, (st.stdout, st.stderr)
    assert not (out/"reproduce.json").exists() and first.poll() is None
    gate.unlink()
    assert first.wait(timeout=300) == 0, (tmp_path/"first.log").read_text()
    runs = json.loads((out/"reproduce.json").read_text())["runs"]
    assert [(r["name"], r["status"]) for r in runs] == [("waits", "ok")], runs
    assert not (out/"lock.json").exists()
