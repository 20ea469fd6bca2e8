"""An experiment notebook killed mid-way and run again: finished settings are reused, the unfinished one resumes from
its checkpoint, and the results equal those of an uninterrupted run (issue: experiments resume)."""
import json, re, subprocess, sys, textwrap, time
from pathlib import Path
import psutil
import torch
from conftest import EXPERIMENTS, clean_env
from seqvae.lab.notebooks import NotebookJob, run_notebooks
from test_cli import seqvae

PARAMS = {"scale": "smoke", "device": "cpu", "seed": 0, "max_eval": 64}
RUNNER = textwrap.dedent('''
    import sys
    from seqvae.lab.notebooks import NotebookJob, run_notebooks
    if __name__ == "__main__":
        run_notebooks([NotebookJob(sys.argv[1], PARAMS, sys.argv[2], name="lm_schedules")], workers=1)
''').replace("PARAMS", repr(PARAMS))

def setting_dirs(out: Path) -> dict:
    "Setting name -> run folder; the notebook trains each setting per seed, so names end in `_seed_0`."
    if not (out/"runs").is_dir(): return {}
    return {p.name.rsplit("-", 1)[0].removesuffix("_seed_0"): p for p in (out/"runs").glob("*") if p.is_dir()}

def kill_when_second_setting_has_a_checkpoint(proc, out: Path, timeout=240):
    "SIGKILL the runner and every process under it (the kernel) once `monotonic` has last.pt and no result."
    t0 = time.time()
    while time.time() - t0 < timeout:
        d = setting_dirs(out)
        if "monotonic" in d and (d["monotonic"]/"last.pt").exists() and not (d["monotonic"]/"result.json").exists():
            tree = [proc, *proc.children(recursive=True)]
            for p in tree: p.kill()
            psutil.wait_procs(tree, timeout=30)
            return
        if proc.poll() is not None: break
        time.sleep(0.02)
    raise AssertionError(f"the notebook never reached a checkpoint of its second setting: {sorted(setting_dirs(out))}")

def test_killed_experiment_notebook_resumes_to_the_uninterrupted_results(tmp_path):
    nb = EXPERIMENTS/"lm_schedules.ipynb"
    (tmp_path/"runner.py").write_text(RUNNER)
    stopped = tmp_path/"stopped"
    proc = psutil.Popen([sys.executable, str(tmp_path/"runner.py"), str(nb), str(stopped)], cwd=tmp_path,
                        env=clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kill_when_second_setting_has_a_checkpoint(proc, stopped)
    dirs = setting_dirs(stopped)
    assert (dirs["constant"]/"result.json").exists() and not (stopped/"results.json").exists()
    done_before = (dirs["constant"]/"result.json").stat().st_mtime_ns
    step_killed = torch.load(dirs["monotonic"]/"last.pt", weights_only=True)["state"]["step"]
    st = seqvae("status", str(stopped))                   # what a user sees of the killed notebook, at once
    assert st.returncode == 1, st.stdout
    assert re.search(r"\| runs/monotonic,?_seed_0-\w+ \| stopped, resumable \| \d+ of 200 \|", st.stdout), st.stdout
    assert re.search(r"\| runs/constant,?_seed_0-\w+ \| done \| 200 of 200 \|", st.stdout), st.stdout

    again, = run_notebooks([NotebookJob(nb, PARAMS, stopped, name="lm_schedules")], workers=1)
    straight, = run_notebooks([NotebookJob(nb, PARAMS, tmp_path/"straight", name="lm_schedules")], workers=1)
    assert again.status == "ok" and straight.status == "ok", (again.error, straight.error)
    assert (dirs["constant"]/"result.json").stat().st_mtime_ns == done_before          # reused, not retrained
    events = json.loads((dirs["monotonic"]/"history.json").read_text())["events"]
    assert [e["kind"] for e in events] == ["resume"] and 0 < events[0]["step"] == step_killed < 200, events
    rows = lambda r: [{k: v for k, v in row.items() if not k.startswith("train_s")} for row in r.results["table"]]
    assert rows(again) == rows(straight)
    assert again.results["claims"] == straight.results["claims"]
