"""``thetaplan --help`` stays light: no numerical, solver, plotting or cluster library is imported.

Every command module imports its heavy dependencies (numpy, pandas, the solvers, matplotlib,
Dask, pydantic through :mod:`optimizer.inputs.spec` …) inside the command body, so that the help pages
start in a fraction of a second. These checks are deterministic (which modules are loaded, not
how long it takes): a fresh interpreter imports :mod:`optimizer.cli.app`, then runs the app with each
help request and records, after each one, the heavy modules found in ``sys.modules``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Top-level packages that must not be imported by ``import optimizer.cli.app`` nor by a help page.
HEAVY = (
    "numpy",
    "pandas",
    "scipy",
    "cvxpy",
    "highspy",
    "pulp",
    "matplotlib",
    "dask",
    "distributed",
    "pyarrow",
    "QuantLib",
    "arch",
    "pydantic",
)

#: Every command of ``thetaplan --help``, in its order.
COMMANDS = (
    "solve",
    "chain",
    "margin",
    "phases",
    "sweep",
    "backtest",
    "frontier",
    "report",
    "track",
    "audit",
    "schema",
    "init",
    "calibrate",
    "ledger",
    "data",
)

#: The help requests checked, run one after the other in the same interpreter.
HELP_ARGS = (
    ("--help",),
    ("-h",),
    *((name, "--help") for name in COMMANDS),
    ("ledger", "init", "--help"),
    ("ledger", "import", "--help"),
    ("data", "fetch", "--help"),
    ("data", "fetch", "chain", "--help"),
    ("data", "fetch", "history", "--help"),
    ("--version",),
)

_PROBE = """
import contextlib, io, json, sys

HEAVY = {heavy!r}
HELP_ARGS = {help_args!r}


def heavy_loaded():
    return sorted(
        name for name in sys.modules if name.split(".")[0] in HEAVY
    )


import optimizer.cli.app

sys.argv[0] = "thetaplan"  # the program name of the usage lines
steps = [{{"args": ["import optimizer.cli.app"], "code": None, "out": "", "heavy": heavy_loaded()}}]
for args in HELP_ARGS:
    out = io.StringIO()
    code = None
    with contextlib.redirect_stdout(out):
        try:
            optimizer.cli.app.main(list(args))
        except SystemExit as exc:
            code = exc.code
    steps.append(
        {{"args": list(args), "code": code, "out": out.getvalue(), "heavy": heavy_loaded()}}
    )
print(json.dumps(steps))
"""


@pytest.fixture(scope="module")
def steps() -> dict[tuple[str, ...], dict]:
    """Run the probe once in a fresh interpreter; its steps by their arguments."""
    env = dict(os.environ, COLUMNS="200")
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.format(heavy=HEAVY, help_args=HELP_ARGS)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return {tuple(s["args"]): s for s in json.loads(proc.stdout)}


def test_import_of_the_cli_loads_no_heavy_module(steps):
    assert steps[("import optimizer.cli.app",)]["heavy"] == []


@pytest.mark.parametrize("args", HELP_ARGS, ids=" ".join)
def test_help_exits_0_without_heavy_modules(steps, args):
    step = steps[args]
    assert step["code"] == 0, step
    # cumulative: the modules loaded by this request and every one before it
    assert step["heavy"] == [], f"thetaplan {' '.join(args)} imported {step['heavy']}"


@pytest.mark.parametrize("args", [("--help",), ("-h",)], ids=" ".join)
def test_root_help_lists_every_command(steps, args):
    out = steps[args]["out"]
    assert "Usage: thetaplan [OPTIONS] COMMAND [ARGS]..." in out
    listed = [
        line.split()[1] for line in out.splitlines() if line.startswith("│ ") and line[2] != " "
    ]
    assert [c for c in listed if not c.startswith("-")] == list(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_command_help_shows_its_usage(steps, name):
    out = steps[(name, "--help")]["out"]
    assert f"Usage: thetaplan {name} " in out
    assert "--help" in out


def test_ledger_help_lists_its_subcommands(steps):
    out = steps[("ledger", "--help")]["out"]
    for sub in ("init", "import"):
        assert f"│ {sub} " in out
        assert f"Usage: thetaplan ledger {sub} " in steps[("ledger", sub, "--help")]["out"]


def test_version_is_printed(steps):
    assert steps[("--version",)]["out"].startswith("thetaplan ")


def test_error_raised_after_the_lazy_import_is_one_line_and_exit_2(tmp_path):
    # the command body imports pydantic and the margin models, then fails on the missing file:
    # main() still turns the error into one line on stderr and exit code 2
    missing = tmp_path / "missing.yaml"
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from optimizer.cli.app import main; main()",
            "margin",
            str(missing),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1
    assert "missing.yaml" in proc.stderr


def test_cli_sets_single_thread_pools_only_where_unset():
    """``thetaplan`` defaults OMP/OpenBLAS/MKL pools to one thread and keeps a user's setting.

    A fresh interpreter with ``OMP_NUM_THREADS=3`` set and the other two unset runs
    ``thetaplan --version`` through :func:`optimizer.cli.app.main`; the environment it leaves is read
    back.
    """
    code = (
        "import os, json, sys\n"
        "from optimizer.cli.app import main, SINGLE_THREAD_ENV\n"
        "try:\n"
        "    main(['--version'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "env = {k: os.environ.get(k) for k in SINGLE_THREAD_ENV}\n"
        "print(json.dumps(env))\n"
    )
    env = {
        k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    }
    env["OMP_NUM_THREADS"] = "3"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got == {"OMP_NUM_THREADS": "3", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
