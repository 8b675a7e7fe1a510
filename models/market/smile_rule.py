"""The replay's IV rule checked against real option chains of other dates, and a VIX-shaped variant.

The replay (:mod:`models.measure.replay`) and the income engine (:mod:`models.measure.managed`) price every leg
with one rule: the SPX smile of 2026-01-30 at the leg's log-moneyness and tenor, shifted in
parallel by ``term_factor(t) (VIX - 17.44) / 100`` (:func:`models.measure.replay.chain_smile`,
:func:`models.measure.replay.leg_ivs`, :func:`models.measure.scenarios.term_factor`). This module measures that
rule on the real chains shipped in ``scenarios/data`` (:data:`SHIPPED_CHAINS`).

Method (:func:`compare_structures`)
    For a real chain of date ``d`` with VIX close ``V_d`` (Cboe, ``vix_daily_cboe_…csv.gz``) and
    each replay structure (:func:`models.measure.replay.fixed_moneyness_structures`: short put 0.95,
    iron condor 0.95/0.925 puts and 1.05/1.075 calls, LT112 +1P 0.93 / -1P 0.93 - 50/6939.03 /
    -2P 0.88) the real chain's listed expiry nearest the structure's nominal tenor is taken
    (30 days for the put and the condor, 120 for the LT112; a LT112 needs at least
    :data:`MIN_LT112_DAYS`). With that expiry's parity forward ``F`` and discount factor ``DF``
    (:class:`models.market.chain.OptionChain`), every leg has strike ``K = F m`` (log-moneyness
    ``ln m``, as :func:`~models.measure.replay.chain_smile` reads the smile) and two IVs:

    * **rule**: ``chain_smile`` of the reference surface at the *same* tenor ``t`` (the reference
      chain lists expiries from 3 days to 5.9 years, interpolated in total variance), passed
      through ``leg_ivs(base, t, V_d)`` — the replay's own functions;
    * **real**: the real chain's smile at its listed expiry, i.e. the mid-price IVs of its
      out-of-the-money quotes interpolated in ``k`` (:class:`models.market.chain.surface.ChainSurface`;
      NaN where ``K`` lies outside the expiry's quoted strikes).

    Both are priced by Black-76 on ``F`` with ``DF``; the table reports the credit (premium
    received, index points per share) under each and ``ratio = credit_rule / credit_real``.
    SPY is American: only OTM quotes enter its smile, and its European IVs from mids with the
    parity forward are an approximation (early-exercise premium of OTM options is small at
    these tenors).
Candidate rule (:class:`ShapeRule`)
    The rule's error is not a parallel level: at low VIX the real call wing sits several vol
    points above the shifted reference (2023-06-08, VIX 13.65: 5%-OTM 30-day call 9.6% real vs
    6.3% rule). The candidate moves the smile's shape with the VIX change::

        sigma(k, t; V) = sigma_ref(k, t) + s (1 + b0 + b1 x + b2 x^2),
        s = term_factor(t) (V - V_ref) / 100,   x = k sqrt((30/365) / t)

    (``x``: log-moneyness per 30-day square-root-of-time unit), i.e. ATM level, skew and
    curvature change linearly with the VIX move; ``b = 0`` is the current rule, and at
    ``V = V_ref`` every ``b`` reproduces the reference smile. ``b`` is fitted by least squares on
    the IV errors ``sigma_real - sigma_rule`` at the structures' strikes (:func:`fit_shape_rule`),
    and judged out of sample by leave-one-date-out (:func:`leave_one_date_out`) on the mean
    ``|ln(credit ratio)|``.

Result with the shipped data (``benchmarks/smile_rule.py``; ratio = rule credit / real credit)::

    chain             VIX    short put  iron condor  LT112    (DTE: 28-31 / 112-126)
    SPX 2023-04-10   18.97     1.007       0.730     1.013
    SPX 2023-05-05   17.19     0.935       0.860     0.878
    SPX 2023-05-19   16.81     0.956       0.850     0.956
    SPX 2023-05-23   18.53     0.960       0.972     0.972
    SPX 2023-05-26   17.95     1.038       1.043     0.999
    SPX 2023-06-08   13.65     0.972       0.834     1.102
    SPY 2025-05-16   17.24     1.367       1.082       -      (14 DTE; no LT112)
    SPX 2025-10-01   16.29     1.047       1.038     1.055    (198 DTE, the nearest listed)
    SPX 2026-01-30   17.44     1.000       1.000     1.000    (the reference itself)

The put-side structures are within -12%/+10% on the SPX chains; the condor is too cheap under the
rule on five of six 2023 dates (0.73-0.97) because the rule's call wing is too low (at VIX 13.65
the 1.05 and 1.075 30-day calls are 3.3 and 3.7 vol points under the market). Out of sample the
VIX-shaped rules do not do better: leave-one-date-out mean ``|ln ratio|`` 0.151 for the fitted
:class:`ShapeRule` against 0.089 for the current rule (0.090 with ``b0 = 0``), and the unfitted
:class:`ScaledSmileRule` (``p = 1``) 0.0845 against 0.0848 over all cells. The chains span VIX
13.7-19.0 only, with one low-VIX date; the call-wing gap is as much a 2023-vs-2026 difference in
the smile (2023-05-19, VIX 16.81 close to the reference, already has the call 1.7 points above the
rule) as a VIX effect. The replay keeps the current rule.

Sources: Cboe delayed-quotes exports and a Yahoo Finance chain (``scenarios/data/README.md``);
Black (1976) for the prices; Gatheral, *The Volatility Surface* (2006) for the total-variance
interpolation of the surfaces.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from models.market.chain import OptionChain, load_chain, read_quotes
from models.market.chain.surface import ChainSurface
from models.market.history import load_vix_history
from models.market.pricing import black76_price
from models.measure.replay import (
    REFERENCE_SPOT,
    REFERENCE_VIX,
    FixedStructure,
    chain_smile,
    fixed_moneyness_structures,
    leg_ivs,
)
from models.measure.scenarios import term_factor

__all__ = [
    "DATA_DIR",
    "MIN_LT112_DAYS",
    "REFERENCE_CHAIN",
    "SHIPPED_CHAINS",
    "VIX_FILE",
    "ChainSource",
    "ScaledSmileRule",
    "ShapeRule",
    "compare_structures",
    "comparison_table",
    "fit_shape_rule",
    "leave_one_date_out",
    "load_source",
    "reference_surface",
    "structure_credit",
    "vix_close",
]

DATA_DIR = Path(__file__).resolve().parents[2] / "scenarios" / "data"
"""Folder of the shipped market data (``scenarios/data``)."""

VIX_FILE = DATA_DIR / "vix_daily_cboe_1990-01-02_2026-07-23.csv.gz"

MIN_LT112_DAYS = 60.0
"""Shortest listed expiry (calendar days) on which the 120-day LT112 is compared."""

_X_DAYS = 30.0 / 365.0


@dataclass(frozen=True)
class ChainSource:
    """A shipped option chain and how to load it.

    Parameters
    ----------
    label : str
        Row label (``"SPX 2023-06-08"``).
    date : str
        Quote session (ISO date); its Cboe VIX close is the rule's input.
    files : tuple[str, ...]
        Paths relative to ``scenarios/data``; several files (one export per expiry) are merged.
    valuation_time : str
        Naive exchange-local time of the quotes (16:00 for closing quotes).
    spot : float or None
        Underlying price; ``None`` takes the Cboe export's ``Last:``.
    underlying : str
        Symbol (``SPX``/``SPY``).
    """

    label: str
    date: str
    files: tuple[str, ...]
    valuation_time: str
    spot: float | None = None
    underlying: str = "SPX"


REFERENCE_CHAIN = ChainSource(
    "SPX 2026-01-30 (reference)",
    "2026-01-30",
    ("spx_yahoo_chain_2026-01-30.csv.gz",),
    "2026-01-30T16:00",
    REFERENCE_SPOT,
)
"""The chain whose smile the replay shifts (Yahoo Finance, after the close; spot 6,939.03)."""

_LONGDATED = tuple(
    f"spx_cboe_2025-10-01_longdated/spx_quotedata_2025-10-01{s}.csv.gz"
    for s in ("", "-2", "-3", "-4", "-5", "-6", "-7", "-8", "-9", "-10", "_aug")
)

SHIPPED_CHAINS: tuple[ChainSource, ...] = tuple(
    ChainSource(f"SPX {d}", d, (f"spx_cboe_2023/spx_quotedata_{d}.csv.gz",), f"{d}T16:00")
    for d in ("2023-04-10", "2023-05-05", "2023-05-19", "2023-05-23", "2023-05-26", "2023-06-08")
) + (
    ChainSource(
        "SPY 2025-05-16",
        "2025-05-16",
        ("spy_quotedata_2025-05-16.csv.gz",),
        "2025-05-16T16:00",
        underlying="SPY",
    ),
    ChainSource("SPX 2025-10-01", "2025-10-01", _LONGDATED, "2025-10-01T16:00"),
)
"""Real chains other than the reference (``scenarios/data/README.md``). The 2023 SPX files are
Cboe exports downloaded after the close (2023-05-05 and 2023-05-19 on the following Saturday, so
their quotes are the Friday closes; the loader cannot read their ``Date:`` stamps, hence the
explicit valuation time). SPY 2025-05-16 has 0-14 day expiries only; SPX 2025-10-01 is 198-807
days only."""


# ----------------------------------------------------------------------------------------------
# Data


def load_source(source: ChainSource, data_dir: Path | str = DATA_DIR) -> OptionChain:
    """Load a :class:`ChainSource` (several files merged into one chain).

    Parameters
    ----------
    source : ChainSource
    data_dir : path
        Folder the source's files are relative to.

    Returns
    -------
    OptionChain
        Quotes cleaned, parity forwards and IVs from mids (:meth:`OptionChain.from_quotes`).
    """
    paths = [Path(data_dir) / f for f in source.files]
    if len(paths) == 1:
        return load_chain(
            paths[0],
            underlying=source.underlying,
            spot=source.spot,
            valuation_time=source.valuation_time,
        )
    raws, spot = [], source.spot
    for p in paths:
        raw, meta, _ = read_quotes(p)
        raws.append(raw)
        if spot is None:
            spot = meta.get("spot")
    return OptionChain.from_quotes(
        pd.concat(raws, ignore_index=True),
        underlying=source.underlying,
        valuation_time=source.valuation_time,
        spot=spot,
    )


def reference_surface(data_dir: Path | str = DATA_DIR) -> ChainSurface:
    """The smile surface of the reference chain (SPX 2026-01-30), as the replay loads it."""
    return load_source(REFERENCE_CHAIN, data_dir).surface()


def vix_close(date: str, path: Path | str = VIX_FILE) -> float:
    """Cboe VIX close of ``date`` (index points), from the shipped VIX history."""
    vix = load_vix_history(path)
    return float(vix.loc[pd.Timestamp(date)])


# ----------------------------------------------------------------------------------------------
# Rules


@dataclass(frozen=True)
class ShapeRule:
    """Leg IVs whose smile shape moves with the VIX change (module notes).

    ``sigma = max(sigma_ref(k, t) + s (1 + b0 + b1 x + b2 x^2), 0.01)`` with
    ``s = term_factor(t) (V - V_ref) / 100`` and ``x = k sqrt((30/365) / t)``.
    ``ShapeRule()`` (all ``b = 0``) is exactly :func:`models.measure.replay.leg_ivs`.

    Parameters
    ----------
    b0, b1, b2 : float
        Extra ATM level, skew and curvature per unit of the parallel shift ``s``
        (dimensionless; ``x`` in log-moneyness per 30-day square-root-of-time unit).
    """

    b0: float = 0.0
    b1: float = 0.0
    b2: float = 0.0

    @property
    def is_current(self) -> bool:
        """True for the replay's current rule (parallel shift)."""
        return self.b0 == 0.0 and self.b1 == 0.0 and self.b2 == 0.0

    def ivs(
        self,
        base_ivs: np.ndarray,
        k: np.ndarray,
        t: float,
        vix: float,
        reference_vix: float = REFERENCE_VIX,
    ) -> np.ndarray:
        """(L,) leg IVs (decimal) at log-moneyness ``k``, tenor ``t`` (years), VIX ``vix``.

        ``base_ivs`` are the reference smile's IVs at ``k`` and ``t``
        (:func:`models.measure.replay.chain_smile`).
        """
        base = np.asarray(base_ivs, dtype=float)
        if self.is_current:
            return leg_ivs(base, t, np.array([vix]), reference_vix)[0]
        s = float(term_factor(t)) * (float(vix) - reference_vix) / 100.0
        x = np.asarray(k, dtype=float) * math.sqrt(_X_DAYS / t)
        return np.maximum(base + s * (1.0 + self.b0 + self.b1 * x + self.b2 * x * x), 0.01)

    def leg_ivs(self, ref: ChainSurface, structure: FixedStructure, vix: float) -> np.ndarray:
        """(L,) leg IVs of ``structure`` (tenor ``structure.t``) on a day with VIX ``vix``.

        The reference smile is read by :func:`models.measure.replay.chain_smile` (the replay's reader).
        """
        _, base = chain_smile(ref, structure)
        return self.ivs(base, np.log(structure.moneyness), structure.t, vix)


@dataclass(frozen=True)
class ScaledSmileRule:
    """Smile read in standardized moneyness, its shape scaled by the ATM change (no fit).

    With ``a_ref = sigma_ref(0, t)`` and ``a = a_ref + term_factor(t) (V - V_ref) / 100`` (the
    current rule's ATM level), ``r = (a / a_ref)^p``::

        sigma(k, t; V) = a + r (sigma_ref(k / r, t) - a_ref)

    ``p = 0`` is the current rule; ``p = 1`` keeps the smile fixed in ``k / (a sqrt(t))`` and
    scales its vol-point depth with the ATM vol (a lower VIX narrows and flattens the smile).

    Parameters
    ----------
    p : float
        Exponent of the scaling (dimensionless).
    """

    p: float = 1.0

    def leg_ivs(self, ref: ChainSurface, structure: FixedStructure, vix: float) -> np.ndarray:
        """(L,) leg IVs (decimal) of ``structure`` on a day with VIX ``vix`` (index points)."""
        t = structure.t
        fwd = float(np.asarray(ref.forward(t)))
        a_ref = float(np.asarray(ref.iv(fwd, t)))
        a = max(a_ref + float(term_factor(t)) * (float(vix) - REFERENCE_VIX) / 100.0, 0.01)
        r = (a / a_ref) ** self.p
        k = np.log(structure.moneyness)
        dev = np.asarray(ref.iv(fwd * np.exp(k / r), t), dtype=float) - a_ref
        return np.maximum(a + r * dev, 0.01)


def structure_credit(
    forward: float, discount_factor: float, t: float, structure: FixedStructure, ivs: np.ndarray
) -> float:
    """Premium received for one unit of ``structure`` (price units per share).

    Strikes ``K = forward * m`` (each leg's moneyness ``m`` against the forward), Black-76 with
    rate ``-ln(DF) / t``; credit ``= -sum_legs q price`` (positive = received).

    Parameters
    ----------
    forward : float
        Forward of the expiry (price units).
    discount_factor : float
        Discount factor of the expiry.
    t : float
        Years to expiry.
    structure : FixedStructure
    ivs : np.ndarray
        (L,) leg IVs, decimal.
    """
    rate = -math.log(discount_factor) / t
    prices = black76_price(
        forward, forward * structure.moneyness, t, rate, np.asarray(ivs, float), structure.is_call
    )
    return float(-(prices * structure.quantity).sum())


def _expiry_for(chain: OptionChain, days: float) -> pd.Series:
    ex = chain.expiries
    i = int(np.argmin(np.abs(ex["t"].to_numpy() * 365.0 - days)))
    return ex.iloc[i]


def _real_ivs(surface: ChainSurface, row: pd.Series, k: np.ndarray) -> np.ndarray:
    """Real IVs at ``k`` on the listed expiry ``row``; NaN outside its quoted strikes."""
    t, fwd = float(row["t"]), float(row["forward"])
    iv = np.asarray(surface.iv(fwd * np.exp(k), t), dtype=float)
    nodes = surface.nodes
    kk = nodes.loc[nodes["expiry"] == row["expiry"], "k"].to_numpy()
    inside = (k >= kk.min() - 1e-12) & (k <= kk.max() + 1e-12)
    return np.where(inside, iv, np.nan)


def compare_structures(
    chain: OptionChain,
    vix: float,
    ref: ChainSurface,
    *,
    label: str = "",
    rules: dict[str, ShapeRule | ScaledSmileRule] | None = None,
    structures: tuple[FixedStructure, ...] | None = None,
) -> pd.DataFrame:
    """Rule vs real credits of the replay structures on one real chain (module notes).

    Parameters
    ----------
    chain : OptionChain
        The real chain.
    vix : float
        VIX close of the chain's session (index points).
    ref : ChainSurface
        The reference surface (:func:`reference_surface`).
    label : str
        Row label.
    rules : dict[str, ShapeRule | ScaledSmileRule], optional
        Rules to price with (anything with ``leg_ivs(ref, structure, vix)``); default ``{"rule": ShapeRule()}`` (the replay's rule).
    structures : tuple[FixedStructure, ...], optional
        Default :func:`models.measure.replay.fixed_moneyness_structures` (held to expiry).

    Returns
    -------
    DataFrame
        One row per structure: ``label, vix, structure, expiry, dte, forward, credit_real``
        and per rule ``credit_<name>`` and ``ratio_<name>`` (``credit_<name> / credit_real``;
        NaN when a leg has no real quote or the real credit is not positive); also
        ``iv_real`` and ``iv_<name>`` (tuples of leg IVs, decimal).
    """
    rules = {"rule": ShapeRule()} if rules is None else rules
    structures = fixed_moneyness_structures() if structures is None else structures
    surface = chain.surface()
    rows = []
    for st in structures:
        exp = _expiry_for(chain, st.days)
        dte = float(exp["t"]) * 365.0
        if st.days >= 90.0 and dte < MIN_LT112_DAYS:
            continue
        at = dataclasses.replace(st, days=dte)
        t = at.t
        k = np.log(at.moneyness)
        fwd, dfac = float(exp["forward"]), float(exp["discount_factor"])
        iv_real = _real_ivs(surface, exp, k)
        ok = bool(np.all(np.isfinite(iv_real)))
        credit_real = structure_credit(fwd, dfac, t, at, iv_real) if ok else math.nan
        row = {
            "label": label,
            "vix": float(vix),
            "structure": st.name,
            "expiry": pd.Timestamp(exp["expiry"]).date(),
            "dte": dte,
            "forward": fwd,
            "credit_real": credit_real,
            "iv_real": tuple(np.round(iv_real, 6)),
        }
        for name, rule in rules.items():
            iv = rule.leg_ivs(ref, at, vix)
            c = structure_credit(fwd, dfac, t, at, iv)
            row[f"credit_{name}"] = c
            row[f"ratio_{name}"] = c / credit_real if ok and credit_real > 0 else math.nan
            row[f"iv_{name}"] = tuple(np.round(iv, 6))
        rows.append(row)
    return pd.DataFrame(rows)


def comparison_table(
    sources: tuple[ChainSource, ...] = SHIPPED_CHAINS,
    *,
    rules: dict[str, ShapeRule | ScaledSmileRule] | None = None,
    include_reference: bool = True,
    data_dir: Path | str = DATA_DIR,
) -> pd.DataFrame:
    """:func:`compare_structures` on every shipped chain (and the reference chain itself).

    Returns
    -------
    DataFrame
        Rows of :func:`compare_structures`, sources in order, the reference last.
    """
    ref = reference_surface(data_dir)
    vix = load_vix_history(Path(data_dir) / VIX_FILE.name)
    srcs = tuple(sources) + ((REFERENCE_CHAIN,) if include_reference else ())
    frames = []
    for src in srcs:
        chain = load_source(src, data_dir)
        v = float(vix.loc[pd.Timestamp(src.date)])
        frames.append(compare_structures(chain, v, ref, label=src.label, rules=rules))
    return pd.concat(frames, ignore_index=True)


# ----------------------------------------------------------------------------------------------
# Fitting the shape rule


def _design(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Regressors ``s (1, x, x^2)`` and targets ``sigma_real - sigma_rule`` of unique legs."""
    rows, seen = [], set()
    structures = {s.name: s for s in fixed_moneyness_structures()}
    for r in table.itertuples(index=False):
        st = structures[r.structure]
        t = r.dte / 365.0
        s = float(term_factor(t)) * (r.vix - REFERENCE_VIX) / 100.0
        for m, real, rule in zip(st.moneyness, r.iv_real, r.iv_rule, strict=True):
            key = (r.label, r.dte, round(float(m), 6))
            if key in seen or not np.isfinite(real):
                continue
            seen.add(key)
            x = math.log(m) * math.sqrt(_X_DAYS / t)
            rows.append((s, s * x, s * x * x, real - rule))
    a = np.array(rows, dtype=float).reshape(-1, 4)
    return a[:, :3], a[:, 3]


def fit_shape_rule(table: pd.DataFrame, ridge: float = 0.0, *, level: bool = True) -> ShapeRule:
    """Least-squares ``b0, b1, b2`` of :class:`ShapeRule` from a comparison table.

    Fits ``sigma_real - sigma_rule = s (b0 + b1 x + b2 x^2)`` over the distinct legs (date,
    tenor, moneyness) of ``table`` (a :func:`comparison_table` with the ``rule`` column).

    Parameters
    ----------
    table : DataFrame
    ridge : float
        Optional ridge penalty on ``b`` (in units of ``s^2``; 0 = plain least squares).
    level : bool
        Fit ``b0`` too; ``False`` keeps the ATM shift of the current rule (``b0 = 0``).

    Returns
    -------
    ShapeRule
    """
    x, y = _design(table)
    cols = [0, 1, 2] if level else [1, 2]
    x = x[:, cols]
    if x.shape[0] < len(cols):
        raise ValueError("fit_shape_rule needs at least three legs with real IVs")
    lhs = x.T @ x + ridge * np.eye(len(cols))
    b = np.zeros(3)
    b[cols] = np.linalg.solve(lhs, x.T @ y)
    return ShapeRule(float(b[0]), float(b[1]), float(b[2]))


def _mean_abs_log(ratios: pd.Series) -> float:
    r = ratios.to_numpy(float)
    r = r[np.isfinite(r) & (r > 0)]
    return float(np.mean(np.abs(np.log(r)))) if r.size else math.nan


def leave_one_date_out(
    table: pd.DataFrame,
    ref: ChainSurface,
    chains: dict[str, tuple[OptionChain, float]],
    *,
    level: bool = True,
) -> pd.DataFrame:
    """Out-of-sample test of the fitted :class:`ShapeRule`, one held-out date at a time.

    For each label in ``chains`` (the reference date excluded): fit on the other dates' rows of
    ``table`` (:func:`fit_shape_rule`), price the held-out chain with the fitted rule, and
    compare mean ``|ln ratio|`` of the current and the fitted rule on that date.

    Parameters
    ----------
    table : DataFrame
        :func:`comparison_table` with the current rule (column ``ratio_rule``).
    ref : ChainSurface
        Reference surface.
    chains : dict
        ``{label: (chain, vix)}`` of the held-out candidates.
    level : bool
        Passed to :func:`fit_shape_rule`.

    Returns
    -------
    DataFrame
        ``label, vix, b0, b1, b2, mal_current, mal_fitted`` (mean absolute log ratio over the
        date's structures) and ``n`` (structures compared).
    """
    rows = []
    for label, (chain, v) in chains.items():
        train = table[(table["label"] != label)]
        rule = fit_shape_rule(train, level=level)
        held = compare_structures(
            chain, v, ref, label=label, rules={"rule": ShapeRule(), "fit": rule}
        )
        rows.append(
            {
                "label": label,
                "vix": v,
                "b0": rule.b0,
                "b1": rule.b1,
                "b2": rule.b2,
                "mal_current": _mean_abs_log(held["ratio_rule"]),
                "mal_fitted": _mean_abs_log(held["ratio_fit"]),
                "n": int(np.isfinite(held["ratio_rule"]).sum()),
            }
        )
    return pd.DataFrame(rows)
