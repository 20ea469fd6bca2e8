"The dialog experiment at smoke scale, through the parallel runner: a row per model with KL and BLEU columns."
import pytest

pytestmark = pytest.mark.xdist_group("runs")   # one worker runs the `runs` fixture once (pyproject: --dist loadgroup)

MODELS = ("CVAE mono", "CVAE cyc", "CVAE+BoW mono", "CVAE+BoW cyc", "CVAE cyc, constant lr")

def test_dialog_has_a_row_per_model_with_kl_and_bleu(runs):
    r = runs["dialog"]
    assert r.status == "ok", r.error
    res = r.results
    assert res["experiment"] == "dialog" and res["config"]["scale"] == "smoke" and res["config"]["corpus"]
    rows = {row["model"]: row for row in res["table"]}
    assert set(MODELS) <= set(rows)
    for name in MODELS:
        row = rows[name]
        assert row["seeds"] >= 1 and row["kl_mean"] >= 0, (name, row)                 # `seed_rows`: means over seeds
        assert {"bleu4_recall_mean", "bleu4_recall_345_mean", "bleu4_recall_345_ci"} <= set(row), (name, row)
        assert all(isinstance(v, (str, int, float, bool, type(None))) for v in row.values())
    pairs = {(row["beta"], row["lr"]) for row in res["table"] if not row["bow"]}
    assert ("monotonic", "constant") in pairs and ("cyclical", "constant") in pairs   # the fair pair

def test_dialog_results_follow_the_schema(runs):
    r = runs["dialog"]
    res = r.results
    assert res["split_note"] and res["wall_time_s"] > 0 and res["seqvae_version"]
    assert res["figures"] and all((r.results_path.parent/f).stat().st_size > 1000 for f in res["figures"])
    assert "claims hold in this run" in res["conclusion"]
    assert res["claims"] and all(c["verdict"] in ("holds", "fails", "untestable") and c["evidence"]
                                 for c in res["claims"].values())
    assert res["samples"] and {"context", "reference", "model", "responses"} <= set(res["samples"][0])
    assert len(list((r.results_path.parent/"runs").glob("*/result.json"))) == len(MODELS)   # one run folder each
