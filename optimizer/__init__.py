"""thetaplan's optimizer: scenarios, candidates, the sizing MILP, verdicts and studies.

Python API (the CLI is a thin layer over it)::

    import optimizer
    result = optimizer.solve("scenarios/tom_king/phase4.yaml")      # SizingResult
    table = optimizer.study("scenarios/tom_king/phases.yaml")        # pandas.DataFrame

Imports are lazy: ``import optimizer`` does not load the solvers.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from optimizer.inputs.spec import Scenario
    from optimizer.verdict.result import SizingResult

__all__ = ["solve", "study"]


def solve(
    scenario: Scenario | str | Path,
    *,
    overrides: list[str] | None = None,
    backend: str | None = None,
    min_nlv_search: bool = True,
) -> SizingResult:
    """Size a scenario and give its verdict (``thetaplan solve``).

    Parameters
    ----------
    scenario : Scenario | str | Path
        A validated :class:`~optimizer.inputs.spec.Scenario` or a scenario YAML file.
    overrides : list[str] | None
        ``dotted.path=value`` overrides applied to a file (as ``--set``).
    backend : str | None
        ``cvxpy``, ``pulp`` or ``highs`` (default: the scenario's).
    min_nlv_search : bool
        Search the minimum account that reaches the target.

    Returns
    -------
    SizingResult
        Positions, portfolio (income net and gross of costs, BP, risk), allocation, verdict.

    Raises
    ------
    SpecError, DataError
        Invalid scenario or data (solver trouble is a verdict, not an error).
    """
    from optimizer.inputs.spec import Scenario, load_scenario
    from optimizer.pipeline import solve_scenario

    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario, overrides)
    return solve_scenario(sc, backend=backend, min_nlv_search=min_nlv_search)


def study(
    path: str | Path,
    *,
    out: str | Path | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    progress: bool = False,
) -> pd.DataFrame:
    """Run every point of a study file and return the tidy table (``thetaplan sweep``).

    Parameters
    ----------
    path : str | Path
        Study YAML (cases or a grid, :mod:`optimizer.studies.study`).
    out : str | Path | None
        Parquet file with per-point checkpoints (``<out>.parts/``); default a temporary file.
    workers : int | None
        Local Dask worker processes (None = in-process).
    scheduler : str | None
        Address of an existing Dask scheduler.
    resume : bool
        Skip points already checkpointed in ``out``.
    progress : bool
        Show a progress bar on standard error.

    Returns
    -------
    pandas.DataFrame
        One row per point: its index, name, swept values, status, max income, achievement,
        chosen income, P(success), CVaR, BP used, gross income, costs, error.
    """
    import tempfile

    from optimizer.studies.study import load_study
    from optimizer.studies.sweep import run_sweep

    st = load_study(path)
    if out is None:
        with tempfile.TemporaryDirectory() as tmp:
            return run_sweep(
                st,
                out=Path(tmp) / "study.parquet",
                workers=workers,
                scheduler=scheduler,
                resume=False,
                progress=progress,
            )
    return run_sweep(
        st, out=Path(out), workers=workers, scheduler=scheduler, resume=resume, progress=progress
    )
