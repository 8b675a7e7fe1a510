"""The phase-4 book's cost line, recomputed by hand from the fee files and the chain's bid/ask.

The reference reads ``models/data/fees.csv``, ``fee_tiers.csv`` and ``half_spreads.csv`` with the
csv module and the raw SPX chain file with pandas (not through :mod:`models.costs`), applies the
documented fill rules (entry: half of the half-spread; time/DTE exits: half; stops: the full
half-spread plus one tick per contract; targets: commissions only; expiry: exercise fees only),
the half-spread order (the chain's quote, else the half_spreads.csv row of the leg's product, DTE
bucket and ln(K/F) bucket, else the assumed value), the fee tiers (commission and exchange fee at
the leg's premium: entry at its price, target exit at ``1 - profit_target`` of it, stop / time
at its price; XSP exchange fee waived for an order of < 10 contracts, one order per unit) and
checks the per-trade inputs the income model used and the monthly cost line of the book.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.measure.managed import EXIT_REASONS
from optimizer.inputs.income_model import trade_cost_inputs

ROOT = Path(__file__).resolve().parents[2]
FEES = ROOT / "models" / "data" / "fees.csv"
CHAIN = ROOT / "scenarios" / "data" / "spx_yahoo_chain_2026-01-30.csv.gz"
TIERS = ROOT / "models" / "data" / "fee_tiers.csv"
SPREADS = ROOT / "models" / "data" / "half_spreads.csv"


@pytest.fixture(scope="module")
def book(phase4_run):
    """The shipped phase-4 book (its chance constraint is out of reach, so the book is the
    max-theta book without it)."""
    return phase4_run


def _fees() -> dict[str, dict[str, float]]:
    with FEES.open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r and not r["product"].startswith("#")]
    out = {}
    for r in rows:
        out[r["product"]] = {
            k: float(r[k])
            for k in (
                "commission",
                "exchange_fee",
                "clearing_fee",
                "regulatory_fee",
                "exercise_fee",
                "tick",
                "assumed_half_spread",
            )
        }
    return out


def _bound(raw: str, empty: float) -> float:
    return empty if raw == "" else float(raw)


def _tier_rows() -> dict[tuple[str, str], list[tuple[str, float, float, float]]]:
    with TIERS.open(newline="") as fh:
        out: dict[tuple[str, str], list] = {}
        for r in csv.DictReader(fh):
            out.setdefault((r["product"], r["component"]), []).append(
                (r["basis"], float(r["low"]), _bound(r["high"], math.inf), float(r["value"]))
            )
    return out


def _fill_fee(product: str, f: dict[str, float], premium: float, order: float) -> float:
    """commission + exchange (their tiers, else the flat fees.csv value) + clearing + regulatory."""
    tiers = _tier_rows()
    total = f["clearing_fee"] + f["regulatory_fee"]
    for comp in ("commission", "exchange_fee"):
        rows = tiers.get((product, comp))
        if not rows:
            total += f[comp]
            continue
        x = premium if rows[0][0] == "premium" else order
        total += next(v for _, lo, hi, v in rows if lo <= x < hi)
    return total


def _table_half_spread(product: str, dte: float, right: str, lnkf: float) -> float | None:
    with SPREADS.open(newline="") as fh:
        for r in csv.DictReader(fh):
            if (
                r["product"] == product
                and r["right"] == right
                and float(r["dte_min"]) <= dte <= _bound(r["dte_max"], math.inf)
                and _bound(r["lnkf_min"], -math.inf) <= lnkf < _bound(r["lnkf_max"], math.inf)
            ):
                return float(r["half_spread"])
    return None


def _chain_half_spread(expiry: pd.Timestamp, strike: float, right: str) -> float:
    raw = pd.read_csv(CHAIN)
    raw["exp"] = pd.to_datetime(raw["expiration"]).dt.date
    kind = "call" if right == "C" else "put"
    rows = raw[
        (raw["exp"] == expiry.date()) & (raw["option_type"] == kind) & (raw["strike"] == strike)
    ]
    assert len(rows) >= 1, (expiry, strike, right)
    return float(((rows["ask"] - rows["bid"]) / 2).max())


def test_trade_costs_of_the_book_by_hand(book):
    sc, prep, res = book
    fees = _fees()
    assert len(res.positions) > 0
    for _, row in res.positions.iterrows():
        c = prep.candidates.structures[row["id"]]
        f = fees[c.underlying]
        mult = float(row["multiplier"]) if "multiplier" in row else None
        mult = float(prep.candidates.table.set_index("id").loc[row["id"], "multiplier"])
        q = np.array([abs(leg.quantity) for leg in c.legs], dtype=float)
        per_side = f["commission"] + f["exchange_fee"] + f["clearing_fee"] + f["regulatory_fee"]
        target = sc.strategies[c.strategy].management.profit_target
        keep = 1.0 if target is None else max(0.0, 1.0 - target)
        order = sum(abs(leg.quantity) for leg in c.legs if leg.is_option)  # one unit per order

        def fees_at(scale: float, c=c, f=f, order=order, per_side=per_side) -> float:
            return sum(
                abs(leg.quantity) * _fill_fee(c.underlying, f, scale * leg.price, order)
                if leg.is_option
                else abs(leg.quantity) * per_side
                for leg in c.legs
            )

        def half(leg, c=c, f=f) -> float:
            if not leg.is_option:
                return f["tick"] / 2
            h = None
            if c.underlying in sc.market.chains:
                h = _chain_half_spread(pd.Timestamp(c.expiry), leg.strike, leg.right.value)
            if h is None:  # no chain: the measured / derived table row of the leg's bucket
                days = c.t * 365 + (leg.expiry - c.expiry).total_seconds() / 86400
                lnkf = math.log(leg.strike / c.forward)
                h = _table_half_spread(c.underlying, math.floor(days + 0.5), leg.right.value, lnkf)
            if h is None:
                h = f["assumed_half_spread"]
            return max(h, f["tick"] / 2)

        h = np.array([half(leg) for leg in c.legs])
        tc = trade_cost_inputs(sc, prep.market, c, mult)
        n = q.sum()
        assert tc.entry_commission == pytest.approx(fees_at(1.0), rel=1e-12)
        assert tc.entry_spread == pytest.approx(0.5 * float(q @ h) * mult, rel=1e-12)
        by = dict(zip(EXIT_REASONS[:5], range(5), strict=True))
        assert tc.exit_commission[by["target"]] == pytest.approx(fees_at(keep))
        assert tc.exit_commission[by["stop"]] == pytest.approx(fees_at(1.0))
        assert tc.exit_commission[by["time"]] == pytest.approx(fees_at(1.0))
        assert tc.exit_commission[by["delta"]] == pytest.approx(fees_at(1.0))
        assert tc.exit_spread[by["target"]] == 0.0
        assert tc.exit_spread[by["time"]] == pytest.approx(0.5 * float(q @ h) * mult)
        assert tc.exit_spread[by["stop"]] == pytest.approx(1.0 * float(q @ h) * mult)
        assert tc.exit_slippage[by["stop"]] == pytest.approx(1.0 * f["tick"] * n * mult)
        assert tc.exit_commission[by["expiry"]] == 0.0
        assert tc.exit_spread[by["expiry"]] == 0.0
        ex = [f["exercise_fee"] * abs(leg.quantity) for leg in c.legs if leg.is_option]
        assert tc.exercise_fee == pytest.approx(tuple(ex))
        usd = sc.account.currency != "USD"
        assert tc.fx_cost == (sc.costs.fx_cost if usd else 0.0)


def test_monthly_cost_line_of_the_book(book):
    sc, prep, res = book
    sim = prep.income.result
    ids = list(prep.income.ids)
    p = res.portfolio
    costs = p["costs_per_month"]
    parts = sum(costs[k] for k in ("commissions", "spread", "slippage", "fx"))
    assert costs["total"] == pytest.approx(parts)
    assert p["expected_monthly_income"] == pytest.approx(
        p["expected_monthly_income_gross"] - costs["total"]
    )
    assert p["expected_monthly_income"] <= p["expected_monthly_income_gross"]
    # each position's cost per month from its per-trade costs and simulated trade frequencies:
    # entries x (entry costs) + closes x (exit costs by reason); FX and exercise fees aside
    for _, row in res.positions.iterrows():
        k = ids.index(row["id"])
        c = prep.candidates.structures[row["id"]]
        mult = float(prep.candidates.table.set_index("id").loc[row["id"], "multiplier"])
        fx = float(prep.candidates.table.set_index("id").loc[row["id"], "fx"])
        tc = trade_cost_inputs(sc, prep.market, c, mult)
        tpm = sim.trades_per_month[k]
        ex = np.asarray(sim.exit_fractions[k])
        exits = np.asarray(tc.exit_commission) + np.asarray(tc.exit_spread)
        exits = exits + np.asarray(tc.exit_slippage)
        ex = ex[: len(exits)]
        if ex.size < len(exits):
            ex = np.pad(ex, (0, len(exits) - ex.size))
        # reasons beyond the five cost columns (vix, tested, distance) are costed as a delta exit
        extra = float(np.asarray(sim.exit_fractions[k])[len(exits) :].sum())
        per_trade = tc.entry_commission + tc.entry_spread + float(ex @ exits) + extra * exits[4]
        # a roll (strangle defence) adds two fills of the rolled leg's share of the entry cost
        n_opt = sum(abs(leg.quantity) for leg in c.legs if leg.is_option)
        share = 1.0 / n_opt if c.strategy == "strangle" else 0.0  # one contract of each side
        entry = tc.entry_commission + tc.entry_spread
        per_trade += float(sim.roll_fraction[k]) * 2.0 * share * entry
        # the 0DTE directional variant trades one spread (2 of the condor's 4 legs) on
        # one-sided days and pays that share of the costs (models/measure/managed.py)
        per_trade *= 1.0 - 0.5 * float(sim.one_sided_fraction[k])
        hand = fx * tpm * per_trade
        model = float(np.asarray(sim.costs_monthly[k])[:3].sum())
        # the exit mix is measured over all simulated trades (warm-up included) and long trades
        # opened in one month close in a later one: the two agree to sampling error
        tol = 0.01 if c.t < 1 / 365 else 0.06
        assert model == pytest.approx(hand, rel=tol, abs=1e-9)
