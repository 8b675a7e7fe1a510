"""The joint minimal relaxation of the caps (elastic MILP) and the solvency limits of a raised cap.

:func:`minimal_relaxation` solves goal programming (Chinneck, *Feasibility and Infeasibility in
Optimization*, 2008, ch. 8): a non-negative slack on each relaxable cap row, weighted by the cost
of one unit of the cap in % of its bound (a money row's bound floored at 1% of NLV), minimized
subject to ``expected income ≥ target``. Which rows are relaxable, the unit they read in and
their solvency limit come from the constraint-family registry
(:class:`~optimizer.formulation.families.CapFamily`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from models.risk import cvar
from optimizer.formulation.families import RowUnit, registry
from optimizer.formulation.families.allocation import basis_column
from optimizer.formulation.families.tail_risk import alpha_tag
from optimizer.formulation.objectives import target_block
from optimizer.inputs.candidates import CandidateSet
from optimizer.inputs.limits import Limits
from optimizer.inputs.risk_model import RiskData
from optimizer.inputs.spec import ObjectiveKind
from optimizer.solve.problem import LinearBlock, Objective, SizingProblem, VariableGroup, VarKind
from optimizer.solve.solving import SolveContext, solve_sizing
from optimizer.solve.status import SolveOutcome, SolveStatus
from optimizer.verdict.verdict import RelaxationStep

INF = math.inf


# ----------------------------------------------------------------------------------------------
# Joint minimal relaxation (elastic MILP)
# ----------------------------------------------------------------------------------------------

#: Blocks that are structural rules, not caps with a size (never relaxed).
FIXED_BLOCKS = frozenset({"one_per_expiry"})


@functools.cache
def _relaxable_families() -> frozenset[str]:
    """Families whose rows are caps the elastic programme may raise (``CapFamily.relaxable``)."""
    return frozenset(f.name for f in registry() if f.relaxable)


@functools.lru_cache(maxsize=4096)
def _row_unit(row: str) -> RowUnit:
    """How a cap row reads (its family's :class:`RowUnit`; a count when no family says)."""
    for f in registry():
        for ru in f.rows:
            if row.startswith(ru.prefixes):
                return ru
    return RowUnit(())


#: How :func:`minimal_relaxation` with ``solvent`` starts its note when no solvent set exists.
NO_SOLVENT_SET = "no solvent set of caps reaches the target"
#: Largest loss bound a solvent relaxation may ask for, fraction of NLV ("at or above 100%" is
#: insolvent, so the bound stays strictly below it).
_SOLVENT_LOSS = 1.0 - 1e-6


def beyond_solvency(row: str, needed_fraction: float) -> bool:
    """Whether a cap raised to ``needed_fraction`` of NLV is past what a solvent account carries.

    Parameters
    ----------
    row : str
        Cap row name (``bp_total``, ``stress[1987-10-19]``, ``cvar_99`` …).
    needed_fraction : float
        The needed bound as a fraction of NLV.

    Returns
    -------
    bool
        BP rows above 100% of NLV, loss rows (stress, VaR, CVaR, monthly CVaR, drawdown CVaR)
        at or above 100% of NLV; ``False`` for every other row.
    """
    solvency = _row_unit(row).solvency
    if solvency == "bp":
        return needed_fraction > 1.0 + 1e-9
    if solvency == "loss":
        return needed_fraction >= _SOLVENT_LOSS
    return False


def _solvent_room(row: str, side: str, bound: float, nlv: float) -> float:
    """Largest slack a solvent relaxation allows on ``row`` (money; ``inf`` = no limit)."""
    if side != "upper":
        return INF
    solvency = _row_unit(row).solvency
    if solvency == "bp":
        return max(nlv - bound, 0.0)
    if solvency == "loss":
        return max(_SOLVENT_LOSS * nlv - bound, 0.0)
    return INF


def _is_relaxable(b: LinearBlock, limits: Limits) -> bool:
    if b.family not in _relaxable_families() or b.name in FIXED_BLOCKS:
        return False
    if b.name.startswith("var_"):  # exact VaR: a count of scenarios, not a money cap
        return False
    return not (b.family == "allocation" and limits.allocation_mode == "soft")


def _unit_of(row: str) -> str:
    return _row_unit(row).unit


def _floor(row: str, limits: Limits) -> float:
    """Smallest bound used to turn a slack into % of its bound (avoids dividing by 0)."""
    unit = _unit_of(row)
    if unit == "units":
        return 1.0
    if unit == "share of income":
        return 0.01 * (limits.target or 1.0)
    return 0.01 * limits.nlv


@dataclass(frozen=True)
class _ElasticRow:
    row: str
    side: str  # "upper" or "lower"
    bound: float
    weight: float


def _elasticize(
    problem: SizingProblem,
    cs: CandidateSet,
    limits: Limits,
    target: float,
    family_weights: dict[str, float],
    *,
    solvent: bool = False,
) -> tuple[SizingProblem, list[_ElasticRow]]:
    """Add a slack per side of every relaxable cap row; objective: min weighted slack.

    With ``solvent`` the slacks of the BP and loss rows are bounded so that no raised cap goes
    beyond solvency (:func:`beyond_solvency`): BP ≤ 100% of NLV, losses < 100% of NLV.
    """
    spec: list[tuple[LinearBlock, int, str]] = []
    for b in problem.blocks:
        if not _is_relaxable(b, limits):
            continue
        for i in range(b.m):
            for side, bound in (("upper", b.upper[i]), ("lower", b.lower[i])):
                if math.isfinite(bound):
                    spec.append((b, i, side))
    e = len(spec)
    if e == 0:
        return problem.with_blocks(target_block(cs, target)), []
    rows: list[_ElasticRow] = []
    col_of: dict[tuple[str, int, str], int] = {}
    for j, (b, i, side) in enumerate(spec):
        bound = float(b.upper[i] if side == "upper" else b.lower[i])
        name = b.row_names[i]
        base = max(abs(bound), _floor(name, limits))
        w = family_weights.get(b.family, 1.0) / base
        rows.append(_ElasticRow(name, side, bound, w))
        col_of[(b.name, i, side)] = j
    new_blocks = []
    for b in problem.blocks:
        if not _is_relaxable(b, limits):
            new_blocks.append(b)
            continue
        two_sided = np.isfinite(b.upper) & np.isfinite(b.lower)
        for side in ("upper", "lower"):
            keep = np.isfinite(b.upper if side == "upper" else b.lower)
            if not keep.any():
                continue
            idx = np.flatnonzero(keep)
            mat = sp.lil_array((idx.size, e))
            for r, i in enumerate(idx):
                mat[r, col_of[(b.name, int(i), side)]] = -1.0 if side == "upper" else 1.0
            terms = {
                g: sp.csr_array(a)[idx] if sp.issparse(a) else np.asarray(a)[idx]
                for g, a in b.terms.items()
            }
            terms["elastic"] = mat.tocsr()
            split = bool(two_sided[idx].any()) and side == "lower"
            new_blocks.append(
                LinearBlock(
                    name=b.name + (":lower" if split else ("" if side == "upper" else ":lo")),
                    family=b.family,
                    terms=terms,
                    lower=np.full(idx.size, -INF) if side == "upper" else b.lower[idx],
                    upper=b.upper[idx] if side == "upper" else np.full(idx.size, INF),
                    row_names=tuple(
                        b.row_names[i] + ("" if side == "upper" else ":lower") for i in idx
                    ),
                )
            )
    room = np.array(
        [_solvent_room(r.row, r.side, r.bound, limits.nlv) if solvent else INF for r in rows]
    )
    elastic = VariableGroup(
        name="elastic",
        kind=VarKind.CONTINUOUS,
        lower=np.zeros(e),
        upper=room,
        labels=tuple(f"{r.row}:{r.side}" for r in rows),
    )
    relaxed = SizingProblem(
        variables=(*problem.variables, elastic),
        blocks=(*new_blocks, target_block(cs, target)),
        objective=Objective(
            name="weighted_cap_increase",
            sense="minimize",
            terms={"elastic": np.array([r.weight for r in rows])},
        ),
    )
    return relaxed, rows


def _steps(
    rows: list[_ElasticRow],
    slack: np.ndarray,
    counts: np.ndarray,
    cs: CandidateSet,
    limits: Limits,
    exact: dict[str, float] | None = None,
) -> tuple[RelaxationStep, ...]:
    """Report the raised caps in the unit they are set in.

    ``exact``: row name -> the row's value recomputed from the book (:func:`book_activity`);
    rows not in it take the bound plus the elastic slack the solver returned.
    """
    out = []
    exact = exact or {}
    v = cs.col(basis_column(limits.allocation_basis))
    total = float(v @ counts)
    strat = cs.table["strategy"].to_numpy()
    for r, e in zip(rows, slack, strict=True):
        if e <= 1e-6 * max(1.0, abs(r.bound)):
            continue
        needed = exact.get(r.row, r.bound + e if r.side == "upper" else r.bound - e)
        unit = _unit_of(r.row)
        if unit == "fraction of NLV":
            frac = needed / limits.nlv
            out.append(
                RelaxationStep(
                    r.row, r.bound / limits.nlv, frac, unit, beyond_solvency(r.row, frac)
                )
            )
        elif unit == "share of income":
            s = r.row[r.row.index("[") + 1 : r.row.index("]")]
            w = limits.weights[s]
            tol = limits.allocation_tolerance or 0.0
            share = float(v[strat == s] @ counts[strat == s]) / total if total > 0 else 0.0
            bound = w + tol if r.row.startswith("alloc_upper") else w - tol
            if abs(share - bound) > 1e-6:  # the book may sit on the band after rounding
                out.append(RelaxationStep(r.row, bound, share, unit))
        else:
            out.append(RelaxationStep(r.row, r.bound, needed, unit))
    return tuple(out)


def book_activity(
    problem: SizingProblem, values: dict[str, np.ndarray], limits: Limits, risk: RiskData | None
) -> dict[str, float]:
    """Cap rows' values recomputed ex post from the book, not read off solver slacks.

    Rows over the integer groups only (counts ``n``, binaries ``y``) are evaluated at the
    integral values (a structure binary ``y`` read as 1 exactly when its count is positive); a
    CVaR cap's value is the book's CVaR on the full scenario set
    (:func:`models.risk.cvar`, the quantity the cap bounds). Other rows are left out.
    """
    integral = {g.name for g in problem.variables if g.is_integral}
    if "y" in values and "n" in values:  # a position is open exactly when it holds contracts
        values = {**values, "y": (np.asarray(values["n"]) > 0.5).astype(float)}
    out: dict[str, float] = {}
    for b in problem.blocks:
        if not set(b.terms) <= integral:
            continue
        act = sum(
            (np.asarray(a @ np.asarray(values[g], dtype=float)) for g, a in b.terms.items()),
            start=np.zeros(b.m),
        )
        out.update(zip(b.row_names, np.asarray(act, dtype=float).tolist(), strict=True))
    if risk is not None and limits.cvar_caps:
        losses = -(risk.pnl @ np.asarray(values["n"], dtype=float))
        for a, _ in limits.cvar_caps:
            out[f"cvar_{alpha_tag(a)}"] = float(cvar(losses, a))
    return out


def _cvar_allowance(rows: list[_ElasticRow], limits: Limits):
    names = {f"cvar_{alpha_tag(a)}": a for a, _ in limits.cvar_caps}

    def allowance(out: SolveOutcome) -> dict[float, float]:
        e = out.values["elastic"]
        return {
            names[r.row]: float(e[j])
            for j, r in enumerate(rows)
            if r.row in names and r.side == "upper"
        }

    return allowance


class _NoSolventSet(tuple):
    """The empty relaxation of a solvent search that found no solvent set (typed, not text)."""

    __slots__ = ()


def no_solvent_set(steps: tuple) -> bool:
    """Whether ``steps`` is a solvent search's answer that no solvent set of caps exists."""
    return isinstance(steps, _NoSolventSet)


def minimal_relaxation(
    cs: CandidateSet,
    limits: Limits,
    ctx: SolveContext,
    target: float,
    *,
    risk: RiskData | None = None,
    family_weights: dict[str, float] | None = None,
    solvent: bool = False,
) -> tuple[tuple[RelaxationStep, ...], str]:
    """Smallest weighted set of cap increases that makes ``target`` reachable.

    Every step whose needed bound is past solvency is marked ``beyond_solvency``
    (:func:`beyond_solvency`). With ``solvent`` the solvency bounds are hard limits of the
    elastic MILP (BP ≤ 100% of NLV, stress/VaR/CVaR losses < 100% of NLV): the smallest
    relaxation a solvent account could run, or none.

    Parameters
    ----------
    cs, limits, ctx
        Candidates, caps and solver context.
    target : float
        Monthly income target, account currency.
    risk : RiskData | None
        Scenario matrices (CVaR and stress caps are relaxable too).
    family_weights : dict[str, float] | None
        Multiplier of the default weight per family (``buying_power``, ``positions``,
        ``allocation``, ``tail_risk``, ``leverage``); default 1: every cap costs its increase
        in % of its bound.
    solvent : bool
        Keep the solvency bounds as hard limits.

    Returns
    -------
    (steps, note)
        One :class:`~optimizer.verdict.verdict.RelaxationStep` per raised cap (bound and needed value in
        the unit the cap is set in) and how it was found. Empty with a reason when no relaxation
        of the relaxable caps reaches the target (structural rules, products, Greeks bind).
    """
    weights = family_weights or {}
    free = dataclasses.replace(limits, bound_counts=False)

    holder: dict[str, Any] = {}

    def extra(problem: SizingProblem) -> SizingProblem:
        relaxed, rows = _elasticize(problem, cs, free, target, weights, solvent=solvent)
        holder["rows"] = rows
        holder["base"] = problem
        return relaxed

    def allowance(out: SolveOutcome) -> dict[float, float]:
        return _cvar_allowance(holder["rows"], free)(out)

    exact = ctx.with_gap(min(ctx.options.mip_rel_gap, 1e-6))
    out, _ = solve_sizing(
        cs,
        free,
        ObjectiveKind.MAX_INCOME,
        exact,
        risk=risk,
        chance=False,
        extra=extra,
        cvar_allowance=allowance,
    )
    if not out.status.has_solution or out.values is None:
        if out.status is SolveStatus.INFEASIBLE and solvent:
            return _NoSolventSet(), (
                f"{NO_SOLVENT_SET}: with BP ≤ 100% of NLV and every stress, VaR and CVaR loss "
                "below 100% of NLV the elastic MILP is infeasible"
            )
        if out.status is SolveStatus.INFEASIBLE:
            return (), (
                "no relaxation of the relaxable caps (BP, positions, groups, allocation, "
                "leverage, CVaR, stress) reaches the target: structural rules, products or "
                "Greek bounds bind"
            )
        return (), f"elastic relaxation not solved ({out.status.value}: {out.message})"
    counts = np.rint(out.values["n"]).astype(int)
    exact = book_activity(holder["base"], out.values, free, risk)
    steps = _steps(holder["rows"], np.asarray(out.values["elastic"]), counts, cs, free, exact)
    gap = "" if out.status is SolveStatus.OPTIMAL else f" (stopped at a limit, gap {out.mip_gap})"
    hard = (
        "; BP ≤ 100% and stress, VaR and CVaR losses < 100% of NLV kept as hard limits"
        if solvent
        else ""
    )
    return steps, (
        f"elastic MILP: minimum of the cap increases weighted by 1/bound{gap}{hard}; the book "
        f"it finds expects "
        f"{float(cs.col('expected_monthly_income_per_contract') @ counts):,.0f}"
    )


def apply_relaxation(
    steps: tuple[RelaxationStep, ...], cs: CandidateSet, limits: Limits
) -> tuple[Callable[[SizingProblem], SizingProblem], Callable[[SolveOutcome], dict[float, float]]]:
    """Row-bound changes that put ``steps`` in force on a built problem.

    Returns
    -------
    (extra, cvar_allowance)
        ``extra`` for :func:`~optimizer.solve.solving.solve_sizing` (raises the named rows' bounds;
        allocation shares by rewriting the share row) and the CVaR allowance (money per alpha)
        the cutting-plane check must accept.
    """
    by_row = {s.cap: s for s in steps}
    v = cs.col(basis_column(limits.allocation_basis))
    cvar_names = {f"cvar_{alpha_tag(a)}": (a, c) for a, c in limits.cvar_caps}

    def money(s: RelaxationStep) -> float:
        return s.needed * limits.nlv if s.unit == "fraction of NLV" else s.needed

    def extra(problem: SizingProblem) -> SizingProblem:
        blocks = []
        for b in problem.blocks:
            hit = [i for i, r in enumerate(b.row_names) if r in by_row]
            if not hit:
                blocks.append(b)
                continue
            lower, upper = b.lower.copy(), b.upper.copy()
            terms = {
                g: (sp.lil_array(a) if sp.issparse(a) else np.array(a, dtype=float))
                for g, a in b.terms.items()
            }
            for i in hit:
                s = by_row[b.row_names[i]]
                if s.unit == "share of income":
                    # own - bound * v  ->  own - needed * v
                    row = (
                        terms["n"][[i], :].toarray()[0]
                        if sp.issparse(terms["n"])
                        else terms["n"][i]
                    )
                    row = row + (s.bound - s.needed) * v
                    terms["n"][i, :] = row
                elif math.isfinite(upper[i]) and s.needed >= s.bound:
                    upper[i] = money(s)
                else:
                    lower[i] = money(s)
            blocks.append(
                dataclasses.replace(
                    b,
                    terms={g: (sp.csr_array(a) if sp.issparse(a) else a) for g, a in terms.items()},
                    lower=lower,
                    upper=upper,
                )
            )
        return SizingProblem(problem.variables, tuple(blocks), problem.objective)

    def allowance(out: SolveOutcome) -> dict[float, float]:
        return {
            a: by_row[name].needed * limits.nlv - cap * limits.nlv
            for name, (a, cap) in cvar_names.items()
            if name in by_row
        }

    return extra, allowance
