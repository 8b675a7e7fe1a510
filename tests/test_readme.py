"""The README's commands run verbatim from a clone (issue 20).

Every command of every ``bash`` block of the README (``tests/readme_blocks.py``) is either
**run** — verbatim, through ``bash``, in a scratch directory holding the clone's files (symlinks)
with the virtualenv's ``bin/`` first on ``PATH``, as ``source .venv/bin/activate`` puts it; it
must exit 0, print no traceback and write the files its output flags name — or, when a full run
takes minutes (listed in ``LONG`` with the reason), **parsed**: ``thetaplan`` arguments through
the CLI's own click parser (flags, choices and types checked, no command body run) and a
benchmark's flags against its ``argparse`` options; the input files each names must exist.
The "Two commands" block is what ``.ci/run`` itself executes verbatim (checked here).
"""

from __future__ import annotations

import ast
import os
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from typer.main import get_command

from optimizer.cli.app import app
from tests.readme_blocks import Command, blocks, two_commands

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent

#: commands parsed instead of run, by prefix: why a full run does not belong in the test suite
LONG = {
    ("thetaplan", "phases"): "8 phases, each a full solve with the minimum-NLV search (≈45 CPU-s)",
    ("thetaplan", "sweep"): "400 study points (minutes on 2 workers)",
    ("thetaplan", "backtest"): "407 months, 21 min on 2 workers",
    ("python",): "benchmarks: each measures for minutes",
    ("pip",): "installs an optional extra ([data], [notebooks]) from PyPI (not in [test])",
    ("jupytext-config",): "changes the user's JupyterLab settings (needs the [notebooks] extra)",
    ("jupyter",): "starts a JupyterLab server (needs the [notebooks] extra)",
    ("thetaplan", "data", "fetch"): "needs the network (and tastytrade credentials)",
}
#: flags whose value is a file the command writes (checked to exist after a run)
OUTPUT_FLAGS = {"--out", "--plot", "--report", "--plot-dir", "--plots"}


def _program(argv: list[str]) -> str:
    return Path(argv[0]).name


def _is_long(cmd: Command) -> bool:
    key = (_program(cmd.argv), *cmd.argv[1:])
    return any(key[: len(k)] == k for k in LONG)


def _commands() -> list[Command]:
    return [c for b in blocks()[1:] for c in b]  # block 1 is the "Two commands" (.ci/run)


def _scratch(tmp: Path) -> Path:
    """A directory holding the clone's top-level files as symlinks (outputs land in it)."""
    for p in ROOT.iterdir():
        if p.name in {".git", "out", ".venv"}:
            continue
        (tmp / p.name).symlink_to(p)
    (tmp / ".venv").symlink_to(VENV_BIN.parent)  # `.venv/bin/thetaplan` as in the README
    return tmp


def _parse_thetaplan(args: list[str]) -> dict:
    """Parse ``args`` with the CLI's click commands (typer's vendored click, hence duck typing).

    Raises the parser's ``UsageError`` (a ``NoSuchOption``, ``BadParameter`` …) on a bad flag.
    """
    cmd = get_command(app)
    parent = None
    name = "thetaplan"
    while hasattr(cmd, "resolve_command"):  # a group: find the subcommand
        ctx = cmd.make_context(name, list(args), parent=parent, resilient_parsing=True)
        rest = [*getattr(ctx, "protected_args", ctx._protected_args), *ctx.args]
        name, cmd, args = cmd.resolve_command(ctx, rest)
        parent = ctx
    return cmd.make_context(name, list(args), parent=parent).params


def _usage_error(exc: BaseException) -> bool:
    return any(k.__name__ == "UsageError" for k in type(exc).__mro__)


def _extras() -> set[str]:
    """The optional-dependency extras of pyproject.toml."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return set(project["optional-dependencies"])


def _argparse_flags(script: Path) -> set[str]:
    """The ``--flags`` a benchmark script's ``add_argument`` calls declare."""
    flags = set()
    for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
            flags |= {
                a.value
                for a in node.args
                if isinstance(a, ast.Constant) and str(a.value).startswith("-")
            }
    return flags


def test_the_readme_has_the_blocks_this_test_reads():
    cmds = _commands()
    assert len(cmds) >= 20
    programs = {"thetaplan", "python", "mkdir", "pip", "jupytext-config", "jupyter"}
    assert {_program(c.argv) for c in cmds} == programs
    ran = [c for c in cmds if not _is_long(c)]
    assert len(ran) >= 6, "most README commands are run, not only parsed"


def test_ci_runs_the_two_commands_verbatim():
    """``.ci/run`` executes the README's two setup lines as printed by readme_blocks.py."""
    lines = two_commands()
    assert len(lines) == 2
    assert "pip install -c constraints.txt" in lines[0] and "thetaplan solve" in lines[0]
    assert lines[1].endswith("-m pytest")
    ci = (ROOT / ".ci" / "run").read_text()
    for n in (1, 2):
        assert f"tests/readme_blocks.py --two-commands {n}" in ci


@pytest.mark.parametrize(
    "cmd", [c for c in _commands() if _is_long(c)], ids=lambda c: f"README:{c.line}"
)
def test_long_commands_parse(cmd):
    argv = cmd.argv
    if _program(argv) == "pip":
        assert argv[1:4] == ["install", "-c", "constraints.txt"], cmd.text  # pinned versions
        extra = argv[-1].split("[")[1].rstrip(']"')
        assert extra in _extras(), f"README:{cmd.line}: no extra [{extra}] in pyproject.toml"
        return
    if _program(argv) in {"jupyter", "jupytext-config"}:
        assert "notebooks" in _extras()
        return
    if _program(argv) == "thetaplan":
        params = _parse_thetaplan(argv[1:])
        for k, v in params.items():
            output = k.startswith("out") or k in {"plot", "report", "plot_dir", "plots"}
            if isinstance(v, Path) and not output:
                assert (ROOT / v).exists(), f"README:{cmd.line}: {v} does not exist"
        assert params, cmd.text
    else:
        script = ROOT / argv[1]
        assert script.is_file(), f"README:{cmd.line}: {argv[1]} does not exist"
        flags = {a.split("=")[0] for a in argv[2:] if a.startswith("--")}
        assert flags <= _argparse_flags(script), f"README:{cmd.line}: unknown flags {flags}"


def test_parser_check_catches_a_wrong_flag():
    """The parse-only check is not vacuous: a misspelled flag, a bad number or a missing argument
    is refused (values the commands validate themselves, e.g. ``--nlv``, are not checked by it).
    """
    for bad in (
        ["sweep", "scenarios/tom_king/sweep_vix_account.yaml", "--wokers", "2"],
        ["backtest", "scenarios/tom_king/phase4.yaml", "--workers", "two"],
        ["ledger", "import", "a.db"],  # a missing argument
    ):
        with pytest.raises(Exception) as info:
            _parse_thetaplan(bad)
        assert _usage_error(info.value), bad
    assert "--points" in _argparse_flags(ROOT / "benchmarks" / "sweep.py")


def _run_block(cmds: list[Command], cwd: Path) -> list[str]:
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("PYTHONPATH", None)
    problems = []
    for c in cmds:
        p = subprocess.run(
            ["bash", "-c", c.text], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
        )
        if p.returncode != 0 or "Traceback" in p.stderr + p.stdout:
            problems.append(f"README:{c.line}: exit {p.returncode}: {p.stderr[-600:]}")
            break
        for i, a in enumerate(c.argv[:-1]):
            if a in OUTPUT_FLAGS and not (cwd / c.argv[i + 1]).exists():
                problems.append(f"README:{c.line}: {a} {c.argv[i + 1]} was not written")
    return problems


def test_short_commands_run_verbatim(tmp_path):
    cwd = _scratch(tmp_path)
    by_block: dict[int, list[Command]] = {}
    for c in _commands():
        if not _is_long(c):
            by_block.setdefault(c.block, []).append(c)
    # the blocks are independent: two at a time use both cores
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda cs: _run_block(cs, cwd), by_block.values()))
    problems = [p for r in results for p in r]
    assert not problems, "\n".join(problems)
    assert (cwd / "out" / "report" / "report.html").is_file()
    assert (cwd / "out" / "feb.html").is_file()
    assert shlex.split("a # b", comments=True) == ["a"]
