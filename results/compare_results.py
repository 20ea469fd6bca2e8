"""Compare two `seqvae reproduce` output folders notebook by notebook: every number of each results.json, times,
configurations and paths left out. Used to check that a refactor gives the same tables as before it.
Usage: python results/compare_results.py OLD_OUT NEW_OUT"""
import json, math, sys
from pathlib import Path

SKIP = ("config", "figures", "out_dir", "run_dir", "folder", "summary", "split_note_path")
def timing(k: str) -> bool: return "_s_" in k or k.endswith("_s") or "time" in k

def strip(o):
    if isinstance(o, dict): return {k: strip(v) for k, v in o.items() if not timing(k) and k not in SKIP}
    if isinstance(o, list): return [strip(v) for v in o]
    return o

def diff(a, b, path=""):
    "The places where `a` and `b` differ, as 'path: old vs new' lines."
    if isinstance(a, dict) and isinstance(b, dict):
        return [line for k in sorted(set(a) | set(b))
                for line in ([f"{path}/{k}: only in {'new' if k in b else 'old'}"] if (k in a) != (k in b)
                             else diff(a[k], b[k], f"{path}/{k}"))]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b): return [f"{path}: {len(a)} vs {len(b)} items"]
        return [line for i, (x, y) in enumerate(zip(a, b)) for line in diff(x, y, f"{path}[{i}]")]
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b): return []
    return [] if a == b else [f"{path}: {str(a)[:60]} vs {str(b)[:60]}"]

if __name__ == "__main__":
    old, new = map(Path, sys.argv[1:3])
    for f in sorted(new.glob("*/results.json")):
        if not (old/f.parent.name/"results.json").exists(): print(f.parent.name, "only in new"); continue
        d = diff(strip(json.loads((old/f.parent.name/"results.json").read_text())), strip(json.loads(f.read_text())))
        print(f.parent.name, "same" if not d else f"{len(d)} difference(s)", *(f"\n    {x}" for x in d[:12]))
