"""The SG-MCMC experiment notebook (nbs/experiments/sgmcmc.ipynb) at smoke scale, from the suite's parallel run.

Only the claims that hold by construction at smoke scale are asserted (messages fall with tau: the rounds are
steps // (workers * tau)); the others are verdicts computed in the notebook and checked here for their form only.
"""
import pytest

pytestmark = pytest.mark.xdist_group("runs")   # one worker runs the `runs` fixture once (pyproject: --dist loadgroup)

def test_sgmcmc_results_name_the_samplers_and_protocols(runs):
    r = runs["sgmcmc"]
    assert r.status == "ok", r.error
    res = r.results
    assert res["experiment"] == "sgmcmc" and res["config"]["scale"] == "smoke"
    assert res["config"]["corpus"] == "synthetic" and res["split_note"]
    methods = {(row["task"], row["method"]) for row in res["table"]}
    for task in ("clf", "lm"):
        assert {(task, m) for m in ("adam", "sgld", "sghmc", "csgld", "downpour", "elastic")} <= methods, methods
    assert all(isinstance(v, (str, int, float, bool, type(None))) for row in res["table"] for v in row.values())
    assert all((r.results_path.parent/f).stat().st_size > 1000 for f in res["figures"]) and len(res["figures"]) == 2
    assert "claims hold in this run" in res["conclusion"] and res["wall_time_s"] > 0

def test_sgmcmc_claims_are_verdicts(runs):
    res = runs["sgmcmc"].results
    assert all(c["verdict"] in ("holds", "fails", "untestable") and c["evidence"] for c in res["claims"].values())
    assert res["claims"]["messages_fall_with_tau"]["verdict"] == "holds"
    sweep = sorted((row["tau"], row["messages"]) for row in res["table"]
                   if row["task"] == "clf" and row["method"] == "downpour")
    assert len(sweep) >= 2 and all(b[1] < a[1] for a, b in zip(sweep, sweep[1:])), sweep
    assert all(row["samples"] > 0 and row["log_lik"] < 0 for row in res["table"])
