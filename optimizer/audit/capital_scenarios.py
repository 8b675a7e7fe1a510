"""Seed 2 capital-scenario audit: the claimed table recomputed beside a Monte Carlo of its streams.

``thetaplan audit scenarios/quantai/capital_scenarios.yaml`` reads an audit file (schema in :mod:`optimizer.audit.schema`,
pydantic, unknown keys rejected, field path in every error) and produces an :class:`AuditResult`:

* ``claimed`` — the seed's own arithmetic (kuthy9/QuantAI ``scripts/small_capital_optimizer.py``
  ``calculate_blended_strategy_returns``; domain.md §8): gross = capital × Σ(allocation × monthly
  rate), net = gross − the seed's $1,771, "annual" = capital × ((1 + net/capital)^12 − 1),
  P(success) = 0.75 if net ≥ target else 0.45. Rates, mixes and costs come from the file.
* ``break_even.claimed`` — ``scripts/financial_projection_validator.py``: (itemised costs + 0.2% ×
  the $100k reference) / ((1 + 28% × size factor)^(1/12) − 1) = $102,208.
* ``checks`` — consistency of the stated per-trade parameters (implied win rates against the
  seed's own 60% validator win rate and an 80% plausibility bound, claimed monthly rates against
  what the per-trade figures imply, stakes against position limits, leverage against caps).
* ``simulated`` — :func:`models.streams.simulate_equity` of each capital level's mix with the
  stated per-trade parameters, seed 2's risk limits and the itemised operating costs;
  ``simulated_no_edge`` — the same with every stream at its no-edge win rate
  (:func:`models.streams.no_edge_win_probability`).
* ``break_even.recomputed`` — the smallest capital whose mean first-month net (simulated, with the
  seed's mix for that capital) is ≥ 0.
* ``optimized`` — the allocation LP of :mod:`optimizer.audit.streams_alloc` per capital level and the
  re-simulation of its allocation under the account-level limits.

Win rates the seed does not state are derived, never fitted to a claimed number: from the stated
average, stop and target (:func:`models.streams.implied_win_probability`) when it gives a stop and
a target; otherwise the seed's own validator win rate (60%) with a 1:1 payoff (win = loss =
average / (2p − 1)). Every such choice is listed in :attr:`AuditResult.assumptions`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models.errors import SpecError
from models.market.history import load_vix_history
from models.streams import (
    EquitySimulation,
    RegimeChain,
    fit_regime,
)
from optimizer.audit.claimed import (
    ClaimedRow,
    Finding,
    claimed_break_even,
    claimed_table,
    consistency_checks,
    derive_streams,
    mix_for,
)
from optimizer.audit.schema import (
    FAN_PNG,
    MAX_SEED,
    MONTHLY_PNG,
    QUANTILES,
    AuditSpec,
    load_audit,
)
from optimizer.audit.simulate import (
    OptimizedRow,
    SimulatedRow,
    _row,
    _simulate_mix,
    _standalone_months,
    risk_limits,
    simulated_break_even,
)
from optimizer.audit.streams_alloc import optimize_allocation

__all__ = [
    "AuditResult",
    "AuditSpec",
    "ClaimedRow",
    "Finding",
    "SimulatedRow",
    "claimed_break_even",
    "claimed_table",
    "consistency_checks",
    "derive_streams",
    "equity_fan_figure",
    "load_audit",
    "mix_for",
    "monthly_distribution_figure",
    "risk_limits",
    "run_audit",
    "simulated_break_even",
    "write_audit_plots",
]


# ----------------------------------------------------------------------------- result
@dataclass(frozen=True)
class AuditResult:
    """Everything the audit computed (see the module docstring); :meth:`to_dict` is the JSON.

    Attributes
    ----------
    name, currency, target_monthly
        From the file.
    claimed : list of ClaimedRow
    simulated, simulated_no_edge : list of SimulatedRow
    break_even : dict
        ``claimed`` (USD), ``recomputed`` (USD or None), ``recomputed_no_edge``, notes.
    checks : list of Finding
    optimized : list of OptimizedRow
    assumptions : list of str
    regime : RegimeChain or None
    paths, seed : int
    seconds : float
    fan : dict
        Capital level → daily equity quantiles (``{"days", "q05", "q25", "q50", "q75", "q95"}``)
        of the stated and no-edge simulations, for the plots.
    first_month : dict
        Capital level → first-month nets (stated, no-edge) for the plots, arrays (P,).
    """

    name: str
    currency: str
    target_monthly: float
    claimed: list[ClaimedRow]
    simulated: list[SimulatedRow]
    simulated_no_edge: list[SimulatedRow]
    break_even: dict[str, Any]
    checks: list[Finding]
    optimized: list[OptimizedRow]
    assumptions: list[str]
    regime: RegimeChain | None
    paths: int
    seed: int
    seconds: float
    fan: dict[str, dict[float, dict[str, np.ndarray]]] = field(repr=False, default_factory=dict)
    first_month: dict[str, dict[float, np.ndarray]] = field(repr=False, default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``thetaplan audit --json``."""

        def sim(rows: list[SimulatedRow]) -> list[dict]:
            return [{**asdict(r), "p_net_ge_target_ci": list(r.p_net_ge_target_ci)} for r in rows]

        return {
            "name": self.name,
            "currency": self.currency,
            "target_monthly": self.target_monthly,
            "paths": self.paths,
            "seed": self.seed,
            "claimed": [asdict(r) for r in self.claimed],
            "simulated": sim(self.simulated),
            "simulated_no_edge": sim(self.simulated_no_edge),
            "break_even": dict(self.break_even),
            "checks": [asdict(f) for f in self.checks],
            "optimized": [
                {
                    "capital": o.capital,
                    **o.allocation.to_dict(),
                    "simulated": None if o.simulated is None else sim([o.simulated])[0],
                }
                for o in self.optimized
            ],
            "regime": None if self.regime is None else asdict(self.regime),
            "assumptions": list(self.assumptions),
            "seconds": self.seconds,
        }


def _fan(sim: EquitySimulation) -> dict[str, np.ndarray]:
    q = np.quantile(sim.equity, QUANTILES, axis=0)
    out = {f"q{int(round(level * 100)):02d}": q[i] for i, level in enumerate(QUANTILES)}
    out["days"] = np.arange(sim.equity.shape[1])
    return out


def _assumptions(
    spec: AuditSpec, how: dict[str, str], regime: RegimeChain | None, paths: int, seed: int
) -> list[str]:
    sim = spec.simulation
    out = [
        "model: per-trade Bernoulli win/loss with fixed returns on the stake, fixed trades per "
        "day (Poisson where a stream says count: poisson), trades independent across trades, "
        "streams and days; sequential compounding on current equity inside the day; stream "
        "slots evenly spaced over the session",
        f"Monte Carlo: {paths} paths × {sim.months} months × {sim.days_per_month} trading days, "
        f"numpy default_rng(seed={seed})",
        "returns, stops and take-profits are fractions of the stake (capital committed to a "
        "trade), leverage included ('per leveraged trade'); stake = allocation × "
        "position_fraction × capital_efficiency of current equity; leverage sizes the exposure "
        "(costs, leverage cap) only",
        "a [low, high] range (momentum take-profit 8–12%, leverage 3–5×) is simulated at its "
        "midpoint",
        f"risk limits on the whole account: daily loss limit {spec.risk.daily_loss_limit} of the "
        f"day's opening equity (stop trading for the day); kill switch at a "
        f"{spec.risk.kill_drawdown} drawdown from the running peak marked after every trade "
        "(plan stopped: no trades, no further operating costs)",
        f"operating costs: itemised {spec.itemised_costs:,.2f} {spec.currency}/month "
        "(financial_projection_validator.py) paid at each month end from the account; the "
        f"claimed table uses the seed's rounded {spec.claimed.operating_costs:,.0f}",
        "an account that cannot pay its month's operating costs is ruined (equity 0, plan "
        "stopped); the payment is a withdrawal: drawdowns and the kill switch follow the "
        "time-weighted trading return",
        "simulated 'net monthly' = first month's change of equity after costs; 12-month outcome "
        "= equity after 12 months − capital (the seed's 'annual' compounds the first month 12 times)",
        "no-edge variant: every stream wins with probability loss/(win + loss), the rate at which "
        "a stop/target trade on a driftless price breaks even before costs (optional stopping)",
        "allocation LP: streams trade separate sub-accounts with their own limits; scenario "
        "months of each stream trading alone (common seed), returns additive across "
        "sub-accounts; drawdown cap as a CVaR surrogate over month ends",
    ]
    for name, text in how.items():
        out.append(f"{name}: {text}")
    for name, s in spec.streams.items():
        if s.assumed:
            vals = ", ".join(f"{a} = {getattr(s, a)}" for a in s.assumed)
            out.append(f"{name}: not stated by the seed, assumed: {vals}")
    if regime is not None:
        out.append(
            f"regime days (VIX > {regime.threshold:g}): two-state Markov chain fitted on "
            f"{regime.source}; P(enter) {regime.p_enter:.4f}/day, P(stay) {regime.p_stay:.4f}/day, "
            f"stationary share {regime.stationary:.1%}, mean spell {regime.mean_spell:.1f} days; "
            "paths start from the stationary law"
        )
    return out


def _audit_regime(spec: AuditSpec):
    """The two-state VIX regime chain fitted to the audit's history window (``None`` without)."""
    if spec.regime is None:
        return None
    path = spec.resolve(spec.regime.history)
    return fit_regime(
        load_vix_history(path),
        spec.regime.threshold,
        start=None if spec.regime.start is None else spec.regime.start.isoformat(),
        end=None if spec.regime.end is None else spec.regime.end.isoformat(),
        source=path.name,
    )


def _break_even(
    spec: AuditSpec,
    stated: dict,
    no_edge: dict,
    regime,
    be_paths: int,
    rng_seed: int,
    tick: Callable[[str], None],
) -> dict:
    """Break-even capital: claimed (the seed's formula) and recomputed, stated and no-edge."""
    tick("break-even (stated)")
    be, be_note = simulated_break_even(spec, stated, regime=regime, paths=be_paths, seed=rng_seed)
    tick("break-even (no edge)")
    be0, be0_note = simulated_break_even(
        spec, no_edge, regime=regime, paths=be_paths, seed=rng_seed
    )
    return {
        "claimed": claimed_break_even(spec),
        "recomputed": be,
        "recomputed_no_edge": be0,
        "claimed_note": "financial_projection_validator.py: (itemised costs + 0.2% × $100k) / "
        "monthly rate at 28% × 0.92",
        "recomputed_note": be_note,
        "recomputed_no_edge_note": be0_note,
    }


def _optimized_rows(
    spec: AuditSpec,
    stated: dict,
    levels: list[float],
    n_paths: int,
    rng_seed: int,
    regime,
    tick: Callable[[str], None],
) -> list[OptimizedRow]:
    """Per capital level and objective: the allocation LP and the re-simulation of its mix."""
    sim_spec = spec.simulation
    optimized: list[OptimizedRow] = []
    opt = spec.optimizer
    names = list(stated)
    caps = [min(opt.max_allocation, 1.0)] * len(names)
    exposure = [stated[n].exposure for n in names]
    for cap in levels:
        tick(f"allocation LP ${cap:,.0f}")
        months = _standalone_months(
            spec, stated, cap, paths=min(opt.paths, n_paths), seed=rng_seed, regime=regime
        )
        for objective in opt.objectives:
            res = optimize_allocation(
                months,
                names,
                exposure=exposure,
                max_allocation=caps,
                leverage_cap=spec.risk.leverage_cap,
                cost_fraction=spec.itemised_costs / cap,
                cvar_alpha=opt.cvar.alpha if opt.cvar else 0.95,
                cvar_cap=opt.cvar.cap if opt.cvar else None,
                drawdown_alpha=opt.drawdown.alpha if opt.drawdown else 0.9,
                drawdown_cap=opt.drawdown.cap if opt.drawdown else None,
                objective=objective,
            )
            resim = None
            if res.status == "optimal":
                mix = {n: float(a) for n, a in zip(names, res.allocation, strict=True) if a > 1e-9}
                if mix:
                    sim = _simulate_mix(
                        spec,
                        stated,
                        mix,
                        cap,
                        paths=n_paths,
                        months=sim_spec.months,
                        seed=rng_seed + 1,
                        regime=regime,
                    )
                    resim = _row(sim, mix, spec.target_monthly)
            optimized.append(OptimizedRow(cap, res, resim))
    return optimized


def run_audit(
    spec: AuditSpec,
    *,
    paths: int | None = None,
    seed: int | None = None,
    optimize: bool | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> AuditResult:
    """Run the whole audit (claimed table, checks, Monte Carlo, break-even, allocation LP).

    Parameters
    ----------
    spec : AuditSpec
        Validated audit file.
    paths, seed : int, optional
        Override ``simulation.paths`` / ``simulation.seed``.
    optimize : bool, optional
        Override ``optimizer.enabled``.
    progress : callable, optional
        ``progress(step, done, total)`` before each step and once at the end.

    Returns
    -------
    AuditResult

    Raises
    ------
    DataError
        The regime history file cannot be read.
    SpecError
        ``seed`` outside ``[0, MAX_SEED]``.
    """
    t0 = time.perf_counter()
    sim_spec = spec.simulation
    n_paths = int(paths or sim_spec.paths)
    rng_seed = int(sim_spec.seed if seed is None else seed)
    if not 0 <= rng_seed <= MAX_SEED:
        raise SpecError(f"--seed: expected an integer in [0, {MAX_SEED}], got {rng_seed}")
    do_opt = spec.optimizer.enabled if optimize is None else optimize
    levels = list(spec.capital_levels)
    total = 2 * len(levels) + 2 + (len(levels) if do_opt else 0)
    step = 0

    def tick(what: str) -> None:
        nonlocal step
        if progress is not None:
            progress(what, step, total)
        step += 1

    regime = _audit_regime(spec)
    stated, how = derive_streams(spec, variant="stated")
    no_edge, _ = derive_streams(spec, variant="no_edge")
    checks = consistency_checks(spec, regime.stationary if regime is not None else None)
    claimed = claimed_table(spec)

    rows: dict[str, list[SimulatedRow]] = {"stated": [], "no_edge": []}
    fan: dict[str, dict[float, dict[str, np.ndarray]]] = {"stated": {}, "no_edge": {}}
    first: dict[str, dict[float, np.ndarray]] = {"stated": {}, "no_edge": {}}
    for variant, streams in (("stated", stated), ("no_edge", no_edge)):
        for cap in levels:
            tick(f"simulating {variant.replace('_', '-')} ${cap:,.0f}")
            mix = mix_for(spec, cap)
            sim = _simulate_mix(
                spec,
                streams,
                mix,
                cap,
                paths=n_paths,
                months=sim_spec.months,
                seed=rng_seed,
                regime=regime,
            )
            rows[variant].append(_row(sim, mix, spec.target_monthly))
            fan[variant][cap] = _fan(sim)
            first[variant][cap] = sim.monthly_net[:, 0].copy()

    break_even = _break_even(
        spec, stated, no_edge, regime, min(sim_spec.break_even_paths, n_paths), rng_seed, tick
    )
    optimized = (
        _optimized_rows(spec, stated, levels, n_paths, rng_seed, regime, tick) if do_opt else []
    )
    if progress is not None:
        progress("done", total, total)
    return AuditResult(
        name=spec.name,
        currency=spec.currency,
        target_monthly=spec.target_monthly,
        claimed=claimed,
        simulated=rows["stated"],
        simulated_no_edge=rows["no_edge"],
        break_even=break_even,
        checks=checks,
        optimized=optimized,
        assumptions=_assumptions(spec, how, regime, n_paths, rng_seed),
        regime=regime,
        paths=n_paths,
        seed=rng_seed,
        seconds=time.perf_counter() - t0,
        fan=fan,
        first_month=first,
    )


# ----------------------------------------------------------------------------- plots
def _figure(width: float, height: float, ncols: int = 1):
    from optimizer.plots._base import _figure as new_figure

    fig = new_figure(width, height, layout=None)  # shows as a PNG in Jupyter
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    return fig, axes


def monthly_distribution_figure(result: AuditResult, path: str | Path | None = None):
    """Distribution of the first month's net per capital level (stated and no-edge panels).

    Each panel shows one empirical CDF per capital level on a symmetric-log money axis, the
    target as a vertical line and the seed's claimed net as a marker on each curve's colour.
    Returns the matplotlib Figure (Agg canvas); saved to ``path`` when given.
    """
    from matplotlib.ticker import NullFormatter

    fig, axes = _figure(11, 4.5, ncols=2)
    claimed = {r.capital: r.net_monthly for r in result.claimed}
    for ax, variant, title in zip(
        axes,
        ("stated", "no_edge"),
        ("stated per-trade parameters", "no-edge win rates"),
        strict=True,
    ):
        for i, (cap, x) in enumerate(result.first_month.get(variant, {}).items()):
            xs = np.sort(x)
            ys = np.arange(1, xs.size + 1) / xs.size
            color = f"C{i}"
            ax.step(xs, ys, where="post", color=color, label=f"${cap:,.0f}")
            ax.plot([claimed[cap]], [0.5], marker="D", color=color, markersize=6)
        ax.axvline(result.target_monthly, color="k", linestyle="--", linewidth=1)
        ax.set_xscale("symlog", linthresh=1000)
        # 0 and the decades from 10^3 out (the default labels inside the linear band overlap)
        lo, hi = ax.get_xlim()
        ticks = [0.0] + [sg * 10.0**k for k in range(3, 9) for sg in (-1.0, 1.0)]
        ax.set_xticks(sorted(t for t in ticks if lo <= t <= hi))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlim(lo, hi)
        ax.set_xlabel(f"first-month net ({result.currency}, symlog)")
        ax.set_ylabel("P(net ≤ x)")
        ax.set_title(f"{title}\n(diamonds: claimed net; dashed: target)", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def equity_fan_figure(
    result: AuditResult, capital: float | None = None, path: str | Path | None = None
):
    """Equity fan (5–95% and 25–75% bands, median) of one capital level, both variants.

    The seed's claimed path ``capital × (1 + monthly ROI)^(day / 21)`` is dashed. Log scale.
    Returns the Figure; saved to ``path`` when given.
    """
    levels = [r.capital for r in result.claimed]
    cap = levels[-1] if capital is None else capital
    roi = next(r.monthly_roi for r in result.claimed if r.capital == cap)
    fig, axes = _figure(11, 4.5, ncols=2)
    for ax, variant, title in zip(
        axes,
        ("stated", "no_edge"),
        ("stated per-trade parameters", "no-edge win rates"),
        strict=True,
    ):
        f = result.fan.get(variant, {}).get(cap)
        if f is None:
            continue
        days = f["days"]
        floor = 1.0
        ax.fill_between(
            days,
            np.maximum(f["q05"], floor),
            np.maximum(f["q95"], floor),
            alpha=0.2,
            color="C0",
            label="5–95%",
        )
        ax.fill_between(
            days,
            np.maximum(f["q25"], floor),
            np.maximum(f["q75"], floor),
            alpha=0.4,
            color="C0",
            label="25–75%",
        )
        ax.plot(days, np.maximum(f["q50"], floor), color="C0", label="median")
        dpm = 21
        if roi > -1:
            ax.plot(days, cap * (1 + roi) ** (days / dpm), "k--", linewidth=1, label="claimed")
        ax.set_yscale("log")
        ax.set_xlabel("trading day")
        ax.set_ylabel(f"equity ({result.currency}, log)")
        ax.set_title(f"${cap:,.0f}: {title}", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def write_audit_plots(result: AuditResult, folder: Path) -> list[Path]:
    """Write ``audit_monthly_net.png`` and ``audit_equity_fan.png`` into ``folder``.

    Raises
    ------
    SpecError
        ``--plot-dir: cannot write …`` when the folder or a file cannot be written.
    """
    try:
        folder.mkdir(exist_ok=True)
        a, b = folder / MONTHLY_PNG, folder / FAN_PNG
        monthly_distribution_figure(result, a)
        equity_fan_figure(result, path=b)
    except OSError as exc:
        raise SpecError(f"--plot-dir: cannot write {folder} ({exc.strerror or exc})") from None
    return [a, b]
