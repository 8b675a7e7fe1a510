"""Tom King account phases, VIX regime -> max buying power, position limits, correlation groups.

All numbers live in ``models/data/*.csv|yaml`` (sources per row there and in
``models/data/README.md``); this module only loads and queries them. Canonical variants only:

- phases (``phases.csv``): v17 / seed-1 NLV bands GBP 30-40k / 40-60k / 60-75k / 75k+, monthly
  targets GBP 3k / 5k / 7.5k / 10k, v17 phase BP targets (P1 40-50%, P2 55-65%, P3 60-75%, P4
  follows VIX), correlation-group limit 2 below GBP 75k and 3 from 75k (TK-PDF), total position
  cap 3 / 5 / 7 / 10 (HEAD variant, the only per-phase total quoted);
- VIX -> max BP (``vix_bp.csv``): the TK-PDF "Core Risk Management Matrix", half-open intervals
  ``[vix_low, vix_high)``; the 20% emergency reserve is separate (``risk_parameters.yaml``);
- seed-1 calculator VIX *size* multipliers (``vix_size_multipliers.csv``), a different quantity;
- max positions per strategy and phase (``max_positions.csv``, v17 "PDF p.36");
- correlation groups (``correlation_groups.csv``, TK-PDF with v17-code and thetaplan additions);
- v17 strangle product ladder (``products_by_phase.csv``).

Money is GBP (the Tom King account currency); BP values are fractions of net liquidation value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

import yaml

from models.errors import DataError, ModelError
from models.instruments import (
    finite_float,
    nonempty,
    optional_float,
    parse_cell,
    positive_float,
    read_reference_csv,
    upper_bound,
)

__all__ = [
    "STRATEGIES",
    "drawdown_protocol",
    "CorrelationGroup",
    "Phase",
    "ProtocolStep",
    "VixBand",
    "VixSizeBand",
    "correlation_groups",
    "count_unit",
    "emergency_reserve",
    "get_group",
    "get_phase",
    "group_for_symbol",
    "group_limit",
    "max_bp_fraction",
    "max_positions",
    "max_total_positions",
    "phase_for_nlv",
    "position_units",
    "phases",
    "products_allowed",
    "strategies_allowed",
    "vix_bands",
    "vix_crisis_protocol",
    "vix_size_multiplier",
]

Bound = Literal["low", "mid", "high"]

#: Strategy keys of ``max_positions.csv``, in file order.
STRATEGIES: tuple[str, ...] = (
    "zero_dte",
    "lt112",
    "strangle",
    "ipmcc",
    "leap_put",
    "ratio",
    "butterfly",
    "diagonal",
    "box",
)


@dataclass(frozen=True)
class Phase:
    """One account phase.

    Parameters
    ----------
    number : int
        1 to 4.
    name : str
        Short label (Foundation, Scaling, Optimization, Professional).
    nlv_low_gbp, nlv_high_gbp : float
        Net liquidation value band ``[low, high)`` in GBP; ``high`` is ``inf`` for phase 4.
    monthly_target_gbp : float
        Seed-1 monthly income target, GBP.
    max_bp_low, max_bp_high : float | None
        v17 phase BP target as fractions of NLV; None for phase 4 (follows the VIX table).
    correlation_group_limit : int
        Maximum positions per correlation group in this phase.
    max_total_positions : int
        Total open-position cap (HEAD variant, see the data README).
    source : str
        Where each column comes from.
    """

    number: int
    name: str
    nlv_low_gbp: float
    nlv_high_gbp: float
    monthly_target_gbp: float
    max_bp_low: float | None
    max_bp_high: float | None
    correlation_group_limit: int
    max_total_positions: int
    source: str


@dataclass(frozen=True)
class VixBand:
    """One row of the VIX -> max BP table, valid for ``vix_low <= VIX < vix_high``.

    ``max_bp_low`` / ``max_bp_high`` / ``mid_multiplier`` are fractions of NLV.
    """

    vix_low: float
    vix_high: float
    regime: str
    max_bp_low: float
    max_bp_high: float
    mid_multiplier: float
    note: str
    source: str

    def contains(self, vix: float) -> bool:
        """True when ``vix_low <= vix < vix_high``."""
        return self.vix_low <= vix < self.vix_high


@dataclass(frozen=True)
class VixSizeBand:
    """Seed-1 calculator position-size multiplier for ``vix_low <= VIX < vix_high``."""

    vix_low: float
    vix_high: float
    size_multiplier: float
    source: str


@dataclass(frozen=True)
class CorrelationGroup:
    """A Tom King correlation group.

    Parameters
    ----------
    group : str
        Id, ``A1`` ... ``E``.
    name : str
        Label.
    members : tuple of str
        TK-PDF members.
    limit : int
        TK-PDF per-group position limit (the phase limit may be lower, see :func:`group_limit`).
    v17_code_additions : tuple of str
        Symbols the v17 code adds.
    thetaplan_additions : tuple of str
        Symbols thetaplan maps into the group (SPX, SPXW, XSP into A1).
    source : str
        Provenance.
    """

    group: str
    name: str
    members: tuple[str, ...]
    limit: int
    v17_code_additions: tuple[str, ...]
    thetaplan_additions: tuple[str, ...]
    source: str

    @property
    def all_members(self) -> frozenset[str]:
        """Every symbol that counts toward this group (PDF + v17 code + thetaplan mapping)."""
        return frozenset(self.members + self.v17_code_additions + self.thetaplan_additions)


# ----------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------


def _int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("must be >= 0")
    return value


def _fraction(raw: str) -> float:
    value = finite_float(raw)
    if not 0.0 <= value <= 1.0:
        raise ValueError("must be a fraction in [0, 1]")
    return value


def _optional_fraction(raw: str) -> float | None:
    return None if raw == "" else _fraction(raw)


def _symbols(raw: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in raw.split(";") if s.strip())


@cache
def _phases() -> tuple[Phase, ...]:
    columns = ("phase",) + tuple(Phase.__dataclass_fields__)[1:]
    rows = read_reference_csv("phases.csv", columns)
    out = []
    for row in rows:
        out.append(
            Phase(
                number=parse_cell(row, "phase", int),
                name=parse_cell(row, "name", nonempty),
                nlv_low_gbp=parse_cell(row, "nlv_low_gbp", finite_float),
                nlv_high_gbp=parse_cell(row, "nlv_high_gbp", upper_bound),
                monthly_target_gbp=parse_cell(row, "monthly_target_gbp", positive_float),
                max_bp_low=parse_cell(row, "max_bp_low", _optional_fraction),
                max_bp_high=parse_cell(row, "max_bp_high", _optional_fraction),
                correlation_group_limit=parse_cell(row, "correlation_group_limit", _int),
                max_total_positions=parse_cell(row, "max_total_positions", _int),
                source=parse_cell(row, "source", nonempty),
            )
        )
    if [p.number for p in out] != list(range(1, len(out) + 1)):
        raise DataError("phases.csv: phases must be numbered 1, 2, ... in order")
    for prev, nxt in zip(out, out[1:], strict=False):
        if prev.nlv_high_gbp != nxt.nlv_low_gbp:
            raise DataError(
                f"phases.csv: NLV bands of phases {prev.number} and {nxt.number} leave a gap"
            )
    return tuple(out)


def _check_intervals(name: str, bands: list) -> None:
    if not bands or bands[0].vix_low != 0:
        raise DataError(f"{name}: the first interval must start at VIX 0")
    for prev, nxt in zip(bands, bands[1:], strict=False):
        if prev.vix_high != nxt.vix_low:
            raise DataError(
                f"{name}: intervals must be contiguous ({prev.vix_high} vs {nxt.vix_low})"
            )
    if not all(b.vix_low < b.vix_high for b in bands) or bands[-1].vix_high != math.inf:
        raise DataError(f"{name}: intervals must be increasing and end at +inf (empty cell)")


@cache
def _vix_bands() -> tuple[VixBand, ...]:
    rows = read_reference_csv("vix_bp.csv", tuple(VixBand.__dataclass_fields__))
    bands = [
        VixBand(
            vix_low=parse_cell(row, "vix_low", finite_float),
            vix_high=parse_cell(row, "vix_high", upper_bound),
            regime=parse_cell(row, "regime", nonempty),
            max_bp_low=parse_cell(row, "max_bp_low", _fraction),
            max_bp_high=parse_cell(row, "max_bp_high", _fraction),
            mid_multiplier=parse_cell(row, "mid_multiplier", _fraction),
            note=row["note"],
            source=parse_cell(row, "source", nonempty),
        )
        for row in rows
    ]
    _check_intervals("vix_bp.csv", bands)
    return tuple(bands)


@cache
def _vix_size_bands() -> tuple[VixSizeBand, ...]:
    rows = read_reference_csv("vix_size_multipliers.csv", tuple(VixSizeBand.__dataclass_fields__))
    bands = [
        VixSizeBand(
            vix_low=parse_cell(row, "vix_low", finite_float),
            vix_high=parse_cell(row, "vix_high", upper_bound),
            size_multiplier=parse_cell(row, "size_multiplier", positive_float),
            source=parse_cell(row, "source", nonempty),
        )
        for row in rows
    ]
    _check_intervals("vix_size_multipliers.csv", bands)
    return tuple(bands)


@cache
def _max_positions_table() -> tuple[dict[str, tuple[int, ...]], dict[str, tuple[str | None, ...]]]:
    n = len(_phases())
    cols = ("strategy",) + tuple(f"phase_{i}" for i in range(1, n + 1)) + ("count_unit_by_phase",)
    table: dict[str, tuple[int, ...]] = {}
    units: dict[str, tuple[str | None, ...]] = {}
    for row in read_reference_csv("max_positions.csv", cols):
        key = parse_cell(row, "strategy", nonempty)
        table[key] = tuple(parse_cell(row, f"phase_{i}", _int) for i in range(1, n + 1))
        raw = row["count_unit_by_phase"].strip()
        refs = tuple(s or None for s in (x.strip() for x in raw.split(";"))) if raw else (None,) * n
        if len(refs) != n:
            raise DataError(
                f"max_positions.csv: count_unit_by_phase of {key!r} needs {n} ';'-separated "
                f"symbols (or none), got {raw!r}"
            )
        units[key] = refs
    if tuple(table) != STRATEGIES:
        raise DataError(f"max_positions.csv: strategies must be {', '.join(STRATEGIES)} in order")
    return table, units


def _max_positions() -> dict[str, tuple[int, ...]]:
    return _max_positions_table()[0]


@cache
def _position_units() -> dict[str, tuple[float, str]]:
    out = {}
    for row in read_reference_csv("position_units.csv", ("symbol", "units", "reference", "source")):
        units = parse_cell(row, "units", positive_float)
        out[parse_cell(row, "symbol", nonempty)] = (units, parse_cell(row, "reference", nonempty))
    return out


@cache
def _groups() -> tuple[CorrelationGroup, ...]:
    rows = read_reference_csv(
        "correlation_groups.csv", tuple(CorrelationGroup.__dataclass_fields__)
    )
    groups = tuple(
        CorrelationGroup(
            group=parse_cell(row, "group", nonempty),
            name=parse_cell(row, "name", nonempty),
            members=parse_cell(row, "members", _symbols),
            limit=parse_cell(row, "limit", _int),
            v17_code_additions=_symbols(row["v17_code_additions"]),
            thetaplan_additions=_symbols(row["thetaplan_additions"]),
            source=parse_cell(row, "source", nonempty),
        )
        for row in rows
    )
    seen: dict[str, str] = {}
    for g in groups:
        for sym in g.all_members:
            if sym in seen:
                raise DataError(
                    f"correlation_groups.csv: {sym} is in both {seen[sym]} and {g.group}"
                )
            seen[sym] = g.group
    return groups


@cache
def _products() -> tuple[tuple[str, int], ...]:
    rows = read_reference_csv("products_by_phase.csv", ("symbol", "unlocked_in_phase", "source"))
    n = len(_phases())
    out = []
    for row in rows:
        phase = parse_cell(row, "unlocked_in_phase", int)
        if not 1 <= phase <= n:
            raise DataError(f"{row['__where__']}: unlocked_in_phase must be 1..{n}")
        out.append((parse_cell(row, "symbol", nonempty), phase))
    return tuple(out)


@cache
def _risk_parameters() -> dict:
    text = (resources.files("models") / "data" / "risk_parameters.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    try:
        value = optional_float(str(data["emergency_bp_reserve"]["value"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(
            f"risk_parameters.yaml: emergency_bp_reserve.value missing or bad ({exc})"
        ) from exc
    if value is None or not 0 <= value < 1:
        raise DataError("risk_parameters.yaml: emergency_bp_reserve.value must be in [0, 1)")
    try:
        crisis = data["vix_crisis_protocol"]
        protocol = (float(crisis["vix_above"]), tuple(str(t) for t in crisis["blocked_templates"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(
            f"risk_parameters.yaml: vix_crisis_protocol missing or bad ({exc})"
        ) from exc
    return {"emergency_bp_reserve": value, "vix_crisis_protocol": protocol}


# ----------------------------------------------------------------------------------------------
# Queries
# ----------------------------------------------------------------------------------------------


def _check_vix(vix: float) -> float:
    try:
        value = float(vix)
    except (TypeError, ValueError):
        raise ModelError(f"VIX must be a number, got {vix!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise ModelError(f"VIX must be a finite number >= 0, got {vix!r}")
    return value


def phases() -> tuple[Phase, ...]:
    """All phases, 1 to 4."""
    return _phases()


def get_phase(n: int) -> Phase:
    """Phase number ``n`` (1-4).

    Raises
    ------
    ModelError
        ``n`` is not a known phase number.
    """
    table = _phases()
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= len(table):
        raise ModelError(f"phase must be an integer 1..{len(table)}, got {n!r}")
    return table[n - 1]


def phase_for_nlv(nlv_gbp: float) -> int:
    """Phase of an account with net liquidation value ``nlv_gbp`` (GBP).

    Bands are half-open ``[low, high)``: GBP 40,000 is phase 2, GBP 75,000 is phase 4.

    Raises
    ------
    ModelError
        NLV not finite or below the phase-1 minimum (GBP 30,000).
    """
    try:
        nlv = float(nlv_gbp)
    except (TypeError, ValueError):
        raise ModelError(f"NLV must be a number (GBP), got {nlv_gbp!r}") from None
    if not math.isfinite(nlv):
        raise ModelError(f"NLV must be finite (GBP), got {nlv_gbp!r}")
    for phase in _phases():
        if phase.nlv_low_gbp <= nlv < phase.nlv_high_gbp:
            return phase.number
    low = _phases()[0].nlv_low_gbp
    raise ModelError(f"NLV GBP {nlv:,.0f} is below the phase-1 minimum of GBP {low:,.0f}")


def vix_bands() -> tuple[VixBand, ...]:
    """The canonical VIX -> max BP table, ordered, covering ``[0, inf)``."""
    return _vix_bands()


def max_bp_fraction(vix: float, *, bound: Bound = "low", phase: int | None = None) -> float:
    """Maximum buying-power usage as a fraction of NLV.

    Parameters
    ----------
    vix : float
        VIX level (>= 0). Bands are ``[low, high)``: VIX 13 is "13-18", VIX 30 is ">30".
    bound : {"low", "mid", "high"}
        Which end of the band; ``mid`` is the TK-PDF formula multiplier (0.45 / 0.65 / 0.775 /
        0.50 / 0.80).
    phase : int, optional
        When given and the phase has a v17 BP target (P1-P3), that target overrides the VIX
        table (domain.md section 4, "Phase BP targets"); phase 4 falls through to VIX.

    Returns
    -------
    float
        Fraction of NLV, before the 20% emergency reserve (:func:`emergency_reserve`).
    """
    value = _check_vix(vix)
    if bound not in ("low", "mid", "high"):
        raise ModelError(f"bound must be 'low', 'mid' or 'high', got {bound!r}")
    if phase is not None:
        p = get_phase(phase)
        if p.max_bp_low is not None and p.max_bp_high is not None:
            return {
                "low": p.max_bp_low,
                "mid": (p.max_bp_low + p.max_bp_high) / 2,
                "high": p.max_bp_high,
            }[bound]
    band = next(b for b in _vix_bands() if b.contains(value))
    return {"low": band.max_bp_low, "mid": band.mid_multiplier, "high": band.max_bp_high}[bound]


def emergency_reserve() -> float:
    """Fraction of buying power always kept free (TK-PDF: 0.20). Not applied by max_bp_fraction."""
    return _risk_parameters()["emergency_bp_reserve"]


def vix_crisis_protocol() -> tuple[float, tuple[str, ...]]:
    """The TK-PDF VIX > 30 protocol as data: ``(vix_above, blocked_templates)``.

    Above ``vix_above`` only put selling is allowed: strategies whose template is in
    ``blocked_templates`` (strangles, iron condors, call spreads) get max positions 0
    (``models/data/risk_parameters.yaml``; domain.md section 4).
    """
    return _risk_parameters()["vix_crisis_protocol"]


def position_units(symbol: str) -> float:
    """Size of one contract of ``symbol`` in full-size-equivalent units (MES 0.1, XSP 0.1 ...).

    From ``models/data/position_units.csv`` (contract specifications, one source per row).
    Symbols not listed are full-size products and count 1.0.
    """
    return _position_units().get(symbol, (1.0, symbol))[0]


def count_unit(strategy: str, phase: int) -> str | None:
    """Contract the phase's max-positions number of ``strategy`` is stated in.

    ``None`` = full-size units (ES, SPX, CL ...). The v17 table states the phase-2 LT112 limit
    (4) in MES units and the phase-3/4 limits in ES units (``count_unit_by_phase`` column of
    ``max_positions.csv``).

    Raises
    ------
    ModelError
        Unknown strategy key or phase.
    """
    p = get_phase(phase)
    units = _max_positions_table()[1]
    if strategy not in units:
        raise ModelError(f"unknown strategy {strategy!r}; known: {', '.join(units)}")
    return units[strategy][p.number - 1]


def max_total_positions(phase: int) -> int:
    """Total open positions allowed in ``phase`` (HEAD 3 / 5 / 7 / 10; ``phases.csv``)."""
    return get_phase(phase).max_total_positions


def vix_size_multiplier(vix: float) -> float:
    """Seed-1 calculator position-size multiplier (1.2 / 1.0 / 0.8 / 0.6), bands ``[low, high)``.

    This scales contract counts in ``monthlyIncomeCalculator.js``; it is not a BP limit.
    """
    value = _check_vix(vix)
    return next(b for b in _vix_size_bands() if b.vix_low <= value < b.vix_high).size_multiplier


def max_positions(strategy: str, phase: int) -> int:
    """v17 maximum open positions of ``strategy`` in ``phase``.

    Parameters
    ----------
    strategy : str
        One of :data:`STRATEGIES`.
    phase : int
        1-4.

    Raises
    ------
    ModelError
        Unknown strategy key or phase.
    """
    p = get_phase(phase)
    table = _max_positions()
    if strategy not in table:
        raise ModelError(f"unknown strategy {strategy!r}; known: {', '.join(table)}")
    return table[strategy][p.number - 1]


def strategies_allowed(phase: int) -> frozenset[str]:
    """Strategy keys with a non-zero position limit in ``phase``."""
    return frozenset(s for s in STRATEGIES if max_positions(s, phase) > 0)


def correlation_groups() -> list[CorrelationGroup]:
    """All correlation groups (A1 ... E), in file order."""
    return list(_groups())


def get_group(group: str) -> CorrelationGroup:
    """One correlation group by id; ModelError if unknown."""
    for g in _groups():
        if g.group == group:
            return g
    raise ModelError(
        f"unknown correlation group {group!r}; known: {', '.join(g.group for g in _groups())}"
    )


def group_for_symbol(symbol: str) -> CorrelationGroup | None:
    """The group a symbol counts toward, or None if it is in none."""
    return next((g for g in _groups() if symbol in g.all_members), None)


def group_limit(phase: int, group: str | None = None) -> int:
    """Maximum positions per correlation group in ``phase``.

    Parameters
    ----------
    phase : int
        1-4. The phase limit is 2 below GBP 75k and 3 from GBP 75k (TK-PDF overriding rule).
    group : str, optional
        When given, the result is ``min(phase limit, the group's own TK-PDF limit)`` (e.g. C2
        natural gas stays at 1 in phase 4) -- thetaplan's reading of the two rules.
    """
    limit = get_phase(phase).correlation_group_limit
    if group is not None:
        limit = min(limit, get_group(group).limit)
    return limit


def products_allowed(phase: int) -> frozenset[str]:
    """Symbols the v17 strangle product ladder unlocks up to and including ``phase``.

    Cumulative: phase 2 includes the phase-1 products. This ladder is for the futures/ETF
    strangle leg; it does not restrict 0DTE or LT112 underlyings (SPX, ES, MES...).
    """
    p = get_phase(phase)
    return frozenset(sym for sym, unlocked in _products() if unlocked <= p.number)


@dataclass(frozen=True)
class ProtocolStep:
    """One step of the drawdown protocol or the escalation levels (``drawdown_protocol.csv``).

    ``kind``: ``drawdown`` (fall from the peak, fraction of equity), ``daily_loss`` (one day's
    loss, fraction of net liquidation value) or ``vix`` (VIX close, index points); the step is
    reached when the measure is at or beyond ``threshold``.
    """

    kind: str
    threshold: float
    severity: str
    action: str
    source: str


@cache
def drawdown_protocol() -> tuple[ProtocolStep, ...]:
    """Steps of the TK drawdown protocol and the seed-1 escalation levels, by kind and threshold.

    Raises
    ------
    DataError
        Unreadable file, unknown kind or severity, non-numeric threshold.
    """
    rows = read_reference_csv(
        "drawdown_protocol.csv", ("kind", "threshold", "severity", "action", "source")
    )
    out = []
    for i, row in enumerate(rows, start=2):
        kind, sev = row["kind"], row["severity"]
        if kind not in ("drawdown", "daily_loss", "vix"):
            raise DataError(f"drawdown_protocol.csv line {i}: unknown kind {kind!r}")
        if sev not in ("info", "warning", "critical"):
            raise DataError(f"drawdown_protocol.csv line {i}: unknown severity {sev!r}")
        thr = parse_cell(row, "threshold", positive_float)
        out.append(ProtocolStep(kind, thr, sev, row["action"], row["source"]))
    return tuple(sorted(out, key=lambda s: (s.kind, s.threshold)))
