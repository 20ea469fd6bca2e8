"""Committed results stay reusable: every finished run folder under results/<scale>/<experiment>/runs/ is a folder
that today's code would train for that experiment's settings at that scale (same name, same run key, named by the
experiment's recipe: the sequence VAE's or the dialog's), so `seqvae reproduce` reuses it instead of training it
again. A change to a preset, a config field or the run key that would move a committed run fails here."""
import pytest
from conftest import ROOT
from seqvae.lab.grid import notebook_grid
from seqvae.sources import CorpusUnavailable

CASES = sorted((d.parent.parent.name, d.parent.name) for d in (ROOT/"results").glob("*/*/runs")
               if (ROOT/"nbs"/"experiments"/f"{d.parent.name}.ipynb").exists())

@pytest.mark.parametrize("scale,name", CASES)
def test_committed_runs_keep_their_keys(scale, name, tmp_path):
    have = {d.name for d in (ROOT/"results"/scale/name/"runs").iterdir() if (d/"result.json").is_file()}
    if not have: pytest.skip("no finished run committed")
    try: ex, S = notebook_grid(name, scale=scale, seed=0, device="cpu", threads=1, out_dir=str(tmp_path))
    except CorpusUnavailable as e: pytest.skip(f"the settings need the corpus: {e}")
    p = ex.preset
    seeds = range(max(p.seeds, getattr(p, "side_seeds", 0) or 0))
    want = {ex.recipe.folder(tmp_path, f"{n}, seed {s}", {**S[n], "seed": s}).name for n in S for s in seeds}
    want |= {ex.recipe.folder(tmp_path, n, S[n]).name for n in S}
    assert have <= want, f"committed runs today's code would not reuse: {sorted(have - want)}"
    assert len(CASES) >= 6
