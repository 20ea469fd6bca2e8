"`seqvae bench` at smoke scale, run directly (no papermill, no session fixture): a results.json with the machine, a table and agreeing IW-NLL."
import json
import pytest
from seqvae.bench import bench_main, add_bench_command, run_bench_command

def test_bench_main_writes_results(tmp_path):
    assert bench_main(["--scale", "smoke", "--no-notebook", "--threads", "1", "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path/"results.json").read_text())
    assert res["machine"]["torch"] and res["machine"]["cpu"] and res["config"]["corpora"] == ["synthetic"]
    assert {r["variant"] for r in res["table"]} == {"ref", "fp32", "flush", "bf16", "bf16_lstm"}
    assert all(r["iw"]["fp32"]["agrees"] for r in res["runs"])
    assert res["matmul_peak_gflops"]["fp32"] > 0

def test_bench_command_in_a_parser():
    import argparse
    p = argparse.ArgumentParser(prog="seqvae"); sub = p.add_subparsers(dest="command")
    add_bench_command(sub)
    args = p.parse_args(["bench", "--scale", "smoke", "--corpus", "yahoo", "--threads", "1"])
    assert (args.command, args.scale, args.corpus, args.threads) == ("bench", "smoke", "yahoo", 1)
    with pytest.raises(SystemExit): p.parse_args(["bench", "--scale", "huge"])
