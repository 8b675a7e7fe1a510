"""Caps in force for one solve: the scenario's settings resolved against the phase/VIX tables.

The constraint families consume a :class:`Limits` object, never the raw tables, so the verdict can
re-solve the same scenario at another account size (``Limits.at_nlv``) without re-reading anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from models import phases as phase_tables
from models.errors import ModelError, SpecError
from models.instruments import get_instrument
from optimizer.inputs.spec import Scenario

__all__ = [
    "Limits",
    "allowed_products",
    "count_scale",
    "nlv_gbp",
    "phase_of",
    "resolve_limits",
    "top_phase_floor_gbp",
]


@dataclass(frozen=True)
class Limits:
    """Resolved caps (fractions are of net liquidation value; money in the account currency).

    Parameters
    ----------
    nlv : float
        Net liquidation value, account currency.
    phase : int
        Account phase (1–4).
    weights : dict[str, float]
        Effective allocation weight per strategy (after renormalization).
    weight_note : str
        How the weights were obtained (e.g. which strategies were renormalized away).
    allocation_tolerance : float | None
        Absolute tolerance on each strategy's income share; ``None`` = allocation disabled.
    allocation_basis : str
        ``income`` or ``theta``.
    bp_fraction : float
        Total buying-power cap as a fraction of NLV.
    bp_source : str
        Which table row or setting produced ``bp_fraction``.
    strategy_bp_caps : dict[str, float]
        Per-strategy BP caps, fraction of NLV.
    max_positions : dict[str, int | None]
        Per-strategy cap on units held (``None`` = no cap).
    group_limits : dict[str, int]
        Max counted units per correlation group in force (``{}`` = group limits disabled):
        each group's own TK-PDF limit capped by the phase limit.
    group_excluded : frozenset[str]
        Strategies whose units do not count toward group limits.
    group_risk : str
        How group risk is measured: ``cash_delta`` (|Σ delta × price × multiplier|), ``bp``
        (buying-power reduction) or ``max_loss`` (maximum loss at expiry).
    group_risk_cap : float | None
        Cap on each group's risk, fraction of NLV (``None`` = none).
    leverage : float | None
        Cap on gross short notional, multiple of NLV.
    position_basis : str
        ``units`` (full-size equivalents), ``contracts`` or ``structures``: what position,
        total and group limits count.
    count_reference : dict[str, float]
        Per strategy, the size (full-size units) of the contract its ``max_positions`` number is
        stated in (0.1 when the phase table counts MES units; 1.0 otherwise). Only the ``units``
        basis converts with it; ``contracts`` and ``structures`` take the number as stated.
    max_total_positions : int | None
        Cap on all positions together (counted like ``position_basis``).
    one_per_expiry : bool
        At most one structure per (strategy, correlation group, expiry).
    max_loss_per_position : float | None
        Max loss at expiry of each position ≤ this fraction of NLV.
    max_loss_strategies : frozenset[str]
        Strategies the max-loss cap applies to.
    allocation_mode : str
        ``hard`` (walls) or ``soft`` (penalized deviation).
    allocation_penalty : float
        Objective units lost per account-currency unit of deviation outside the band (soft).
    notes : tuple[str, ...]
        Rules applied while resolving (VIX protocol, unit conversions), for the result notes.
    bound_counts : bool
        Derive per-candidate count bounds from the caps (default). The elastic relaxation turns
        it off: its caps may move, so only structural bounds stay.
    max_contracts_per_position : int | None
        Cap on contracts of one candidate.
    greeks : dict[str, tuple[float, float]]
        Portfolio bounds: ``cash_delta``, ``vega``, ``theta`` (account currency).
    cvar_caps : tuple[tuple[float, float], ...]
        ``(alpha, cap)`` pairs: CVaR at ``alpha`` over the risk horizon ≤ cap × NLV.
    monthly_cvar_caps : tuple[tuple[float, float], ...]
        ``(alpha, cap)``: CVaR of a month's P&L (income model months) ≤ cap × NLV.
    drawdown_cap : tuple[float, float] | None
        ``(alpha, cap)``: CVaR of the 12-month maximum drawdown over paths ≤ cap × NLV.
    var_caps : tuple[tuple[float, float], ...]
        ``(alpha, cap)`` pairs for the exact VaR cap.
    stress_cap : float | None
        Loss in each named stress ≤ cap × NLV.
    success_probability : float | None
        Required P(monthly income ≥ target).
    chance_method : str
        ``saa`` or ``cvar``.
    target : float | None
        Monthly income target, account currency (used by the chance family).
    extra : dict[str, Any]
        The scenario's ``caps:`` section: settings of the cap families that own one, by
        section name (each family validates its own, :class:`~optimizer.formulation.families.CapFamily`).
    """

    nlv: float
    phase: int
    weights: dict[str, float]
    weight_note: str
    allocation_tolerance: float | None
    allocation_basis: str
    bp_fraction: float
    bp_source: str
    strategy_bp_caps: dict[str, float]
    max_positions: dict[str, int | None]
    group_limits: dict[str, int]
    group_excluded: frozenset[str]
    group_risk_cap: float | None
    leverage: float | None
    group_risk: str = "cash_delta"
    position_basis: str = "units"
    count_reference: dict[str, float] = field(default_factory=dict)
    max_total_positions: int | None = None
    one_per_expiry: bool = False
    max_loss_per_position: float | None = None
    max_loss_strategies: frozenset[str] = frozenset()
    allocation_mode: str = "hard"
    allocation_penalty: float = 0.5
    notes: tuple[str, ...] = ()
    bound_counts: bool = True
    max_contracts_per_position: int | None = None
    greeks: dict[str, tuple[float, float]] = field(default_factory=dict)
    cvar_caps: tuple[tuple[float, float], ...] = ()
    monthly_cvar_caps: tuple[tuple[float, float], ...] = ()
    drawdown_cap: tuple[float, float] | None = None
    var_caps: tuple[tuple[float, float], ...] = ()
    stress_cap: float | None = None
    success_probability: float | None = None
    chance_method: str = "saa"
    target: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def at_nlv(self, nlv: float) -> Limits:
        """The same caps for another account size (phase and counts unchanged)."""
        return replace(self, nlv=float(nlv))


def nlv_gbp(scenario: Scenario, nlv: float | None = None) -> float:
    """``nlv`` (default: the scenario's NLV), account currency, in GBP (the phase tables' unit).

    Raises
    ------
    SpecError
        The account is not in GBP and ``account.fx`` has no GBP rate.
    """
    acc = scenario.account
    value = acc.net_liq if nlv is None else float(nlv)
    if acc.currency == "GBP":
        return value
    if "GBP" not in acc.fx:
        raise SpecError("account.fx.GBP: the phase tables are in GBP; give the GBP rate")
    return value / acc.fx["GBP"]


def top_phase_floor_gbp() -> float:
    """NLV floor of the last phase (phase 4: GBP 75,000, ``phases.csv``)."""
    return phase_tables.get_phase(len(phase_tables.phases())).nlv_low_gbp


def count_scale(scenario: Scenario, phase: int) -> float:
    """Multiple of the count caps at the scenario's NLV (``positions.scale_with_nlv``).

    Above the last phase's floor (phase 4, GBP 75,000, ``phases.csv``) every count cap taken
    from the tables (max positions per strategy, the total cap, the correlation-group unit
    limits, each when set to ``phase``) is multiplied by NLV / that floor: the tables state no
    limits above phase 4, and a £150k account is read as two £75k books side by side
    (thetaplan's stated assumption). A limit the scenario states as a number stays as stated.
    1 in every other case, and with ``scale_with_nlv: false``.

    Parameters
    ----------
    scenario : Scenario
        The scenario (NLV converted to GBP for the phase table).
    phase : int
        The account phase in force.

    Returns
    -------
    float
        The multiple (≥ 1).
    """
    if not scenario.positions.scale_with_nlv or phase != len(phase_tables.phases()):
        return 1.0
    floor = top_phase_floor_gbp()
    return max(nlv_gbp(scenario), floor) / floor


def phase_of(scenario: Scenario) -> int:
    """The account phase: stated, or from NLV (in GBP) via the phase table."""
    if scenario.account.phase != "auto":
        return int(scenario.account.phase)
    return phase_tables.phase_for_nlv(nlv_gbp(scenario))


def _weights(scenario: Scenario, maxpos: dict[str, int | None]) -> tuple[dict[str, float], str]:
    raw = {n: s.weight for n, s in scenario.strategies.items()}
    stated = "as stated"
    rule = scenario.allocation.vix_tilts
    if rule is not None:
        from models.allocation import tilted_weights

        aliases = {n: s.limits_key or n for n, s in scenario.strategies.items()}
        try:
            raw = tilted_weights(raw, float(scenario.market.vix), rule, aliases)
        except ValueError as exc:
            raise SpecError(f"allocation.vix_tilts: {exc}") from None
        stated = (
            f"tilted by rule {rule!r} at VIX {scenario.market.vix:g} (allocation_tilts.csv): "
            + ", ".join(f"{n} {w:.1%}" for n, w in raw.items())
        )
    blocked = [n for n, m in maxpos.items() if m == 0 and raw[n] > 0]
    if not blocked:
        return raw, stated
    if scenario.allocation.renormalize == "none":
        return raw, f"{stated}; {', '.join(blocked)} not allowed in this phase (weights kept)"
    rest = sum(w for n, w in raw.items() if n not in blocked)
    if rest <= 0:
        raise SpecError("allocation.renormalize: no allowed strategy has a positive weight")
    out = {n: (0.0 if n in blocked else w / rest) for n, w in raw.items()}
    note = (
        f"{', '.join(blocked)} not allowed in this phase; other weights rescaled "
        f"proportionally to sum to 1"
    )
    return out, note


def _bp_cap(scenario: Scenario, phase: int) -> tuple[float, str]:
    """The total BP cap (fraction of NLV) and where it comes from (see :func:`resolve_limits`)."""
    bp = scenario.buying_power
    vix = scenario.market.vix
    if bp.max_fraction == "auto":
        ph = phase_tables.get_phase(phase)
        lo, hi = ph.max_bp_low, ph.max_bp_high
        if lo is not None and hi is not None and phase < 4:
            frac = {"low": lo, "mid": (lo + hi) / 2, "high": hi}[bp.vix_bound]
            src = f"phase {phase} BP band {lo:.0%}–{hi:.0%} ({bp.vix_bound})"
        else:
            frac = phase_tables.max_bp_fraction(vix, bound=bp.vix_bound)
            src = f"VIX {vix:g} row of the TK-PDF VIX table ({bp.vix_bound})"
    else:
        frac, src = float(bp.max_fraction), "stated in scenario"
    if bp.reserve == "table":  # the TK reserve belongs to the TK tables, not to a stated cap
        reserve = phase_tables.emergency_reserve() if bp.max_fraction == "auto" else 0.0
    else:
        reserve = float(bp.reserve)
    if reserve:
        src += f", × (1 − {reserve:.0%} reserve)"
        frac = frac * (1.0 - reserve)
    return frac, src


def _max_positions(
    scenario: Scenario, phase: int, notes: list[str]
) -> tuple[dict[str, int | None], dict[str, float]]:
    """Per strategy: max positions (phase table or stated; the VIX crisis protocol applied) and
    the size of the contract the number counts (``count_reference``); notes appended."""
    basis = scenario.positions.count
    vix = scenario.market.vix
    crisis_vix, blocked = phase_tables.vix_crisis_protocol()
    maxpos: dict[str, int | None] = {}
    reference: dict[str, float] = {}
    for name, s in scenario.strategies.items():
        key = s.limits_key or name
        ref_sym = None
        generic = key not in phase_tables.STRATEGIES and "max_positions" not in s.model_fields_set
        if s.max_positions == "phase" and generic:
            # the default "phase" is Tom King's table; a strategy it does not list has no
            # count limit unless one is stated (a generic plan must not trip on TK defaults)
            maxpos[name] = None
            notes.append(
                f"{name}: not a strategy of the phase tables ({', '.join(phase_tables.STRATEGIES)}); "
                "no position-count limit (state strategies.<name>.max_positions to set one)"
            )
        elif s.max_positions == "phase":
            try:
                maxpos[name] = phase_tables.max_positions(key, phase)
                ref_sym = phase_tables.count_unit(key, phase)
            except ModelError as exc:
                raise SpecError(f"strategies.{name}.max_positions: {exc}") from None
        else:
            maxpos[name] = s.max_positions
        reference[name] = phase_tables.position_units(ref_sym) if ref_sym else 1.0
        if ref_sym and basis == "units" and reference[name] != 1.0:
            notes.append(
                f"{name}: the phase-{phase} limit of {maxpos[name]} counts {ref_sym} units "
                f"(= {maxpos[name] * reference[name]:g} full-size units)"
            )
        if vix > crisis_vix and s.template in blocked and maxpos[name] != 0:
            maxpos[name] = 0
            notes.append(
                f"{name}: VIX {vix:g} > {crisis_vix:g} protocol, put selling only "
                f"({s.template} blocked)"
            )
    return maxpos, reference


def _scaled_counts(
    scenario: Scenario,
    phase: int,
    maxpos: dict[str, int | None],
    total: int | None,
    group_limits: dict[str, int],
    notes: list[str],
) -> tuple[dict, int | float | None, dict]:
    """The phase tables' count caps × :func:`count_scale` (``positions.scale_with_nlv``); caps
    the scenario states stay as stated; a note when they move."""
    pos = scenario.positions
    cg = pos.correlation_groups
    factor = count_scale(scenario, phase)
    if factor == 1.0:
        return maxpos, total, group_limits
    maxpos = {
        n: (m * factor if m is not None and scenario.strategies[n].max_positions == "phase" else m)
        for n, m in maxpos.items()
    }
    if pos.max_total == "phase" and total is not None:
        total = total * factor
    if cg.limit == "phase":
        group_limits = {g: v * factor for g, v in group_limits.items()}
    notes.append(
        f"positions.scale_with_nlv: phase-{phase} count caps × {factor:.3g} "
        f"(NLV GBP {nlv_gbp(scenario):,.0f} / the phase-{phase} floor GBP "
        f"{phase_tables.get_phase(phase).nlv_low_gbp:,.0f}; max positions, total and "
        "correlation-group limits; the tables stop at phase 4, the proportional rule is "
        "thetaplan's assumption)"
    )
    return maxpos, total, group_limits


def resolve_limits(scenario: Scenario) -> Limits:
    """Resolve every cap of ``scenario`` for its account phase and VIX level.

    BP: ``buying_power.max_fraction`` if given; ``auto`` = the phase BP band for phases 1–3 and the
    VIX table for phase 4 (domain.md §4, "phase BP targets override VIX in lower phases"), at the
    chosen ``vix_bound``; then scaled by ``1 - reserve`` (``reserve: table`` = the TK-PDF 20%
    emergency reserve, the formula form ``account × multiplier × 0.8``).

    Positions: the phase's max positions per strategy (converted to full-size units when the
    table states them in a micro contract), the total cap by phase, per-group limits
    ``min(group limit, phase limit)`` (domain.md §6), and the VIX > 30 protocol (strategies that
    sell calls get max positions 0).

    Raises
    ------
    SpecError
        Unknown strategy key in the max-positions table, missing GBP rate, bad renormalization.
    """
    phase = phase_of(scenario)
    notes: list[str] = []
    bp = scenario.buying_power
    frac, src = _bp_cap(scenario, phase)
    basis = scenario.positions.count
    maxpos, reference = _max_positions(scenario, phase, notes)
    weights, note = _weights(scenario, maxpos)
    cg = scenario.positions.correlation_groups
    group_limits: dict[str, int] = {}
    if cg.enabled:
        phase_cap = (
            phase_tables.get_phase(phase).correlation_group_limit
            if cg.limit == "phase"
            else int(cg.limit)
        )
        group_limits = {g.group: min(phase_cap, g.limit) for g in phase_tables.correlation_groups()}
    greeks = {
        k: tuple(v)
        for k, v in (
            ("cash_delta", scenario.greeks.cash_delta),
            ("vega", scenario.greeks.vega),
            ("theta", scenario.greeks.theta),
        )
        if v is not None
    }
    pos = scenario.positions
    total = phase_tables.max_total_positions(phase) if pos.max_total == "phase" else pos.max_total
    maxpos, total, group_limits = _scaled_counts(
        scenario, phase, maxpos, total, group_limits, notes
    )
    al = scenario.allocation
    risk = scenario.risk
    return Limits(
        nlv=scenario.account.net_liq,
        phase=phase,
        weights=weights,
        weight_note=note,
        allocation_tolerance=al.tolerance if al.enabled else None,
        allocation_basis=al.basis,
        allocation_mode=al.mode,
        allocation_penalty=al.penalty,
        bp_fraction=frac,
        bp_source=src,
        strategy_bp_caps=dict(bp.strategy_caps),
        max_positions=maxpos,
        group_limits=group_limits,
        group_excluded=frozenset(cg.exclude_strategies),
        group_risk=cg.risk,
        group_risk_cap=cg.risk_cap if cg.enabled else None,
        leverage=scenario.leverage.max_notional_multiple,
        position_basis=basis,
        count_reference=reference,
        max_total_positions=total,
        one_per_expiry=pos.one_per_expiry,
        max_loss_per_position=pos.max_loss_per_position,
        max_loss_strategies=frozenset(
            pos.max_loss_strategies if pos.max_loss_strategies is not None else scenario.strategies
        ),
        max_contracts_per_position=pos.max_contracts_per_position,
        greeks=greeks,
        cvar_caps=tuple((c.alpha, c.cap) for c in risk.cvar) if risk else (),
        var_caps=tuple((c.alpha, c.cap) for c in risk.var) if risk else (),
        monthly_cvar_caps=tuple((c.alpha, c.cap) for c in risk.monthly_cvar) if risk else (),
        drawdown_cap=(
            (risk.max_drawdown.alpha, risk.max_drawdown.cap)
            if risk is not None and risk.max_drawdown is not None
            else None
        ),
        stress_cap=risk.stress.cap if risk else None,
        success_probability=scenario.target.success_probability,
        chance_method=scenario.target.chance.method,
        target=scenario.target.monthly_income,
        notes=tuple(notes),
        extra=dict(scenario.caps),
    )


def allowed_products(scenario: Scenario, phase: int) -> dict[str, frozenset[str]]:
    """Per strategy listed in ``positions.products_by_phase``, the products the phase allows."""
    allowed = phase_tables.products_allowed(phase)
    out = {}
    for name in scenario.positions.products_by_phase:
        for sym in scenario.strategies[name].underlyings:
            get_instrument(sym)  # unknown symbols fail loudly here
        out[name] = frozenset(allowed)
    return out
