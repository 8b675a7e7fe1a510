"""Phase studies: every case of a study solved with its solve options, the phase table and the
income-vs-NLV curves.

Each case (a scenario file and/or overrides) is solved exactly as ``thetaplan solve`` would solve
that scenario (:func:`solve_cases`); :func:`phase_table` gives one row per case with NLV,
target, max achievable income, achievement, the chosen book's income, BP used, 1-day CVaR,
P(success) with its interval, the verdict, the minimum account and the joint minimal relaxation.
:func:`income_curve` is the max expected monthly income at other account sizes (12 by default,
0.5× to 4× each case's NLV: one exact max-income MILP each). Used by ``thetaplan phases``,
``thetaplan report`` and the notebooks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from optimizer.formatting import horizon_label, relaxation_text

if TYPE_CHECKING:  # numpy, pandas and the solver stack are imported when a function runs
    import pandas as pd

    from optimizer.inputs.spec import Scenario
    from optimizer.studies.study import Point, Study
    from optimizer.verdict.result import SizingResult

__all__ = [
    "CURVE_MULTIPLES",
    "CaseRun",
    "curve_nlvs",
    "curve_table",
    "income_curve",
    "phase_table",
    "solve_cases",
]

#: Account sizes of the income-vs-NLV curve, as multiples of each case's NLV (1.0 included,
#: so the curve passes through the case's own max income).
CURVE_MULTIPLES = (0.5, 0.625, 0.75, 0.875, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0)


@dataclass(frozen=True)
class CaseRun:
    """One solved case of a study.

    Parameters
    ----------
    point : Point
        The study point (name, overrides, validated scenario).
    result : SizingResult
        Its solve, with the study's solve options.
    curve : pd.DataFrame | None
        Its income-vs-NLV curve (:func:`income_curve`), when asked for.
    """

    point: Point
    result: SizingResult
    curve: pd.DataFrame | None = None


def curve_nlvs(nlv: float, min_nlv: float | None, points: int = 8) -> list[float]:
    """Account sizes of an income-vs-NLV curve, reaching the minimum NLV when one was found.

    Parameters
    ----------
    nlv : float
        The scenario's NLV (account currency).
    min_nlv : float | None
        The minimum NLV found (``verdict.min_nlv.value``), or ``None``.
    points : int
        Log-spaced sizes added from the last multiple up to ``min_nlv``.

    Returns
    -------
    list[float]
        ``nlv`` × :data:`CURVE_MULTIPLES`, plus (when ``min_nlv`` lies beyond them) ``points``
        log-spaced sizes up to ``min_nlv`` and 0.99 × ``min_nlv`` (the certificate's pair),
        increasing.
    """
    import numpy as np

    sizes = {nlv * m for m in CURVE_MULTIPLES}
    if min_nlv is not None and math.isfinite(min_nlv):
        top = max(sizes)
        if min_nlv > top:
            sizes |= {float(x) for x in np.geomspace(top, min_nlv, points + 1)[1:]}
        sizes |= {float(min_nlv), 0.99 * float(min_nlv)}
    return sorted(sizes)


def income_curve(
    scenario: Scenario,
    multiples: Sequence[float] = CURVE_MULTIPLES,
    *,
    nlvs: Sequence[float] | None = None,
    backend: str | None = None,
) -> pd.DataFrame:
    """Max expected monthly income of a scenario at other account sizes.

    Each point is an exact max-income MILP (:func:`optimizer.solve.solving.max_income`) on the
    scenario's candidates rescaled to the account size, under its caps moved with the account
    by the scenario's rule (:mod:`optimizer.inputs.nlv_rule`, ``positions.scale_with_nlv``: caps stated
    as fractions of NLV scale; phases by NLV and count caps × NLV / GBP 75,000 above phase 4)
    with its tail-risk caps and without the chance constraint — the problem the
    minimum-account search bisects on. At the scenario's own NLV it is the
    verdict's max income whenever the chance constraint is not in force.

    Parameters
    ----------
    scenario : Scenario
        Validated scenario (its candidates and income simulation come from the
        :func:`optimizer.pipeline.prepare` cache when it was just solved).
    multiples : sequence of float
        Account sizes as multiples of ``account.net_liq`` (ignored when ``nlvs`` is given).
    nlvs : sequence of float, optional
        Account sizes (account currency), instead of ``multiples``.
    backend : str, optional
        Solver backend (default: the scenario's).

    Returns
    -------
    pd.DataFrame
        One row per account size, increasing: ``nlv`` (account currency), ``multiple`` (of the
        scenario's NLV), ``max_income`` (account currency per month; NaN when unbounded or
        unsolved), ``unbounded`` (bool) and ``status`` (the solver's).
    """
    import pandas as pd

    from optimizer.inputs.risk_model import build_risk_data
    from optimizer.pipeline import prepare, rule_for
    from optimizer.solve.solving import SolveContext, max_income

    base = float(scenario.account.net_liq)
    sizes = sorted(float(v) for v in (nlvs if nlvs is not None else [base * m for m in multiples]))
    prep = prepare(scenario)
    cs = prep.candidates
    risk = None
    if scenario.risk is not None:
        managed = prep.income.result if prep.income is not None else None
        risk = build_risk_data(scenario, cs, prep.market, managed=managed)
    ctx = SolveContext(
        backend or scenario.solver.backend,
        scenario.solver.options(),
    )
    rule = rule_for(scenario, prep, risk)
    rows = []
    for nlv in sizes:
        c, lim, rk = rule.at(nlv)
        res = max_income(c, lim, ctx, risk=rk)
        value = res.value
        rows.append(
            {
                "nlv": nlv,
                "multiple": nlv / base,
                "max_income": float("nan") if value is None else float(value),
                "unbounded": bool(res.unbounded),
                "status": res.outcome.status.value,
            }
        )
    return pd.DataFrame(rows)


def solve_cases(
    study: Study,
    *,
    curves: bool = False,
    backend: str | None = None,
    progress: Callable[[Point, int, int], None] | None = None,
) -> list[CaseRun]:
    """Solve every point of a study with its solve options, in file order.

    Parameters
    ----------
    study : Study
        A validated study (cases or grid).
    curves : bool
        Also compute each point's :func:`income_curve` (right after its solve, so the
        prepared candidates are reused).
    backend : str, optional
        Solver backend (default: each scenario's).
    progress : callable, optional
        Called as ``progress(point, i, n)`` before point ``i`` (0-based) of ``n`` is solved.

    Returns
    -------
    list[CaseRun]
        One per point, in the study's order.
    """
    from optimizer.pipeline import solve_scenario
    from optimizer.studies.study import expand

    points = expand(study)
    runs = []
    for i, point in enumerate(points):
        if progress is not None:
            progress(point, i, len(points))
        result = solve_scenario(
            point.scenario,
            backend=backend,
            min_nlv_search=study.solve.min_nlv,
            diagnostics_level=study.solve.diagnostics,
        )
        curve = None
        if curves:
            sizes = curve_nlvs(point.scenario.account.net_liq, result.verdict.min_nlv.value)
            curve = income_curve(point.scenario, nlvs=sizes, backend=backend)
        runs.append(CaseRun(point, result, curve))
    return runs


def _relaxation_summary(result: SizingResult) -> tuple[list[str], str]:
    from optimizer.verdict.verdict import VerdictStatus

    v = result.verdict
    steps = [relaxation_text(s) for s in (v.minimal_relaxation or ())]
    if steps:
        short = f"{len(steps)} cap{'s' if len(steps) != 1 else ''}"
    elif v.conflicts:
        short = "caps conflict"
    elif result.diagnostics != "full":
        short = "not computed"
    elif v.status is VerdictStatus.FEASIBLE:
        short = "not needed"
    else:
        short = "none found"
    return steps, short


def phase_table(runs: Sequence[CaseRun]) -> pd.DataFrame:
    """The phase table: one row per case, the headline numbers of its verdict.

    Parameters
    ----------
    runs : sequence of CaseRun
        Solved cases, in display order.

    Returns
    -------
    pd.DataFrame
        Columns ``case``, ``currency``, ``nlv``, ``target``, ``max_income``, ``achievement``
        (fraction), ``chosen_income``, ``chosen_achievement``, ``bp_used_pct`` (fraction of
        NLV), ``cvar`` (1-day CVaR of the book at the primary confidence, in-sample value the
        cap uses; NaN without a ``risk:`` section), ``cvar_confidence``, ``cvar_horizon`` (text,
        ``"1 trading day"``), ``success_probability``, ``success_ci_low``, ``success_ci_high`` (out of
        sample, fractions; NaN when not computed), ``status``, ``min_nlv`` (NaN when none),
        ``min_nlv_note``, ``relaxation`` (list of the joint minimal relaxation's steps as text)
        and ``relaxation_short`` (``"3 caps"``, ``"not needed"`` …). Money is in each case's
        account currency, income per month.
    """
    import pandas as pd

    nan = float("nan")
    rows = []
    for run in runs:
        r = run.result
        v, p = r.verdict, r.portfolio
        cv = p.get("cvar") or {}
        ci = v.success_probability_ci or (nan, nan)
        steps, short = _relaxation_summary(r)
        rows.append(
            {
                "case": run.point.name,
                "currency": p["currency"],
                "nlv": float(p["net_liq"]),
                "target": float(v.target),
                "max_income": nan if v.max_income is None else float(v.max_income),
                "achievement": nan if v.achievement is None else float(v.achievement),
                "chosen_income": float(v.chosen_income),
                "chosen_achievement": float(v.chosen_achievement),
                "bp_used_pct": float(p["bp_used_pct"]),
                "cvar": float(cv.get("value", nan)),
                "cvar_confidence": float(cv.get("confidence", nan)),
                "cvar_horizon": (
                    horizon_label(cv["horizon_days"], (p.get("var") or {}).get("scenarios"))
                    if "horizon_days" in cv
                    else None
                ),
                "success_probability": (
                    nan if v.success_probability is None else float(v.success_probability)
                ),
                "success_ci_low": float(ci[0]),
                "success_ci_high": float(ci[1]),
                "status": v.status.value,
                "min_nlv": nan if v.min_nlv.value is None else float(v.min_nlv.value),
                "min_nlv_note": v.min_nlv_note,
                "relaxation": steps,
                "relaxation_short": short,
            }
        )
    return pd.DataFrame(rows)


def curve_table(runs: Sequence[CaseRun]) -> pd.DataFrame:
    """Every case's income-vs-NLV curve in one table.

    Returns
    -------
    pd.DataFrame
        The :func:`income_curve` columns plus ``case``, cases in order; empty when no run
        carries a curve.
    """
    import pandas as pd

    parts = [run.curve.assign(case=run.point.name) for run in runs if run.curve is not None]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
