"""Shared test helpers: where the hand-written fixtures live."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """``cotgraph ARGS…`` in a fresh process (the installed script, else ``python -c``), from the
    project root: exit code, standard output and standard error as a user would see them."""
    exe = shutil.which("cotgraph", path=str(Path(sys.executable).parent))
    cmd = [exe] if exe else [sys.executable, "-c", "from cotgraph.cli import main; main()"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.fixture
def cli():
    """:func:`run_cli`, for tests that run the command line."""
    return run_cli


@pytest.fixture
def fixtures() -> Path:
    """The folder of hand-written input files (``tests/fixtures``)."""
    return FIXTURES
