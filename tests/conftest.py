import os, subprocess, sys
from pathlib import Path
import pytest
from seqvae.lab.notebooks import NotebookJob, run_notebooks

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/"nbs"
EXPERIMENTS = NBS/"experiments"

def clean_env() -> dict:
    """The environment for child processes, without IN_TEST
    (which nbdev's test runner sets and which turns nbdev_export into a no-op)."""
    env = {k: v for k, v in os.environ.items() if k != "IN_TEST"}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env

def seqvae(*args, cwd=ROOT, timeout: int = 600):
    "Run the `seqvae` command of this environment as a user runs it: its CompletedProcess, output captured as text."
    return subprocess.run([str(Path(sys.executable).parent/"seqvae"), *args], cwd=cwd, env=clean_env(),
                          capture_output=True, text=True, timeout=timeout)

@pytest.fixture(scope="session")
def root(): return ROOT

SMOKE = {"scale": "smoke", "device": "cpu", "seed": 0}
LAST = ("summary",)   # reads the other notebooks' results, so it runs after them

@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    """All experiment notebooks at smoke scale, plus variants that check injected parameters and a missing corpus,
    in one parallel run."""
    out = tmp_path_factory.mktemp("runs")
    empty = tmp_path_factory.mktemp("empty_corpus")
    nbs = sorted(EXPERIMENTS.glob("*.ipynb"))
    jobs = [NotebookJob(p, dict(SMOKE), out/p.stem, name=p.stem) for p in nbs if p.stem not in LAST]
    jobs.append(NotebookJob(EXPERIMENTS/"corpus_overview.ipynb", {**SMOKE, "max_vocab": 50, "seed": 1},
                            out/"overview_v50", name="overview_v50"))
    jobs.append(NotebookJob(EXPERIMENTS/"beta_mi.ipynb", {**SMOKE, "corpus": str(empty)},
                            out.parent/"missing_corpus", name="missing_corpus"))
    results = run_notebooks(jobs, workers=2)
    results += run_notebooks([NotebookJob(EXPERIMENTS/"summary.ipynb", {**SMOKE, "run_dir": str(out)},
                                          out/"summary", name="summary")], workers=1)
    return {r.name: r for r in results}
