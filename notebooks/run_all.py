"""Execute every notebook of this folder (jupytext percent ``.py`` → nbclient), for CI.

``python notebooks/run_all.py [--fast] [--out DIR]``: each ``NN_*.py`` is converted with
jupytext and executed top to bottom by a Python kernel (nbclient) in this folder; executed
``.ipynb`` copies are written to ``--out`` (default a temporary folder). ``--fast`` sets
``THETAPLAN_NB_FAST=1`` (smaller simulations: how CI runs them). Exits 1 naming the first
notebook that fails.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent


def run(path: Path, out: Path, timeout: int = 900) -> float:
    """Execute one notebook; returns seconds. Raises on the first failing cell."""
    nb = jupytext.read(path)
    t0 = time.perf_counter()
    NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}
    ).execute()
    nbformat.write(nb, out / (path.stem + ".ipynb"))
    return time.perf_counter() - t0


def _images(path: Path) -> int:
    """Number of ``image/png`` outputs of an executed notebook."""
    nb = nbformat.read(path, as_version=4)
    return sum(
        "image/png" in out.get("data", {})
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fast", action="store_true", help="small simulations (CI)")
    ap.add_argument("--out", type=Path, default=None, help="folder for the executed .ipynb")
    args = ap.parse_args()
    if args.fast:
        os.environ["THETAPLAN_NB_FAST"] = "1"
    out = args.out or Path(tempfile.mkdtemp(prefix="thetaplan-nb-"))
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(HERE.glob("[0-9][0-9]_*.py")):
        try:
            seconds = run(path, out)
        except Exception as exc:  # report the notebook and the cell error, then fail
            print(f"notebook {path.name} FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        images = _images(out / (path.stem + ".ipynb"))
        if images == 0:  # a figure printed as "<Figure size …>" text is a defect
            print(f"notebook {path.name} FAILED: no image output", file=sys.stderr)
            return 1
        print(f"notebook {path.name}: ok in {seconds:.1f} s, {images} image(s)")
    print(f"executed notebooks written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
