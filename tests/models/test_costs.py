"""Trading costs and liquidity (models.costs), checked with hand-worked numbers.

The SPX iron condor -1P6850 +1P6820 -1C7030 +1C7060 (expiry 2026-02-02) is quoted by hand:
half-spreads 0.40, 0.20, 0.30, 0.20 points. With the default CostModel (half of the half-spread at
entry and at a time exit, all of it plus one tick per contract at a stop) and multiplier 100:

* entry spread   = 0.5 x (0.40 + 0.20 + 0.30 + 0.20) x 100 = 55.00
* stop spread    = (1.0 x 1.10 + 1 tick 0.05 x 4 contracts) x 100 = 130.00
* commissions    = 4 contracts x (commission + exchange + clearing + regulatory) of the SPX row,
  read here with the csv module, independently of the loader.
"""

from __future__ import annotations

import csv
import io
import math
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import models
from models.costs import (
    EXIT_REASONS,
    CostModel,
    exercise_costs,
    fee_schedule,
    fees_for,
    leg_half_spreads,
    liquidity_reason,
    trade_costs,
)
from models.errors import DataError, ModelError
from models.instruments import all_instruments
from models.legs import Leg, Right
from models.strategies import Candidate

C, P, U = Right.CALL, Right.PUT, Right.UNDERLYING
EXP = datetime(2026, 2, 2, 16, 0)
FEES_CSV = Path(models.__file__).parent / "data" / "fees.csv"


def candidate(legs, underlying="SPX", expiry=EXP) -> Candidate:
    return Candidate(
        "x", "s", "t", underlying, expiry, 3 / 365, 6940.0, 6941.0, 1.0, 0.15, tuple(legs),
        tuple(0.15 for _ in legs),
    )  # fmt: skip


def condor() -> Candidate:
    return candidate(
        [
            Leg(P, 6850.0, EXP, -1, 12.0),
            Leg(P, 6820.0, EXP, +1, 9.0),
            Leg(C, 7030.0, EXP, -1, 8.0),
            Leg(C, 7060.0, EXP, +1, 5.5),
        ]
    )


def quotes(rows=None) -> pd.DataFrame:
    rows = rows or [
        ("2026-02-02", 6820.0, "P", 8.8, 9.2, 500.0),
        ("2026-02-02", 6850.0, "P", 11.6, 12.4, 800.0),
        ("2026-02-02", 6860.0, "P", 12.5, 13.5, 700.0),
        ("2026-02-02", 7030.0, "C", 7.7, 8.3, 600.0),
        ("2026-02-02", 7060.0, "C", 5.3, 5.7, 900.0),
        ("2026-02-03", 6850.0, "P", 10.0, 20.0, 1.0),  # another expiry: never used
    ]
    return pd.DataFrame(rows, columns=["expiry", "strike", "right", "bid", "ask", "open_interest"])


def csv_row(product: str) -> dict[str, str]:
    with FEES_CSV.open(encoding="utf-8") as fh:
        return next(r for r in csv.DictReader(fh) if r["product"] == product)


def per_side_by_hand(product: str) -> float:
    r = csv_row(product)
    return sum(
        float(r[c]) for c in ("commission", "exchange_fee", "clearing_fee", "regulatory_fee")
    )


# ----------------------------------------------------------------------------- fee schedule


def test_every_instrument_has_a_fee_row_in_its_currency():
    table = fee_schedule()
    for inst in all_instruments():
        assert inst.symbol in table, inst.symbol
        assert table[inst.symbol].currency == inst.currency


def test_fee_rows_are_sourced_and_sane():
    for fees in fee_schedule().values():
        assert fees.source and fees.broker
        assert fees.tick > 0
        assert fees.assumed_half_spread >= fees.tick / 2
        assert 0 < fees.per_side < 5  # USD per contract per side


def test_fees_for_is_case_insensitive_and_names_the_file():
    assert fees_for("spx") is fees_for("SPX")
    with pytest.raises(DataError, match=r"'NOPE'.*fees\.csv"):
        fees_for("NOPE")


def _tmp_copy(tmp_path, edit) -> Path:
    lines = FEES_CSV.read_text(encoding="utf-8").splitlines()
    path = tmp_path / "fees.csv"
    path.write_text("\n".join(edit(lines)) + "\n", encoding="utf-8")
    return path


def _set_cell(line: str, column: str, value: str) -> str:
    header = next(csv.reader([FEES_CSV.read_text().splitlines()[0]]))
    cells = next(csv.reader([line]))
    cells[header.index(column)] = value
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(cells)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("commission", "-0.1", r"line 2, column commission.*must be >= 0"),
        ("exchange_fee", "nan", r"line 2, column exchange_fee.*not finite"),
        ("regulatory_fee", "abc", r"line 2, column regulatory_fee"),
        ("tick", "0", r"line 2, column tick.*must be > 0"),
        ("assumed_half_spread", "inf", r"line 2, column assumed_half_spread"),
        ("as_of", "2024-13-01", r"line 2, column as_of"),
        ("source", "", r"line 2, column source"),
    ],
)
def test_bad_cells_raise_data_error_naming_row_and_column(tmp_path, column, value, message):
    path = _tmp_copy(tmp_path, lambda ls: [ls[0], _set_cell(ls[1], column, value), *ls[2:]])
    with pytest.raises(DataError, match=message):
        fee_schedule(path)


def test_duplicate_product_and_missing_column_raise(tmp_path):
    dup = _tmp_copy(tmp_path, lambda ls: [*ls, ls[1]])
    with pytest.raises(DataError, match=r"duplicate product SPX"):
        fee_schedule(dup)
    no_tick = _tmp_copy(tmp_path, lambda ls: [ls[0].replace(",tick,", ",tock,"), *ls[1:]])
    with pytest.raises(DataError, match=r"missing column\(s\) tick"):
        fee_schedule(no_tick)


def test_a_path_is_read_fresh(tmp_path):
    path = _tmp_copy(tmp_path, lambda ls: [ls[0], _set_cell(ls[1], "commission", "9"), *ls[2:]])
    assert fee_schedule(path)["SPX"].commission == 9.0
    assert fees_for("SPX", path=path).commission == 9.0
    assert fee_schedule()["SPX"].commission == float(csv_row("SPX")["commission"])


# ----------------------------------------------------------------------------- half-spreads


def test_half_spreads_from_the_chain():
    h = leg_half_spreads(condor(), quotes(), fees=fees_for("SPX"))
    np.testing.assert_allclose(h, [0.40, 0.20, 0.30, 0.20])


def test_nearest_listed_strike_and_ties_go_to_the_wider_quote():
    spx = fees_for("SPX")
    near = candidate([Leg(P, 6852.0, EXP, -1, 12.0)])
    assert leg_half_spreads(near, quotes(), fees=spx)[0] == pytest.approx(0.40)  # 6850
    tie = candidate([Leg(P, 6855.0, EXP, -1, 12.0)])  # 6850 (0.40) and 6860 (0.50)
    assert leg_half_spreads(tie, quotes(), fees=spx)[0] == pytest.approx(0.50)


def test_expiry_matched_by_calendar_date_not_time():
    q = quotes()
    q["expiry"] = pd.to_datetime(q["expiry"]) + pd.Timedelta(hours=16)
    h = leg_half_spreads(condor(), q, fees=fees_for("SPX"))
    np.testing.assert_allclose(h, [0.40, 0.20, 0.30, 0.20])


def test_missing_quotes_use_the_assumed_half_spread_without_a_table():
    # spreads=False: no half_spreads.csv table, so quote -> fees.csv assumed value
    spx = fees_for("SPX")
    assumed = float(csv_row("SPX")["assumed_half_spread"])
    kw = {"fees": spx, "spreads": False}
    np.testing.assert_allclose(leg_half_spreads(condor(), None, **kw), [assumed] * 4)
    other_day = quotes([("2026-02-03", 6850.0, "P", 11.0, 12.0, 10.0)])
    np.testing.assert_allclose(leg_half_spreads(condor(), other_day, **kw), [assumed] * 4)
    only_puts = quotes()[lambda d: d["right"] == "P"]
    np.testing.assert_allclose(
        leg_half_spreads(condor(), only_puts, **kw), [0.40, 0.20, assumed, assumed]
    )


def test_floor_at_half_a_tick_and_underlying_legs():
    es = fees_for("ES")
    c = candidate(
        [Leg(U, math.nan, None, 1, 6900.0), Leg(C, 7030.0, EXP, -1, 8.0)], underlying="ES"
    )
    locked = quotes([("2026-02-02", 7030.0, "C", 8.0, 8.0, 10.0)])
    np.testing.assert_allclose(leg_half_spreads(c, locked, fees=es), [es.tick / 2, es.tick / 2])


def test_own_root_preferred_when_present():
    rows = [
        ("2026-02-02", 6850.0, "P", 11.0, 13.0, 1.0, "SPX"),
        ("2026-02-02", 6850.0, "P", 11.9, 12.1, 1.0, "SPXW"),
    ]
    q = pd.DataFrame(
        rows, columns=["expiry", "strike", "right", "bid", "ask", "open_interest", "root"]
    )
    leg = Leg(P, 6850.0, EXP, -1, 12.0)
    spx = fees_for("SPX")
    assert leg_half_spreads(candidate([leg], "SPXW"), q, fees=spx)[0] == pytest.approx(0.10)
    assert leg_half_spreads(candidate([leg], "SPX"), q, fees=spx)[0] == pytest.approx(1.00)


def test_quotes_without_required_columns_raise():
    with pytest.raises(DataError, match="bid"):
        leg_half_spreads(condor(), quotes().drop(columns="bid"), fees=fees_for("SPX"))


# ----------------------------------------------------------------------------- trade costs


def test_iron_condor_costs_by_hand():
    spx = fees_for("SPX")
    c = condor()
    h = leg_half_spreads(c, quotes(), fees=spx)
    costs = trade_costs(c, multiplier=100, half_spreads=h, fees=spx, model=CostModel())
    fees4 = 4 * per_side_by_hand("SPX")
    assert costs.currency == "USD"
    assert costs.entry_spread == pytest.approx(0.5 * (0.40 + 0.20 + 0.30 + 0.20) * 100)  # 55
    assert costs.commission_open == pytest.approx(fees4)
    assert costs.exit_spread["target"] == 0.0
    assert costs.exit("target") == pytest.approx(fees4)  # a resting limit: commissions only
    assert costs.exit_spread["stop"] == pytest.approx((1.10 + 1 * 0.05 * 4) * 100)  # 130
    assert costs.exit("stop") == pytest.approx(130.0 + fees4)
    assert costs.exit_spread["time"] == pytest.approx(55.0)
    assert costs.exit("expiry") == 0.0
    assert costs.round_trip("stop") == pytest.approx(55.0 + fees4 + 130.0 + fees4)
    np.testing.assert_allclose(costs.exit_array(), [fees4, 130.0 + fees4, 55.0 + fees4, 0.0])
    text = costs.describe()
    assert all(r in text for r in EXIT_REASONS) and "55.00" in text


def test_cost_model_fractions_and_slippage():
    spx = fees_for("SPX")
    c = condor()
    h = np.array([0.40, 0.20, 0.30, 0.20])
    model = CostModel(
        spread_fraction=0.0, exit_fraction=1.0, stop_fraction=0.5, stop_slippage_ticks=2
    )
    costs = trade_costs(c, multiplier=100, half_spreads=h, fees=spx, model=model)
    assert costs.entry_spread == 0.0  # mid fills
    assert costs.exit_spread["time"] == pytest.approx(110.0)  # natural price
    assert costs.exit_spread["stop"] == pytest.approx((0.5 * 1.10 + 2 * 0.05 * 4) * 100)


def test_quantities_and_underlying_legs_count_as_fills():
    mes = fees_for("MES")
    lt112 = candidate(
        [
            Leg(P, 6500.0, EXP, +1, 20.0),
            Leg(P, 6450.0, EXP, -1, 17.0),
            Leg(P, 6100.0, EXP, -2, 8.0),
            Leg(U, math.nan, None, 1, 6940.0),
        ],
        underlying="MES",
    )
    h = np.array([0.5, 0.5, 0.25, 0.125])
    costs = trade_costs(lt112, multiplier=5, half_spreads=h, fees=mes, model=CostModel())
    contracts = 1 + 1 + 2 + 1
    assert costs.commission_open == pytest.approx(contracts * per_side_by_hand("MES"))
    assert costs.entry_spread == pytest.approx(0.5 * (0.5 + 0.5 + 2 * 0.25 + 0.125) * 5)


def test_bad_inputs_raise():
    spx = fees_for("SPX")
    with pytest.raises(ModelError, match="half_spreads"):
        trade_costs(condor(), multiplier=100, half_spreads=[0.1, 0.2], fees=spx, model=CostModel())
    with pytest.raises(ModelError, match="half_spreads"):
        trade_costs(condor(), multiplier=100, half_spreads=[-0.1] * 4, fees=spx, model=CostModel())
    with pytest.raises(ModelError, match="multiplier"):
        trade_costs(condor(), multiplier=0, half_spreads=[0.1] * 4, fees=spx, model=CostModel())
    with pytest.raises(ModelError, match="spread_fraction"):
        CostModel(spread_fraction=-0.1)
    with pytest.raises(ModelError, match="fx_cost"):
        CostModel(fx_cost=math.nan)
    with pytest.raises(ModelError, match="exit reason"):
        trade_costs(
            condor(), multiplier=100, half_spreads=[0.1] * 4, fees=spx, model=CostModel()
        ).exit("assignment")


@settings(max_examples=60, deadline=None)
@given(
    h=st.lists(st.floats(0, 5, allow_nan=False), min_size=4, max_size=4),
    f=st.lists(st.floats(0, 1, allow_nan=False), min_size=2, max_size=2),
    other=st.tuples(st.floats(0, 2), st.floats(0, 2), st.floats(0, 3)),
)
def test_costs_nonnegative_and_monotone_in_spread_fraction(h, f, other):
    spx = fees_for("SPX")
    lo, hi = sorted(f)
    exit_f, stop_f, ticks = other
    kw = {"exit_fraction": exit_f, "stop_fraction": stop_f, "stop_slippage_ticks": ticks}
    a = trade_costs(condor(), multiplier=100, half_spreads=h, fees=spx, model=CostModel(lo, **kw))
    b = trade_costs(condor(), multiplier=100, half_spreads=h, fees=spx, model=CostModel(hi, **kw))
    for costs in (a, b):
        assert costs.entry_spread >= 0 and costs.commission_open > 0
        assert np.all(costs.exit_array() >= 0)
    assert a.entry_spread <= b.entry_spread + 1e-9
    np.testing.assert_allclose(a.exit_array(), b.exit_array())  # exits do not depend on it


# ----------------------------------------------------------------------------- exercise, FX


def test_exercise_fees_per_path():
    es = fees_for("ES")
    c = candidate(
        [
            Leg(P, 6850.0, EXP, -2, 12.0),
            Leg(P, 6820.0, EXP, +1, 9.0),
            Leg(U, math.nan, None, 1, 6940.0),
        ],
        underlying="ES",
    )
    itm = np.array([[True, True, False], [True, False, False], [True, True, True]])
    got = exercise_costs(c, itm, multiplier=50, fees=es)
    fee = float(csv_row("ES")["exercise_fee"])
    np.testing.assert_allclose(got, [3 * fee, 2 * fee, 0.0])  # the underlying leg never counts
    np.testing.assert_allclose(
        exercise_costs(c, [True, False, True], multiplier=50, fees=es), [2 * fee]
    )
    assert np.all(
        exercise_costs(condor(), np.ones((4, 2), bool), multiplier=100, fees=fees_for("SPX")) == 0
    )
    with pytest.raises(ModelError, match="shape"):
        exercise_costs(c, np.ones((2, 5), bool), multiplier=50, fees=es)


def test_fx_cost_only_across_currencies():
    m = CostModel()
    np.testing.assert_allclose(
        m.fx_conversion_cost([100.0, -50.0], instrument_currency="USD", account_currency="GBP"),
        [0.02, 0.01],
    )
    np.testing.assert_array_equal(
        m.fx_conversion_cost([100.0, -50.0], instrument_currency="usd", account_currency="USD"),
        [0.0, 0.0],
    )


# ----------------------------------------------------------------------------- liquidity


def test_wide_spread_fails_naming_the_leg():
    q = quotes()
    q.loc[q["strike"] == 6850.0, ["bid", "ask"]] = [0.3, 0.7]  # mid 0.5, width 0.4
    got = liquidity_reason(condor(), q, max_rel_spread=0.5, min_open_interest=None)
    assert got == "leg -1P6850 2026-02-02: (ask-bid)/mid 0.80 > 0.5"
    assert liquidity_reason(condor(), q, max_rel_spread=0.9, min_open_interest=None) is None


def test_mid_column_is_used_when_present():
    q = quotes()
    q["mid"] = (q["bid"] + q["ask"]) / 2
    q.loc[q["strike"] == 7060.0, "mid"] = 0.2  # width 0.4 / 0.2 = 2.0
    got = liquidity_reason(condor(), q, max_rel_spread=1.0, min_open_interest=None)
    assert got == "leg +1C7060 2026-02-02: (ask-bid)/mid 2.00 > 1"


def test_open_interest_filter():
    q = quotes()
    q.loc[q["strike"] == 7030.0, "open_interest"] = 12.0
    got = liquidity_reason(condor(), q, max_rel_spread=None, min_open_interest=100)
    assert got == "leg -1C7030 2026-02-02: open interest 12 < 100"
    q.loc[q["strike"] == 7030.0, "open_interest"] = np.nan  # unknown: passes
    assert liquidity_reason(condor(), q, max_rel_spread=None, min_open_interest=100) is None
    no_oi = quotes().drop(columns="open_interest")
    assert liquidity_reason(condor(), no_oi, max_rel_spread=None, min_open_interest=1e9) is None


def test_several_failures_are_joined():
    q = quotes()
    q["open_interest"] = 5.0
    got = liquidity_reason(condor(), q, max_rel_spread=None, min_open_interest=10)
    assert got is not None and got.count("; ") == 3


def test_unquoted_legs_and_no_chain_pass():
    unlisted = candidate([Leg(P, 6855.0, EXP, -1, 12.0)])  # no exact strike: not checked
    assert liquidity_reason(unlisted, quotes(), max_rel_spread=0.01, min_open_interest=1e9) is None
    assert liquidity_reason(condor(), None, max_rel_spread=0.01, min_open_interest=1e9) is None
    assert liquidity_reason(condor(), quotes(), max_rel_spread=None, min_open_interest=None) is None
    with pytest.raises(ModelError, match="max_rel_spread"):
        liquidity_reason(condor(), quotes(), max_rel_spread=0, min_open_interest=None)
    with pytest.raises(ModelError, match="min_open_interest"):
        liquidity_reason(condor(), quotes(), max_rel_spread=None, min_open_interest=-1)
