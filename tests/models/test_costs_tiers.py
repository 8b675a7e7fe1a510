"""Issue 16: measured half-spreads, fee tiers by premium, the XSP small-order waiver.

The two iron condors below are costed **by hand**: the data rows are read with the csv module
(``models/data/fees.csv``, ``fee_tiers.csv``, ``half_spreads.csv``), checked against the literal
values written here, and the round trips are literal arithmetic from the rules of the
``models.costs`` docstring:

* half-spread of a leg without a quote = the ``half_spreads.csv`` row of (product, DTE bucket,
  right, ln(K/F) bucket); a 0DTE leg is in the 0-3 DTE bucket;
* entry spread = 0.5 x sum |q| h x 100; a profit-target exit pays no spread;
* per contract and fill: commission tier at the fill's premium (IBKR: 0.25 < 0.05 <= 0.50 <
  0.10 <= 0.65) + exchange fee (SPX: 0.36 below premium 1.00, 0.45 from 1.00; XSP: 0 for an
  order of < 10 contracts) + OCC 0.02 + ORF/TAF 0.02964;
* the target exit's premium of each leg = (1 - 0.5) x its entry premium (50% profit target);
* one order = one unit: a condor is an order of 4 contracts.

Both condors are 0DTE (entered 5.5 hours before the 2026-02-02 close), strikes at the same
log-moneyness: XSP forward 693.95, SPX forward 6939.5.
"""

from __future__ import annotations

import csv
import importlib.util
import math
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import models
from models.costs import (
    CostModel,
    build_half_spread_table,
    fee_schedule,
    fee_tiers,
    fees_for,
    fill_fees,
    half_spread_csv,
    half_spread_table,
    leg_half_spread_sources,
    leg_half_spreads,
    tiered_value,
    trade_costs,
)
from models.errors import DataError, ModelError
from models.legs import Leg, Right
from models.strategies import Candidate
from optimizer.inputs.income_model import trade_cost_inputs
from optimizer.inputs.spec import CostsSpec

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(models.__file__).parent / "data"
C, P = Right.CALL, Right.PUT
EXP = datetime(2026, 2, 2, 16, 0)
T_0DTE = 5.5 / 8760  # 5.5 hours, in years


def rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def fee_row(product: str) -> dict[str, float]:
    r = next(r for r in rows("fees.csv") if r["product"] == product)
    return {
        k: float(r[k]) for k in ("commission", "exchange_fee", "clearing_fee", "regulatory_fee")
    }


def spread_row(product: str, right: str, lnkf_min: str) -> dict[str, str]:
    hits = [
        r
        for r in rows("half_spreads.csv")
        if r["product"] == product
        and r["dte_min"] == "0"
        and r["right"] == right
        and r["lnkf_min"] == lnkf_min
    ]
    assert len(hits) == 1, (product, right, lnkf_min)
    return hits[0]


def tier_values(product: str, component: str) -> list[tuple[str, str, float]]:
    return [
        (r["low"], r["high"], float(r["value"]))
        for r in rows("fee_tiers.csv")
        if r["product"] == product and r["component"] == component
    ]


def condor(underlying: str, scale: float, premiums: tuple[float, float, float, float]):
    """-1P 689 +1P 683 -1C 699 +1C 705 (XSP; x 10 for SPX), 0DTE."""
    strikes = (689.0, 683.0, 699.0, 705.0)
    rights = (P, P, C, C)
    qty = (-1, +1, -1, +1)
    legs = tuple(
        Leg(r, k * scale, EXP, q, p)
        for r, k, q, p in zip(rights, strikes, qty, premiums, strict=True)
    )
    return Candidate(
        "ic", "zero_dte", "iron_condor", underlying, EXP, T_0DTE, 693.903 * scale,
        693.95 * scale, 1.0, 0.15, legs, (0.15,) * 4,
    )  # fmt: skip


XSP_PREMIUMS = (0.80, 0.30, 0.55, 0.08)
SPX_PREMIUMS = (8.00, 3.00, 5.50, 0.90)


def scenario_stub(profit_target: float = 0.5):
    mgmt = SimpleNamespace(profit_target=profit_target)
    return SimpleNamespace(
        costs=CostsSpec(),
        strategies={"zero_dte": SimpleNamespace(management=mgmt)},
        account=SimpleNamespace(currency="USD"),
    )


def round_trip_target(tc) -> float:
    """Entry + target exit of a TradeCostInputs (reason 0 = target)."""
    return tc.entry_commission + tc.entry_spread + tc.exit_commission[0] + tc.exit_spread[0]


# ------------------------------------------------------------------ the data rows used by hand


def test_the_data_rows_the_hand_computation_uses():
    # fees.csv: OCC clearing and ORF + FINRA TAF per contract per side
    for product in ("XSP", "SPX"):
        assert fee_row(product)["clearing_fee"] == 0.02
        assert fee_row(product)["regulatory_fee"] == 0.02964
    # fee_tiers.csv: IBKR commission by premium, Cboe exchange fees
    for product in ("XSP", "SPX"):
        assert tier_values(product, "commission") == [
            ("0", "0.05", 0.25),
            ("0.05", "0.1", 0.5),
            ("0.1", "", 0.65),
        ]
    assert tier_values("SPX", "exchange_fee") == [("0", "1", 0.36), ("1", "", 0.45)]
    assert tier_values("XSP", "exchange_fee") == [("0", "10", 0.0), ("10", "", 0.07)]
    assert {r["basis"] for r in rows("fee_tiers.csv") if r["product"] == "XSP"} == {
        "premium",
        "order_contracts",
    }
    # half_spreads.csv, 0-3 DTE rows of the four legs' buckets
    xsp = {
        "P689": spread_row("XSP", "P", "-0.015"),  # ln(689/693.95) = -0.0072
        "P683": spread_row("XSP", "P", "-0.03"),  # -0.0159
        "C699": spread_row("XSP", "C", "0.005"),  # +0.0073
        "C705": spread_row("XSP", "C", "0.015"),  # +0.0159
    }
    assert [float(r["half_spread"]) for r in xsp.values()] == [0.01, 0.01125, 0.01, 0.00625]
    assert xsp["P689"]["method"] == xsp["C699"]["method"] == "external"
    assert "issue 16 reviewer measurement of Cboe closing quotes" in xsp["P689"]["source"]
    assert xsp["P683"]["method"] == "derived" and "SPX row x 0.1" in xsp["P683"]["source"]
    spx = [
        spread_row("SPX", "P", "-0.015"),
        spread_row("SPX", "P", "-0.03"),
        spread_row("SPX", "C", "0.005"),
        spread_row("SPX", "C", "0.015"),
    ]
    assert [float(r["half_spread"]) for r in spx] == [0.2, 0.1125, 0.0875, 0.0625]
    assert {r["method"] for r in spx} == {"measured"}
    assert all("spx_yahoo_chain_2026-01-30" in r["source"] for r in spx)


# ------------------------------------------------------------------ the condors by hand

# XSP: entry premiums 0.80 / 0.30 / 0.55 / 0.08, target exit (50%) 0.40 / 0.15 / 0.275 / 0.04
XSP_ENTRY_SPREAD = 0.5 * (0.01 + 0.01125 + 0.01 + 0.00625) * 100  # 1.875
XSP_ENTRY_FEES = (0.65 + 0.65 + 0.65 + 0.50) + 4 * 0.0 + 4 * (0.02 + 0.02964)  # 2.64856
XSP_EXIT_FEES = (0.65 + 0.65 + 0.65 + 0.25) + 4 * 0.0 + 4 * (0.02 + 0.02964)  # 2.39856
XSP_ROUND_TRIP = XSP_ENTRY_SPREAD + XSP_ENTRY_FEES + XSP_EXIT_FEES  # 6.92212
# old model: assumed half-spread 0.03 on every leg, flat 0.65 + 0.07 + 0.04964 per contract
XSP_OLD = 0.5 * 4 * 0.03 * 100 + 2 * 4 * (0.65 + 0.07 + 0.02 + 0.02964)  # 12.15712

# SPX: entry premiums 8.00 / 3.00 / 5.50 / 0.90, target exit 4.00 / 1.50 / 2.75 / 0.45
SPX_ENTRY_SPREAD = 0.5 * (0.20 + 0.1125 + 0.0875 + 0.0625) * 100  # 23.125
SPX_ENTRY_FEES = 4 * 0.65 + (0.45 + 0.45 + 0.45 + 0.36) + 4 * (0.02 + 0.02964)  # 4.50856
SPX_EXIT_FEES = 4 * 0.65 + (0.45 + 0.45 + 0.45 + 0.36) + 4 * (0.02 + 0.02964)  # 4.50856
SPX_ROUND_TRIP = SPX_ENTRY_SPREAD + SPX_ENTRY_FEES + SPX_EXIT_FEES  # 32.14212
# old model: assumed half-spread 0.20, flat 0.65 + 0.45 + 0.04964
SPX_OLD = 0.5 * 4 * 0.20 * 100 + 2 * 4 * (0.65 + 0.45 + 0.02 + 0.02964)  # 49.19712


@pytest.mark.parametrize(
    ("product", "scale", "premiums", "spread", "entry_fees", "exit_fees", "total"),
    [
        ("XSP", 1.0, XSP_PREMIUMS, XSP_ENTRY_SPREAD, XSP_ENTRY_FEES, XSP_EXIT_FEES, 6.92212),
        ("SPX", 10.0, SPX_PREMIUMS, SPX_ENTRY_SPREAD, SPX_ENTRY_FEES, SPX_EXIT_FEES, 32.14212),
    ],
)
def test_condor_round_trip_by_hand(product, scale, premiums, spread, entry_fees, exit_fees, total):
    assert spread + entry_fees + exit_fees == pytest.approx(total, abs=1e-9)
    c = condor(product, scale, premiums)
    fees = fees_for(product)
    h = leg_half_spreads(c, None, fees=fees)
    costs = trade_costs(
        c, multiplier=100, half_spreads=h, fees=fees, model=CostModel(), profit_target=0.5
    )
    assert costs.entry_spread == pytest.approx(spread, abs=1e-9)
    assert costs.commission_open == pytest.approx(entry_fees, abs=1e-9)
    assert costs.exit_spread["target"] == 0.0
    assert costs.commission_close["target"] == pytest.approx(exit_fees, abs=1e-9)
    assert costs.round_trip("target") == pytest.approx(total, abs=1e-9)
    # the pipeline's per-trade inputs: no chain for the product -> the table rows
    tc = trade_cost_inputs(scenario_stub(0.5), SimpleNamespace(quotes={}), c, 100.0)
    assert round_trip_target(tc) == pytest.approx(total, abs=1e-9)
    assert tc.entry_commission == pytest.approx(entry_fees, abs=1e-9)
    assert tc.exit_commission[0] == pytest.approx(exit_fees, abs=1e-9)


def test_old_and_new_round_trips():
    assert XSP_OLD == pytest.approx(12.15712) and XSP_ROUND_TRIP == pytest.approx(6.92212)
    assert SPX_OLD == pytest.approx(49.19712) and SPX_ROUND_TRIP == pytest.approx(32.14212)


def test_the_sources_of_each_leg_are_named():
    c = condor("XSP", 1.0, XSP_PREMIUMS)
    src = leg_half_spread_sources(c, None, fees=fees_for("XSP"))
    assert all(s.startswith("half_spreads.csv line ") for s in src)
    assert [s.split("(")[-1] for s in src] == ["external)", "derived)", "external)", "derived)"]
    no_table = leg_half_spread_sources(c, None, fees=fees_for("XSP"), spreads=False)
    assert no_table == ["fees.csv assumed_half_spread (XSP)"] * 4


# ------------------------------------------------------------------ order size and tiers


def test_xsp_waiver_by_order_size():
    c = condor("XSP", 1.0, XSP_PREMIUMS)
    fees = fees_for("XSP")
    h = np.full(4, 0.01)
    kw = {"multiplier": 100, "half_spreads": h, "fees": fees, "model": CostModel()}
    one = trade_costs(c, **kw)  # an order of 4 contracts: no exchange fee
    two = trade_costs(c, units_per_order=2, **kw)  # 8 contracts: still waived
    three = trade_costs(c, units_per_order=3, **kw)  # 12 contracts: 0.07 per contract
    assert one.commission_open == pytest.approx(two.commission_open)
    assert three.commission_open == pytest.approx(one.commission_open + 4 * 0.07)
    with pytest.raises(ModelError, match="units_per_order"):
        trade_costs(c, units_per_order=0, **kw)


def test_spx_exchange_fee_and_commission_by_premium():
    spx = fees_for("SPX")
    assert tiered_value(spx, "exchange_fee", premium=0.99) == 0.36
    assert tiered_value(spx, "exchange_fee", premium=1.00) == 0.45
    assert tiered_value(spx, "commission", premium=0.049) == 0.25
    assert tiered_value(spx, "commission", premium=0.05) == 0.50
    assert tiered_value(spx, "commission", premium=0.10) == 0.65
    assert tiered_value(spx, "tick", premium=3.0) == 0.10
    es = fees_for("ES")  # futures options: no commission tiers, the flat fees.csv values
    assert tiered_value(es, "commission", premium=0.01) == es.commission
    assert fill_fees(es, premium=0.01) == pytest.approx(es.per_side)
    assert fill_fees(spx, premium=5.0) == pytest.approx(spx.per_side)  # top tiers = fees.csv


def test_no_profit_target_exits_at_the_entry_tier():
    c = condor("XSP", 1.0, XSP_PREMIUMS)
    fees = fees_for("XSP")
    costs = trade_costs(
        c, multiplier=100, half_spreads=np.full(4, 0.01), fees=fees, model=CostModel()
    )
    assert costs.commission_close["target"] == pytest.approx(costs.commission_open)
    assert costs.commission_close["stop"] == pytest.approx(costs.commission_open)
    assert costs.commission_close["expiry"] == 0.0


def test_tier_file_covers_every_premium_and_names_its_products():
    known = fee_schedule()
    for product, comps in fee_tiers().items():
        assert product in known, product
        for tiers in comps.values():
            assert tiers[0].low == 0 and math.isinf(tiers[-1].high)
            assert all(t.source for t in tiers)


def test_bad_tier_files_raise(tmp_path):
    text = (DATA / "fee_tiers.csv").read_text(encoding="utf-8").splitlines()
    gap = [ln for ln in text if not ln.startswith("SPX,commission,premium,0.05,")]
    path = tmp_path / "fee_tiers.csv"
    path.write_text("\n".join(gap) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="SPX commission.*gap"):
        fee_tiers(path)
    no_top = [ln for ln in text if not ln.startswith("SPX,commission,premium,0.1,")]
    path.write_text("\n".join(no_top) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"cover \[0, inf\)"):
        fee_tiers(path)
    bad = [text[0], text[1].replace(",commission,", ",rebate,"), *text[2:]]
    path.write_text("\n".join(bad) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 2, column component"):
        fee_tiers(path)


# ------------------------------------------------------------------ the table


def test_half_spread_rows_are_sourced_and_floored():
    table = half_spread_table()
    known = fee_schedule()
    f = table.frame
    assert set(f["method"]) == {"measured", "derived", "external"}
    assert (f["source"].str.len() > 0).all()
    for rec in f.itertuples():
        assert rec.product in known
        assert rec.half_spread >= known[rec.product].tick / 2 - 1e-12
    assert set(f["product"]) == {"SPX", "SPXW", "XSP", "ES", "MES", "SPY"}


def test_table_lookup_and_zero_dte_bucket():
    table = half_spread_table()
    h, src = table.lookup("SPX", dte=0, right="P", lnkf=-0.01)
    assert h == 0.2 and "(measured)" in src
    assert table.lookup("SPX", dte=3, right="P", lnkf=-0.01)[0] == 0.2  # the Monday expiry
    assert math.isnan(table.lookup("QQQ", dte=0, right="P", lnkf=-0.01)[0])
    # a 0DTE SPX leg without a quote takes the 0-3 DTE row, not the fee file's 0.20 assumption
    c = condor("SPX", 10.0, SPX_PREMIUMS)
    np.testing.assert_allclose(
        leg_half_spreads(c, None, fees=fees_for("SPX")), [0.2, 0.1125, 0.0875, 0.0625]
    )


def _measure_script():
    path = ROOT / "benchmarks" / "measure_spreads.py"
    spec = importlib.util.spec_from_file_location("measure_spreads", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_table_reproduces_from_the_shipped_chains():
    text = _measure_script().table_text()
    assert text == (DATA / "half_spreads.csv").read_text(encoding="utf-8")


def test_external_rows_must_hit_a_bucket():
    mod = _measure_script()
    bad = (("XSP", 0, "P", -0.777, 0.01, "nowhere"),)
    with pytest.raises(DataError, match="external half-spread"):
        build_half_spread_table(mod.chains(), external=bad)
    assert (
        half_spread_csv(build_half_spread_table(mod.chains(), external=())).count("external") == 0
    )


# ------------------------------------------------------------------ properties


@settings(max_examples=60, deadline=None)
@given(
    prem=st.lists(st.floats(0, 20, allow_nan=False), min_size=4, max_size=4),
    h=st.lists(st.floats(0, 2, allow_nan=False), min_size=4, max_size=4),
    f=st.lists(st.floats(0, 1, allow_nan=False), min_size=2, max_size=2),
    target=st.floats(0.05, 1.0),
    product=st.sampled_from(["XSP", "SPX", "ES"]),
)
def test_tiered_costs_nonnegative_and_monotone(prem, h, f, target, product):
    c = condor(product, 1.0 if product == "XSP" else 10.0, tuple(prem))
    fees = fees_for(product)
    lo, hi = sorted(f)
    kw = {"multiplier": 100, "half_spreads": h, "fees": fees, "profit_target": target}
    a = trade_costs(c, model=CostModel(lo), **kw)
    b = trade_costs(c, model=CostModel(hi), **kw)
    for costs in (a, b):
        assert costs.entry_spread >= 0 and costs.commission_open > 0
        assert np.all(costs.exit_array() >= 0)
        # the target exit trades at lower premiums: never a higher fee tier than the entry
        assert costs.commission_close["target"] <= costs.commission_open + 1e-12
    assert a.entry_spread <= b.entry_spread + 1e-9


@settings(max_examples=60, deadline=None)
@given(p=st.floats(0, 50, allow_nan=False), dp=st.floats(0, 10, allow_nan=False))
def test_fill_fees_nondecreasing_in_premium(p, dp):
    for product in ("SPX", "XSP", "SPY", "MES"):
        fees = fees_for(product)
        assert 0 < fill_fees(fees, premium=p) <= fill_fees(fees, premium=p + dp) + 1e-12
