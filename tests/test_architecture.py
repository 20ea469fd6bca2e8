"""The package's architecture holds: rooms of one job and at most 450 lines, every top-level name defined once,
no unused import, no import cycle, and the public imports users already have still work."""
import ast, importlib
from pathlib import Path
import pytest
from conftest import ROOT

PKG = ROOT/"seqvae"
MODULES = sorted(p for p in PKG.rglob("*.py") if p.name != "_modidx.py")

def _name(p: Path) -> str:
    parts = p.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

def _defined(tree) -> list[str]:
    "Top-level names a module defines itself (functions, classes, assignments); `@patch` methods belong to a class."
    out = []
    for n in tree.body:
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            decos = [d.func if isinstance(d, ast.Call) else d for d in n.decorator_list]
            if not any(getattr(d, "id", None) in ("patch", "patch_to") for d in decos): out.append(n.name)
        elif isinstance(n, ast.Assign): out += [t.id for t in n.targets if isinstance(t, ast.Name)]
        elif isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name): out.append(n.target.id)
    return [x for x in out if x not in ("__all__", "_all_")]

def test_no_module_over_450_lines():
    big = {_name(p): n for p in MODULES if (n := len(p.read_text().splitlines())) > 450}
    assert not big, f"modules over 450 lines: {big}"

def test_every_top_level_name_defined_once():
    where = {}
    for p in MODULES:
        for x in _defined(ast.parse(p.read_text())): where.setdefault(x, []).append(_name(p))
    twice = {x: m for x, m in where.items() if len(m) > 1}
    assert not twice, f"names defined in more than one module: {twice}"

def test_no_unused_import():
    flakes = pytest.importorskip("pyflakes.api")
    from pyflakes.reporter import Reporter
    import io
    out, err = io.StringIO(), io.StringIO()
    flakes.checkRecursive([str(PKG)], Reporter(out, err))
    unused = [l for l in out.getvalue().splitlines() if "imported but unused" in l and "_modidx" not in l]
    assert not unused and not err.getvalue(), "\n".join(unused) + err.getvalue()

def _imports(p: Path) -> set[str]:
    "The package modules that module `p` imports at its top level (relative imports resolved)."
    me, out = _name(p).split("."), set()
    pkg = me if p.name == "__init__.py" else me[:-1]
    for n in ast.parse(p.read_text()).body:
        if isinstance(n, ast.ImportFrom):
            base = n.module.split(".") if n.level == 0 and n.module else pkg[:len(pkg) - n.level + 1] + (
                n.module.split(".") if n.module else [])
            if base[0] != "seqvae": continue
            for a in n.names:
                full = ".".join(base + [a.name])
                out.add(full if (ROOT/Path(*full.split("."))).with_suffix(".py").exists() else ".".join(base))
        elif isinstance(n, ast.Import):
            out |= {a.name for a in n.names if a.name.startswith("seqvae.")}
    return out

def test_no_import_cycle():
    graph = {_name(p): _imports(p) for p in MODULES}
    state = {}
    def visit(m, path):
        if state.get(m) == "done": return
        assert state.get(m) != "open", f"import cycle: {' -> '.join(path + [m])}"
        state[m] = "open"
        for d in sorted(graph.get(m, ())):
            if d != m and not m.startswith(d + "."): visit(d, path + [m])   # a package's own __init__ is not a cycle
        state[m] = "done"
    for m in sorted(graph): visit(m, [])
    assert graph["seqvae.lab.grid"] >= {"seqvae.train.builder", "seqvae.lab.claims"}   # the reader sees real arrows

@pytest.mark.parametrize("stmt", ["from seqvae.train import fit", "from seqvae.model import SeqVAE",
                                  "from seqvae.sgmcmc import SGLD, SGHMC", "from seqvae.dialog import sentence_bleu"])
def test_old_public_imports_work(stmt):
    exec(stmt, {})

def test_command_line_does_not_load_torch():
    import subprocess, sys
    code = "import sys, seqvae.cli; sys.exit(int('torch' in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0, "seqvae.cli imports torch"

def test_subpackages_match_notebooks():
    "Every module is exported by the notebook named after it (`train.loop` from `NN_train.loop.ipynb`)."
    for p in MODULES:
        mod = _name(p).removeprefix("seqvae.") if p.name != "__init__.py" or p.parent != PKG else None
        if mod in (None, "seqvae") or not p.read_text().strip(): continue
        nbs = [n for n in (ROOT/"nbs").glob("*.ipynb") if n.stem.split("_", 1)[-1] == mod]
        assert len(nbs) == 1, f"{mod}: notebooks {nbs}"

def test_readme_names_every_notebook():
    "The README's map of the notebooks names every library notebook, so a reader finds each part from the front door."
    readme = (ROOT/"README.md").read_text(encoding="utf-8")
    missing = [p.stem for p in (ROOT/"nbs").glob("*.ipynb") if p.stem != "index" and f"`{p.stem}`" not in readme]
    assert not missing, f"notebooks the README does not name: {missing}"

def test_imports_in_the_docs_work():
    "Every `from seqvae... import ...` line in the README and the docs pages imports, so a reader's copy runs."
    import re
    pages = [ROOT/"README.md", *sorted((ROOT/"docs").glob("*.md"))]
    lines = {m.group(1) for p in pages for m in re.finditer(r"^\s*(from seqvae[\w.]* import [\w, ]+)$",
                                                           p.read_text(encoding="utf-8"), re.M)}
    assert len(lines) >= 5, lines
    for line in sorted(lines): exec(line, {})
