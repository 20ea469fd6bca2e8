"""The benchmark in benchmarks/ at smoke scale: run directly, through its papermill notebook, and its checks notebook.

Each writes a results.json with the machine, a table and agreeing IW-NLL."""
import argparse
import json
import sys
import pytest
from conftest import ROOT

BENCHMARKS = ROOT / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
from bench import NOTEBOOK, add_bench_command, bench_main  # noqa: E402


def check_results(res: dict):
    "What every smoke run must show: the machine, the synthetic corpus, every variant, IW-NLL agreeing, a peak."
    bench_config = res["config"].get("bench", res["config"])   # the notebook records it under "bench"
    assert res["machine"]["torch"] and res["machine"]["cpu"] and bench_config["corpora"] == ["synthetic"]
    assert {r["variant"] for r in res["table"]} == {"ref", "fp32", "flush", "bf16", "bf16_lstm"}
    assert all(r["iw"]["fp32"]["agrees"] for r in res["runs"])
    assert res["matmul_peak_gflops"]["fp32"] > 0


def test_bench_main_writes_results(tmp_path):
    assert bench_main(["--scale", "smoke", "--no-notebook", "--threads", "1", "--out", str(tmp_path)]) == 0
    check_results(json.loads((tmp_path/"results.json").read_text()))


def test_bench_command_in_a_parser():
    p = argparse.ArgumentParser(prog="seqvae")
    sub = p.add_subparsers(dest="command")
    add_bench_command(sub)
    args = p.parse_args(["bench", "--scale", "smoke", "--corpus", "yahoo", "--threads", "1"])
    assert (args.command, args.scale, args.corpus, args.threads) == ("bench", "smoke", "yahoo", 1)
    assert not args.no_notebook
    with pytest.raises(SystemExit):
        p.parse_args(["bench", "--scale", "huge"])


def test_benchmark_notebook_smoke(tmp_path):
    "benchmark.ipynb through the library's runner, as `seqvae bench` runs it; it finds bench.py without `bench_dir`."
    from seqvae.lab.notebooks import NotebookJob, run_notebooks
    assert NOTEBOOK == BENCHMARKS / "benchmark.ipynb"
    job = NotebookJob(NOTEBOOK, dict(scale="smoke", threads=1), tmp_path / "bench", name="benchmark")
    r = run_notebooks([job], workers=1)[0]
    assert r.status == "ok", r.error
    res = r.results
    check_results(res)
    assert res["experiment"] == "benchmark" and res["config"]["scale"] == "smoke"
    assert set(res["loss_curves"]["curves"]) == {"fp32", "bf16", "bf16_lstm"}
    assert len(res["loss_curves"]["curves"]["fp32"]) == res["config"]["loss_steps"] == 10
    assert (job.out_dir / "loss_curves.png").exists() and (job.out_dir / "throughput.png").exists()


def test_bench_notebook_checks():
    "bench.ipynb (the method and its checks against the reference) runs top to bottom, as nbdev_test would run it."
    from nbdev.test import test_nb
    ok, _ = test_nb(BENCHMARKS / "bench.ipynb", skip_flags=["notest", "slow"])
    assert ok, "benchmarks/bench.ipynb failed (traceback above)"


def test_scaling_sweeps_length_and_batch(tmp_path):
    """benchmarks/scaling.py at a tiny size: every training and IW-NLL point timed for every variant that runs on
    hardware here, the reference at 1x, IW-NLL estimates that agree, the default as `TrainConfig()` resolves it."""
    import scaling
    from seqvae.train.runtime import bf16_fast
    r = scaling.measure("tiny", vocab=50, lengths=(5, 10), batches=(4, 8), at_batch=4, at_length=5, steps=1, rounds=1,
                        iw_lengths=(4, 8), n_iw=20, iw_tokens=16)
    assert [(q["length"], q["batch"]) for q in r["by_length"]] == [(5, 4), (10, 4)]
    assert [(q["length"], q["batch"]) for q in r["by_batch"]] == [(5, 4), (5, 8)]
    assert [(q["length"], q["sentences"], q["n_iw"]) for q in r["iw_by_length"]] == [(4, 4, 20), (8, 2, 20)]
    timed, left_out = set(r["variants"]), set(r["left_out"])
    assert timed | left_out == set(scaling.VARIANTS) and not timed & left_out and {"ref", "fp32"} <= timed
    assert ("bf16_lstm" in left_out) == (not bf16_fast("cpu"))
    assert ("default" in r["left_out"]) == (r["default"]["autocast"] and not bf16_fast("cpu"))
    for q in r["by_length"] + r["by_batch"] + r["iw_by_length"]:
        assert q["ref"]["speedup"] == 1.0 and all(q[v]["tokens_per_s"] > 0 for v in r["variants"])
    for q in r["iw_by_length"]:     # a random tiny model: log-weights nearly constant, so the estimates nearly agree
        assert all(abs(q[v]["nll"] - q["ref"]["nll"]) < 0.02 * q["ref"]["nll"] for v in r["variants"])
    scaling.plot(r, tmp_path/"scaling.png")
    assert (tmp_path/"scaling.png").stat().st_size > 1000
    (tmp_path/"scaling.json").write_text(json.dumps(r))
    rows = scaling.scaling_table([tmp_path/"scaling.json"]).splitlines()
    assert len(rows) == 2 + 2 + 2 + 2 and rows[-1].startswith("| 1 | IW-NLL, K = 20 | 8, 2 |")
    q = r["iw_by_length"][-1]
    assert f"| {q['default']['speedup']:.2f}x (" in rows[-1] and rows[-1].endswith(f"| {q['flush']['speedup']:.2f}x |")


def test_scaling_figures_in_docs_are_the_committed_ones():
    "docs/speed.md's sweep table is the one scaling.py's committed results of 2026-12-08 render to."
    import scaling
    files = sorted((ROOT/"results"/"bench"/"scaling").glob("2026-12-08-*/scaling.json"))
    if not files:
        pytest.skip("no committed sweep (results/bench/scaling/2026-12-08-*/scaling.json)")
    assert scaling.scaling_table(files) in (ROOT/"docs"/"speed.md").read_text()


def test_profile_step_tiny(tmp_path):
    "benchmarks/profile_step.py on the synthetic corpus at a tiny size: every part timed, the op tables, the markdown."
    import profile_step
    r = profile_step.run_profile("synthetic", "16/16", threads=1, variants=("fp32",), repeats=2, steps=1)
    for name in ("ref", "fp32"):
        parts = r["parts"][name]
        assert all(parts[k] > 0 for k in ("step", "forward_backward", "encoder", "decoder_lstm", "output")), parts
        ops = r["ops"][name]
        assert ops[-1]["op"] == "(all ops)" and sum(o["share"] for o in ops[:-1]) <= 1 + 1e-6
    (tmp_path/"p.json").write_text(json.dumps(r))
    table = profile_step.profile_table(tmp_path/"p.json")
    assert "| step |" in table and "| output |" in table and "aten::" in table


def test_peer_figures_in_docs_are_the_committed_ones():
    "docs/speed.md's table against He et al.'s own code is the one peer.py's committed results render to."
    import peer
    folder = ROOT/"results"/"bench"/"peer"
    if not any(folder.glob("*.json")):
        pytest.skip("no committed peer timings (results/bench/peer/*.json)")
    assert peer.peer_table(folder) in (ROOT/"docs"/"speed.md").read_text()
