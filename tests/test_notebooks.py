"Every library notebook runs top to bottom, the way `nbdev_test` runs it."
import pytest
from conftest import NBS

def library_notebooks():
    "Notebooks nbdev_test would run: under nbs/, not in a folder holding `.notest`, not starting with `_` or `.`."
    out = []
    for p in sorted(NBS.rglob("*.ipynb")):
        rel = p.relative_to(NBS)
        if any(part.startswith(("_", ".")) for part in rel.parts): continue
        if any((NBS/parent/".notest").exists() for parent in [*rel.parents]): continue
        out.append(p)
    return out

def test_experiments_are_excluded():
    names = [p.name for p in library_notebooks()]
    assert "index.ipynb" in names and "00b_data.ipynb" in names
    assert not any(p.parent.name == "experiments" for p in library_notebooks())

@pytest.mark.parametrize("nb", library_notebooks(), ids=lambda p: p.name)
def test_notebook(nb):
    from nbdev.test import test_nb
    from nbdev.config import get_config
    cfg = get_config()
    ok, secs = test_nb(nb, skip_flags=cfg.tst_flags.split(), basepath=cfg.config_path)
    assert ok, f"{nb.name} failed under nbdev's test runner (traceback above)"
