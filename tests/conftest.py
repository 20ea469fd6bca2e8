import os, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/"nbs"
EXPERIMENTS = NBS/"experiments"

def clean_env() -> dict:
    """The environment for child processes, without IN_TEST
    (which nbdev's test runner sets and which turns nbdev_export into a no-op)."""
    env = {k: v for k, v in os.environ.items() if k != "IN_TEST"}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env

@pytest.fixture(scope="session")
def root(): return ROOT
