"""The phase-4 book's cost line, recomputed by hand from the fee file and the chain's bid/ask.

The reference reads ``models/data/fees.csv`` with the csv module and the raw SPX chain file with
pandas (not through :mod:`models.costs`), applies the documented fill rules (entry: half of the
half-spread; time/DTE exits: half; stops: the full half-spread plus one tick per contract;
targets: commissions only; expiry: exercise fees only) and checks the per-trade inputs the
income model used and the monthly cost line of the book.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.managed import EXIT_REASONS
from optimizer.income_model import trade_cost_inputs

ROOT = Path(__file__).resolve().parents[2]
FEES = ROOT / "models" / "data" / "fees.csv"
CHAIN = ROOT / "scenarios" / "data" / "spx_yahoo_chain_2026-01-30.csv.gz"


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
        per_side = f["commission"] + f["exchange_fee"] + f["clearing_fee"] + f["regulatory_fee"]
        q = np.array([abs(leg.quantity) for leg in c.legs], dtype=float)
        if c.underlying in sc.market.chains:
            h = np.array(
                [
                    max(
                        _chain_half_spread(pd.Timestamp(c.expiry), leg.strike, leg.right.value),
                        f["tick"] / 2,
                    )
                    for leg in c.legs
                ]
            )
        else:  # derived and synthetic surfaces have no quotes: the file's assumed half-spread
            h = np.full(len(c.legs), f["assumed_half_spread"])
        tc = trade_cost_inputs(sc, prep.market, c, mult)
        n = q.sum()
        assert tc.entry_commission == pytest.approx(per_side * n, rel=1e-12)
        assert tc.entry_spread == pytest.approx(0.5 * float(q @ h) * mult, rel=1e-12)
        by = dict(zip(EXIT_REASONS, range(5), strict=True))
        assert tc.exit_commission[by["target"]] == pytest.approx(per_side * n)
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
        hand = fx * tpm * (tc.entry_commission + tc.entry_spread + float(ex @ exits))
        model = float(np.asarray(sim.costs_monthly[k])[:3].sum())
        # the exit mix is measured over all simulated trades (warm-up included) and long trades
        # opened in one month close in a later one: the two agree to sampling error
        tol = 0.01 if c.t < 1 / 365 else 0.06
        assert model == pytest.approx(hand, rel=tol, abs=1e-9)
