"""The repository holds together: notebooks and library agree, notebooks are clean, the README is current,
CI runs the README's test command."""
import hashlib, re, subprocess, sys
from pathlib import Path
from conftest import ROOT, clean_env
from seqvae.readme import render_readme

def _snapshot():
    "Content hash of every tracked or untracked, non-ignored file, but results (a running experiment writes there)."
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    return {f: hashlib.sha256((ROOT/f).read_bytes()).hexdigest() for f in files
            if (ROOT/f).is_file() and not f.startswith("results/")}

def test_export_and_clean_change_nothing():
    before = _snapshot()
    bindir = Path(sys.executable).parent
    for cmd in ("nbdev_export", "nbdev_clean"):
        r = subprocess.run([str(bindir/cmd)], cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, f"{cmd} failed: {r.stderr}"
    after = _snapshot()
    changed = sorted(f for f in before.keys() | after.keys() if before.get(f) != after.get(f))
    assert not changed, f"nbdev_export/nbdev_clean changed {changed}: export or clean the notebooks and commit"

def test_readme_matches_index():
    assert (ROOT/"README.md").read_text(encoding="utf-8") == render_readme(ROOT/"nbs"/"index.ipynb"), \
        "README.md is out of date: run `seqvae readme`"

def test_readme_is_a_front_door():
    n = len((ROOT/"README.md").read_text(encoding="utf-8").splitlines())
    assert n <= 300, f"README.md has {n} lines: move details into docs/ and link them"

_FENCE, _CODE = re.compile(r"^```.*?^```", re.M | re.S), re.compile(r"`[^`\n]*`")

def _anchors(md: str) -> set:
    "GitHub's anchors for the headings of `md`: lower case, punctuation dropped, spaces as hyphens."
    heads = re.findall(r"^#{1,6}\s+(.+?)\s*$", _FENCE.sub("", md), re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in heads}

def test_relative_links_resolve():
    "Every relative link in README.md and docs/*.md names a file or folder that exists, and a heading there."
    bad = []
    for page in [ROOT/"README.md", *sorted((ROOT/"docs").glob("*.md"))]:
        md = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", _CODE.sub("", _FENCE.sub("", md))):
            if re.match(r"[a-z][a-z0-9+.-]*:", target): continue   # http:, https:, mailto:
            path, _, anchor = target.partition("#")
            dest = (page.parent/path).resolve() if path else page
            if not dest.exists(): bad.append(f"{page.name}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest.read_text(encoding="utf-8")):
                bad.append(f"{page.name}: {target} (no such heading)")
    assert not bad, bad

def _readme_commands():
    return re.findall(r"^(python3 -m venv .*)$", (ROOT/"README.md").read_text(), re.M)

def test_ci_runs_the_readme_test_command():
    setup_test = [c for c in _readme_commands() if "pytest" in c]
    assert len(setup_test) == 1, "the README must give one setup-and-test command"
    test_cmd = setup_test[0].split("&&")[-1].strip()
    ci = (ROOT/".ci"/"run").read_text()
    assert re.search(rf"^\s*{re.escape(test_cmd)}\s*$", ci, re.M), \
        f".ci/run must run the README's test command: {test_cmd}"
    for step in ("pip install torch==2.13.0", 'pip install -e ".[dev]"'):
        assert step in setup_test[0] and step in ci, step

def test_packaging_traps_are_avoided():
    assert not re.search(r"^\s*(import|from)\s+pkg_resources", (ROOT/"setup.py").read_text(), re.M), \
        "setuptools 82+ has no pkg_resources"
    assert re.search(r"^allowed_cell_metadata_keys\s*=\s*tags\s*$", (ROOT/"settings.ini").read_text(), re.M)
    assert (ROOT/"nbs"/"experiments"/".notest").exists()

def test_library_never_calls_cuda():
    for f in (ROOT/"seqvae").glob("*.py"):
        assert ".cuda(" not in f.read_text(), f"{f.name} calls .cuda(); use a device argument"
