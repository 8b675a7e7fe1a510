"""The JSON documents of ``solve``, ``phases``, ``frontier``, ``track`` and ``audit`` on the
shipped scenarios, produced through the CLI (typer's runner, in process) with timings removed.

``python -m tests.golden.cases`` writes them to ``tests/golden/*.json``;
``tests/test_golden_json.py`` re-runs each command and diffs its document against the file.
A change that moves a key or a value on purpose regenerates the files in the same commit, and
says so in its message (issue 18: the refactor keeps every document unchanged).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
TK = ROOT / "scenarios" / "tom_king"
LEDGER = ROOT / "tests" / "fixtures" / "ledger"
#: Keys whose values are measured durations (they differ on every run).
TIMING_KEYS = frozenset({"timings", "seconds"})
#: The audit's simulation sizes of ``tests/optimizer/test_audit.py`` (FAST).
AUDIT_FAST = ["simulation.paths=40", "simulation.break_even_paths=20", "optimizer.paths=15"]
#: CI-sized overrides of the phase study, applied to the study (``--set``) and, in
#: ``tests/optimizer/test_phases.py``, to the separate solves alike
PHASES_SCENARIO_SETS = [
    "income.paths=40",
    "target.chance.n_months=240",
    "risk.out_of_sample.n=2000",
    # the minimum-NLV search with fixed count caps: it still runs (and must agree between the
    # study and the separate solves) without building every other phase's candidates twice;
    # the scaling rule has its own tests (test_verdict_policy.py, the report's curves)
    "positions.scale_with_nlv=false",
    # a non-empty book in every phase (on the session basis the 0DTE sleeve loses money and the
    # allocation band leaves the empty book: tests/optimizer/test_zero_dte.py)
    "strategies.zero_dte.expiry.variance_basis=close_to_close",
]
PHASES_STUDY_SETS = ["solve.diagnostics=light"]


@functools.cache
def phases_run() -> tuple[str, str]:
    """Standard output and error of ``thetaplan phases phases.yaml --json`` with the CI-sized
    sets, run in process once per test session (the golden test and ``test_phases.py`` share it).

    Raises
    ------
    RuntimeError
        The command did not exit 0.
    """
    import io
    import sys

    from optimizer.cli.app import main

    sets = [a for kv in PHASES_SCENARIO_SETS + PHASES_STUDY_SETS for a in ("--set", kv)]
    argv = ["phases", str(TK / "phases.yaml"), "--json", *sets]
    out, err = io.StringIO(), io.StringIO()
    old = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    finally:
        sys.stdout, sys.stderr = old
    if code != 0:
        raise RuntimeError(f"thetaplan phases exited {code}: {err.getvalue()[-2000:]}")
    return out.getvalue(), err.getvalue()


def strip_timings(doc):
    """The document without its timing keys (recursively), else unchanged.

    Parameters
    ----------
    doc : object
        A parsed JSON document.

    Returns
    -------
    object
        The same structure without any ``timings`` / ``seconds`` key.
    """
    if isinstance(doc, dict):
        return {k: strip_timings(v) for k, v in doc.items() if k not in TIMING_KEYS}
    if isinstance(doc, list):
        return [strip_timings(v) for v in doc]
    return doc


def _invoke(args: list[str]) -> str:
    """``thetaplan ARGS`` in process (typer's runner): its standard output; raises on failure."""
    from typer.testing import CliRunner

    from optimizer.cli.app import app

    res = CliRunner().invoke(app, args)
    if res.exit_code != 0:
        raise RuntimeError(
            f"thetaplan {' '.join(args)} exited {res.exit_code}: {res.output[-2000:]}"
        )
    return res.stdout


def _run(args: list[str]) -> dict | list:
    return strip_timings(json.loads(_invoke(args)))


def _solve(tmp: Path) -> dict | list:
    return _run(["solve", str(TK / "phase4.yaml"), "--json"])


def _phases(tmp: Path) -> dict | list:
    return strip_timings(json.loads(phases_run()[0]))


def _frontier(tmp: Path) -> dict | list:
    return _run(["frontier", str(TK / "phase4.yaml"), "--json"])


def _track(tmp: Path) -> dict | list:
    db = tmp / "month.db"
    _invoke(["ledger", "init", str(db)])
    _invoke(["ledger", "import", str(db), str(LEDGER / "month_2026-02.csv")])
    scenario = str(LEDGER / "month_scenario.yaml")
    return _run(["track", str(db), "--scenario", scenario, "--as-of", "2026-02-13", "--json"])


def _audit(tmp: Path) -> dict | list:
    sets = [a for s in AUDIT_FAST for a in ("--set", s)]
    return _run(
        ["audit", str(ROOT / "scenarios" / "quantai" / "capital_scenarios.yaml"), "--json", *sets]
    )


#: command name -> function producing its document (``tmp``: a scratch directory).
CASES: dict[str, Callable[[Path], dict | list]] = {
    "solve": _solve,
    "phases": _phases,
    "frontier": _frontier,
    "track": _track,
    "audit": _audit,
}


def differences(expected, actual, path: str = "$", rel: float = 1e-9) -> list[str]:
    """Where two JSON documents differ: keys, types, strings and numbers beyond ``rel``.

    Numbers compare within ``rel`` relative (absolute ``rel`` near zero): the same code gives the
    same bits on one machine, but another CPU's BLAS kernels may move a last digit.

    Parameters
    ----------
    expected, actual : object
        Parsed JSON documents.
    path : str
        JSONPath-like location of this node (for the messages).
    rel : float
        Relative tolerance on numbers.

    Returns
    -------
    list[str]
        One line per difference; empty when the documents agree.
    """
    num = (int, float)
    if isinstance(expected, bool) or isinstance(actual, bool):
        return [] if expected is actual else [f"{path}: {expected!r} != {actual!r}"]
    if isinstance(expected, num) and isinstance(actual, num):
        if math.isclose(expected, actual, rel_tol=rel, abs_tol=rel):
            return []
        return [f"{path}: {expected!r} != {actual!r}"]
    if type(expected) is not type(actual):
        return [f"{path}: type {type(expected).__name__} != {type(actual).__name__}"]
    if isinstance(expected, dict):
        out = [f"{path}.{k}: missing" for k in expected if k not in actual]
        out += [f"{path}.{k}: unexpected" for k in actual if k not in expected]
        for k in expected.keys() & actual.keys():
            out += differences(expected[k], actual[k], f"{path}.{k}", rel)
        return out
    if isinstance(expected, list):
        if len(expected) != len(actual):
            return [f"{path}: length {len(expected)} != {len(actual)}"]
        out = []
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            out += differences(e, a, f"{path}[{i}]", rel)
        return out
    return [] if expected == actual else [f"{path}: {expected!r} != {actual!r}"]


def main() -> None:
    """Write every case's document to ``tests/golden/<name>.json``."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for name, fn in CASES.items():
            doc = fn(Path(tmp))
            (HERE / f"{name}.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
            print(f"wrote tests/golden/{name}.json")


if __name__ == "__main__":
    main()
