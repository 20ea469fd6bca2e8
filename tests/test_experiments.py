"Every experiment notebook, executed at smoke scale through the parallel runner, with assertions on its results.json."
import json
import pytest
from conftest import EXPERIMENTS
from seqvae.experiment import NotebookJob, run_notebooks

SMOKE = {"scale": "smoke", "device": "cpu", "seed": 0}

@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    "All experiment notebooks at smoke scale, plus variants that check injected parameters, in one parallel run."
    out = tmp_path_factory.mktemp("runs")
    jobs = [NotebookJob(p, dict(SMOKE), out/p.stem, name=p.stem) for p in sorted(EXPERIMENTS.glob("*.ipynb"))]
    jobs.append(NotebookJob(EXPERIMENTS/"corpus_overview.ipynb", {**SMOKE, "max_vocab": 50, "seed": 1}, out/"overview_v50", name="overview_v50"))
    results = run_notebooks(jobs, workers=2)
    return {r.name: r for r in results}

def test_every_notebook_succeeds(runs):
    failed = {n: r.error for n, r in runs.items() if r.status != "ok"}
    assert not failed, failed

def test_every_result_records_provenance(runs):
    for name, r in runs.items():
        res = r.results
        assert res["seqvae_version"] and "config" in res and "seed" in res, name
        assert r.output_path.exists(), f"{name}: no executed notebook"

def test_corpus_overview(runs):
    st = runs["corpus_overview"].results["stats"]
    assert st["train"]["sentences"] == 2000 and st["n_train"] == 2000
    assert st["train"]["coverage"] == 1.0 and 0 < st["valid"]["coverage"] <= 1
    assert (runs["corpus_overview"].results_path.parent/"lengths.png").stat().st_size > 1000

def test_injected_parameters_change_the_result(runs):
    base, v50 = runs["corpus_overview"].results, runs["overview_v50"].results
    assert base["config"]["max_vocab"] is None and base["stats"]["vocab_size"] > 50
    assert v50["config"]["max_vocab"] == 50 and v50["stats"]["vocab_size"] == 50
    assert v50["seed"] == 1 and v50["stats"]["train"]["tokens"] != base["stats"]["train"]["tokens"]

def test_unknown_parameter_is_an_error_before_running(tmp_path):
    with pytest.raises(ValueError, match="unknown parameter.*max_vocabulary"):
        run_notebooks([NotebookJob(EXPERIMENTS/"corpus_overview.ipynb", {"max_vocabulary": 5}, tmp_path/"x")])
    assert not (tmp_path/"x"/"results.json").exists()

def test_every_experiment_declares_the_common_parameters():
    from seqvae.experiment import notebook_parameters
    for p in EXPERIMENTS.glob("*.ipynb"):
        assert {"scale", "corpus", "seed", "device", "out_dir"} <= set(notebook_parameters(p)), p.name
        assert "nbdev_export(" not in p.read_text(), f"{p.name} must not call nbdev_export (parallel runs would race)"
