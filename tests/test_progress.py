"""What a user sees of a long reproduction (issue: progress and status): the progress lines, `seqvae status` on a
failed reproduction, and `--dry-run`, which estimates and trains nothing. The stopped-and-resumable state is checked
on a killed notebook in test_experiment_resume.py."""
import re, subprocess, sys
from pathlib import Path
from conftest import ROOT, clean_env
from test_cli import seqvae

def test_progress_lines_say_which_setting_of_how_many(tmp_path):
    r = seqvae("reproduce", "--scale", "smoke", "--only", "lm_schedules", "--out", str(tmp_path),
               "--progress-every", "1")
    assert r.returncode == 0, r.stderr
    lines = [l for l in r.stderr.splitlines() if "lm_schedules: setting" in l]
    assert lines and all(re.search(r"setting [1-4] of 4 \(runs/\S+\) at step \d+ of 200, train KL ", l)
                         for l in lines), r.stderr
    assert "\x1b[" not in r.stderr                      # not a terminal: plain lines, no cursor movement
    s = seqvae("status", str(tmp_path))
    assert s.returncode == 0 and s.stdout.count("| done |") == 4 and "notebook lm_schedules: ok" in s.stdout, s.stdout

def test_status_names_a_failed_run_and_its_error(tmp_path):
    r = seqvae("reproduce", "--scale", "smoke", "--only", "beta_mi", "--out", str(tmp_path), "-p", "lr=1e30")
    assert r.returncode == 1 and "beta_mi" in r.stdout and "failed" in r.stdout, (r.stdout, r.stderr)
    s = seqvae("status", str(tmp_path))
    assert s.returncode == 1, s.stdout
    assert re.search(r"\| failed: FloatingPointError: non-finite loss at step \d+", s.stdout), s.stdout
    assert "notebook beta_mi: failed" in s.stdout, s.stdout

def test_dry_run_estimates_and_trains_nothing(tmp_path):
    out, tmp = tmp_path/"out", tmp_path/"tmp"
    tmp.mkdir()
    r = subprocess.run([str(Path(sys.executable).parent/"seqvae"), "reproduce", "--scale", "smoke", "--only",
                        "lm_schedules", "corpus_overview", "summary", "--out", str(out), "--dry-run"],
                       cwd=ROOT, env={**clean_env(), "TMPDIR": str(tmp)}, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^lm_schedules: about \d+ s$", r.stdout, re.M), r.stdout
    for setting in ("constant", "monotonic", "cyclical", "cyclical + lr restarts"):
        assert re.search(rf"^    {re.escape(setting)}, seed 0 +200 steps +[\d.]+ ms/step", r.stdout, re.M), r.stdout
    assert "corpus_overview: about" in r.stdout and "(no training)" in r.stdout and "summary: no estimate" in r.stdout
    assert "nothing was trained or written" in r.stdout
    assert not out.exists()                                                      # OUT untouched
    assert not list(tmp.glob("seqvae-dry-run-*"))                               # and no folder left behind

def test_dry_run_reports_a_notebook_that_would_fail(tmp_path):
    r = seqvae("reproduce", "--scale", "smoke", "--only", "beta_mi", "--dry-run", "-p", f"corpus={tmp_path}")
    assert r.returncode == 1 and "beta_mi: FAILS in the dry run" in r.stdout and "train.txt" in r.stdout, r.stdout
