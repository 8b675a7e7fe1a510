"""The import contracts of ``pyproject.toml`` (import-linter) hold, and they can fail.

``lint-imports`` runs on the tree as it is (every contract kept), then on a copy of the two
packages with one deliberately added upward import per contract (each run must report that
contract broken and exit non-zero): a contract that cannot fail checks nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).parent / "lint-imports"

#: (file of the copy, import added at its top, the contract that must then be broken)
UPWARD = [
    ("models/costs.py", "import optimizer.pipeline", "models never import the optimizer"),
    ("optimizer/studies/sweep.py", "import optimizer.cli.app", "the library never imports the CLI"),
    ("optimizer/solve/solving.py", "import optimizer.verdict.verdict", "solving knows nothing"),
    ("optimizer/inputs/limits.py", "import optimizer.formulation.build", "layers of the optimizer"),
]


def _lint(tree: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _copy(tmp: Path) -> Path:
    tree = tmp / "tree"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for pkg in ("models", "optimizer"):
        shutil.copytree(ROOT / pkg, tree / pkg, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return _copy(tmp_path_factory.mktemp("contracts"))


def test_every_contract_is_kept(tree):
    r = _lint(tree)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "0 broken" in r.stdout


@pytest.mark.parametrize(("path", "line", "contract"), UPWARD, ids=[u[1] for u in UPWARD])
def test_an_upward_import_breaks_its_contract(tree, path, line, contract):
    target = tree / path
    original = target.read_text()
    head, sep, rest = original.partition("from __future__ import annotations\n")
    target.write_text(head + sep + line + "\n" + rest if sep else line + "\n" + original)
    try:
        r = _lint(tree)
    finally:
        target.write_text(original)
    assert r.returncode != 0, r.stdout[-3000:]
    broken = r.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, r.stdout[-3000:]
    assert line.split()[-1] in broken, r.stdout[-3000:]
