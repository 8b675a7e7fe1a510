"""Reference tables (instruments, phases, VIX/BP, limits, groups) against hand-typed domain.md values.

Every expected number below is typed from shared/docs/domain.md (sections 2e, 3c, 4, 5, 6, 9)
or from the exchange specifications, independently of the data files under test.
"""

from __future__ import annotations

import math
from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.errors import ModelError
from models.instruments import (
    ExerciseStyle,
    InstrumentKind,
    Settlement,
    all_instruments,
    get_instrument,
)
from models.margin.reg_t import MarginClass
from models.phases import (
    STRATEGIES,
    correlation_groups,
    emergency_reserve,
    get_group,
    get_phase,
    group_for_symbol,
    group_limit,
    max_bp_fraction,
    max_positions,
    phase_for_nlv,
    phases,
    products_allowed,
    strategies_allowed,
    vix_bands,
    vix_size_multiplier,
)

# ---------------------------------------------------------------------------------------------
# Instruments
# ---------------------------------------------------------------------------------------------

# Exchange contract multipliers (Cboe / OCC / CME Group specifications).
MULTIPLIERS = {
    "SPX": 100, "SPXW": 100, "XSP": 100, "SPY": 100, "QQQ": 100, "IWM": 100,
    "GLD": 100, "TLT": 100, "SLV": 100,
    "ES": 50, "MES": 5, "NQ": 20, "MNQ": 2, "RTY": 50, "M2K": 5,
    "CL": 1000, "MCL": 100, "GC": 100, "MGC": 10, "SI": 5000,
    "ZB": 1000, "ZN": 1000, "6E": 125000, "M6E": 12500,
}  # fmt: skip

# domain.md section 6 (+ thetaplan's SPX/SPXW/XSP -> A1 mapping)
GROUP_OF = {
    "SPX": "A1", "SPXW": "A1", "XSP": "A1", "ES": "A1", "MES": "A1", "NQ": "A1", "MNQ": "A1",
    "RTY": "A1", "M2K": "A1", "SPY": "A2", "QQQ": "A2", "IWM": "A2",
    "GC": "B1", "MGC": "B1", "GLD": "B1", "TLT": "B1", "ZB": "B1", "ZN": "B1",
    "SI": "B2", "SLV": "B2", "CL": "C1", "MCL": "C1", "6E": "E", "M6E": "E",
}  # fmt: skip

# domain.md section 9: Tom King outright futures margins, GBP
TK_FUTURES_MARGIN_GBP = {
    "MES": 400, "MNQ": 500, "MCL": 2200, "MGC": 2700, "M6E": 200, "6E": 1800, "ZB": 3300,
    "ZN": 1800, "ES": 13000, "NQ": 16000, "CL": 5500, "GC": 6800, "SI": 7500,
}  # fmt: skip

# domain.md section 9: per-strangle figures ($ where marked, else GBP by the sheet's convention)
PER_STRANGLE = {
    "6E": (2400, "USD"), "CL": (7400, "USD"), "ZB": (4500, "USD"), "MCL": (3000, "USD"),
    "MGC": (3650, "USD"), "SPY": (4000, "GBP"), "QQQ": (3500, "GBP"), "IWM": (2500, "GBP"),
    "TLT": (1200, "GBP"), "GLD": (1000, "GBP"), "SLV": (800, "GBP"),
}  # fmt: skip


def test_every_required_symbol_is_present_with_its_exchange_multiplier():
    table = {i.symbol: i for i in all_instruments()}
    assert set(MULTIPLIERS) <= set(table)
    for sym, mult in MULTIPLIERS.items():
        assert table[sym].multiplier == mult, sym
        assert table[sym].currency == "USD"
        assert table[sym].source


def test_symbols_are_unique_and_lookup_is_case_insensitive():
    symbols = [i.symbol for i in all_instruments()]
    assert len(symbols) == len(set(symbols))
    assert get_instrument("spx") is get_instrument("SPX")


def test_unknown_symbol_names_it_and_lists_known_ones():
    with pytest.raises(ModelError, match=r"unknown instrument 'FOO'.*known: .*SPX"):
        get_instrument("FOO")


@pytest.mark.parametrize(
    ("symbol", "kind", "margin_class", "exercise", "settlement"),
    [
        (
            "SPX",
            InstrumentKind.BROAD_INDEX,
            MarginClass.BROAD_BASED_INDEX,
            ExerciseStyle.EUROPEAN,
            Settlement.CASH,
        ),
        (
            "XSP",
            InstrumentKind.BROAD_INDEX,
            MarginClass.BROAD_BASED_INDEX,
            ExerciseStyle.EUROPEAN,
            Settlement.CASH,
        ),
        (
            "SPY",
            InstrumentKind.ETF,
            # Cboe Regulatory Circular RG09-97: 15% for a broad-based ETF, 20% narrow-based
            MarginClass.BROAD_BASED_INDEX,
            ExerciseStyle.AMERICAN,
            Settlement.PHYSICAL,
        ),
        (
            "ES",
            InstrumentKind.FUTURE,
            MarginClass.FUTURES,
            ExerciseStyle.AMERICAN,
            Settlement.PHYSICAL,
        ),
        (
            "MCL",
            InstrumentKind.FUTURE,
            MarginClass.FUTURES,
            ExerciseStyle.EUROPEAN,
            Settlement.CASH,
        ),
    ],
)
def test_kind_margin_class_exercise_settlement(symbol, kind, margin_class, exercise, settlement):
    inst = get_instrument(symbol)
    assert (inst.kind, inst.margin_class, inst.exercise, inst.settlement) == (
        kind,
        margin_class,
        exercise,
        settlement,
    )


@pytest.mark.parametrize(
    ("symbol", "increment"),
    [("SPX", 5), ("XSP", 1), ("SPY", 1), ("ES", 5), ("MES", 5), ("CL", 0.5), ("MCL", 0.5),
     ("GC", 5), ("MGC", 5), ("ZB", 0.5), ("SI", 0.25), ("6E", 0.005)],
)  # fmt: skip
def test_strike_increments(symbol, increment):
    assert get_instrument(symbol).strike_increment == increment


def test_correlation_group_of_every_instrument_exists_and_contains_it():
    ids = {g.group for g in correlation_groups()}
    for inst in all_instruments():
        assert inst.correlation_group in ids, inst.symbol
        assert group_for_symbol(inst.symbol).group == inst.correlation_group, inst.symbol
    for sym, group in GROUP_OF.items():
        assert get_instrument(sym).correlation_group == group, sym


def test_tom_king_margin_figures():
    for inst in all_instruments():
        assert inst.tk_futures_margin_gbp == TK_FUTURES_MARGIN_GBP.get(inst.symbol), inst.symbol
        expected = PER_STRANGLE.get(inst.symbol, (None, None))
        assert (inst.fixed_margin_per_strangle, inst.fixed_margin_currency) == expected, inst.symbol


def test_only_m6e_lacks_options():
    assert [i.symbol for i in all_instruments() if not i.has_options] == ["M6E"]


# ---------------------------------------------------------------------------------------------
# Phases
# ---------------------------------------------------------------------------------------------


def test_phase_table_matches_v17_seed_values():
    # domain.md section 5 (bands, targets), section 4 (v17 BP targets), section 6 (group limit),
    # section 5 "Total position caps" HEAD 3/5/7/10
    expected = [
        (1, 30_000, 40_000, 3_000, 0.40, 0.50, 2, 3),
        (2, 40_000, 60_000, 5_000, 0.55, 0.65, 2, 5),
        (3, 60_000, 75_000, 7_500, 0.60, 0.75, 2, 7),
        (4, 75_000, math.inf, 10_000, None, None, 3, 10),
    ]
    got = [
        (p.number, p.nlv_low_gbp, p.nlv_high_gbp, p.monthly_target_gbp, p.max_bp_low,
         p.max_bp_high, p.correlation_group_limit, p.max_total_positions)
        for p in phases()
    ]  # fmt: skip
    assert got == expected
    assert all(p.source for p in phases())


@pytest.mark.parametrize(
    ("nlv", "phase"),
    [(30_000, 1), (35_000, 1), (39_999.99, 1), (40_000, 2), (50_000, 2), (59_999, 2),
     (60_000, 3), (67_500, 3), (74_999.99, 3), (75_000, 4), (1e9, 4)],
)  # fmt: skip
def test_phase_for_nlv_half_open_bands(nlv, phase):
    assert phase_for_nlv(nlv) == phase


@pytest.mark.parametrize("bad", [29_999.99, 0, -1, math.nan, math.inf, "abc", None])
def test_phase_for_nlv_rejects_out_of_range(bad):
    with pytest.raises(ModelError):
        phase_for_nlv(bad)


@pytest.mark.parametrize("bad", [0, 5, -1, True, 1.0, "1"])
def test_get_phase_rejects_bad_numbers(bad):
    with pytest.raises(ModelError, match="phase must be an integer 1..4"):
        get_phase(bad)


# ---------------------------------------------------------------------------------------------
# VIX -> max BP
# ---------------------------------------------------------------------------------------------

# TK-PDF Core Risk Management Matrix (domain.md section 4): (low, high, bp_low, bp_high, mid)
VIX_TABLE = [
    (0, 13, 0.40, 0.50, 0.45),
    (13, 18, 0.60, 0.70, 0.65),
    (18, 25, 0.75, 0.80, 0.775),
    (25, 30, 0.50, 0.50, 0.50),
    (30, math.inf, 0.80, 0.80, 0.80),
]


def test_vix_table_is_the_tk_pdf_matrix():
    got = [
        (b.vix_low, b.vix_high, b.max_bp_low, b.max_bp_high, b.mid_multiplier) for b in vix_bands()
    ]
    assert got == VIX_TABLE
    for b in vix_bands():
        assert b.mid_multiplier == pytest.approx((b.max_bp_low + b.max_bp_high) / 2)


def test_vix_intervals_cover_zero_to_infinity_without_overlap():
    bands = vix_bands()
    assert bands[0].vix_low == 0 and bands[-1].vix_high == math.inf
    for a, b in zip(bands, bands[1:], strict=False):
        assert a.vix_high == b.vix_low and a.vix_low < a.vix_high


@given(st.floats(min_value=0, max_value=500, allow_nan=False))
def test_every_vix_level_falls_in_exactly_one_band(vix):
    assert sum(b.contains(vix) for b in vix_bands()) == 1
    assert (
        0
        < max_bp_fraction(vix, bound="low")
        <= max_bp_fraction(vix, bound="mid")
        <= max_bp_fraction(vix, bound="high")
        <= 1
    )


@pytest.mark.parametrize(
    ("vix", "low", "mid", "high"),
    [(0, 0.40, 0.45, 0.50), (12.99, 0.40, 0.45, 0.50), (13, 0.60, 0.65, 0.70),
     (17.99, 0.60, 0.65, 0.70), (18, 0.75, 0.775, 0.80), (25, 0.50, 0.50, 0.50),
     (29.99, 0.50, 0.50, 0.50), (30, 0.80, 0.80, 0.80), (80, 0.80, 0.80, 0.80)],
)  # fmt: skip
def test_max_bp_fraction_at_band_edges(vix, low, mid, high):
    assert max_bp_fraction(vix) == low  # default bound is "low"
    assert max_bp_fraction(vix, bound="mid") == pytest.approx(mid)
    assert max_bp_fraction(vix, bound="high") == high


def test_phase_bp_targets_override_vix_below_phase_4():
    # v17: P1 40-50%, P2 55-65%, P3 60-75%, P4 follows VIX
    assert max_bp_fraction(20, bound="low", phase=1) == 0.40
    assert max_bp_fraction(20, bound="high", phase=2) == 0.65
    assert max_bp_fraction(20, bound="mid", phase=3) == pytest.approx(0.675)
    assert max_bp_fraction(20, bound="high", phase=4) == 0.80  # VIX 18-25 band


@pytest.mark.parametrize("bad", [-0.01, math.nan, math.inf, "x", None])
def test_max_bp_fraction_rejects_bad_vix(bad):
    with pytest.raises(ModelError):
        max_bp_fraction(bad)


def test_max_bp_fraction_rejects_bad_bound_and_phase():
    with pytest.raises(ModelError, match="bound"):
        max_bp_fraction(15, bound="max")
    with pytest.raises(ModelError, match="phase"):
        max_bp_fraction(15, phase=7)


def test_emergency_reserve_is_twenty_percent():
    assert emergency_reserve() == 0.20


@pytest.mark.parametrize(
    ("vix", "mult"),
    [
        (0, 1.2),
        (14.99, 1.2),
        (15, 1.0),
        (24.99, 1.0),
        (25, 0.8),
        (34.99, 0.8),
        (35, 0.6),
        (90, 0.6),
    ],
)
def test_seed_calculator_vix_size_multipliers(vix, mult):
    # domain.md section 2e: 1.2 (VIX<15), 1.0 (15-25), 0.8 (25-35), 0.6 (>=35)
    assert vix_size_multiplier(vix) == mult


# ---------------------------------------------------------------------------------------------
# Position limits, groups, products
# ---------------------------------------------------------------------------------------------

# v17 "PDF p.36" (domain.md section 5)
MAX_POSITIONS = {
    "zero_dte": (1, 2, 3, 4), "lt112": (0, 4, 1, 3), "strangle": (1, 3, 4, 5),
    "ipmcc": (1, 2, 3, 4), "leap_put": (0, 2, 3, 10), "ratio": (0, 2, 4, 5),
    "butterfly": (0, 0, 2, 4), "diagonal": (0, 0, 2, 4), "box": (0, 0, 1, 2),
}  # fmt: skip


def test_max_positions_table():
    assert set(STRATEGIES) == set(MAX_POSITIONS)
    for strategy, limits in MAX_POSITIONS.items():
        assert tuple(max_positions(strategy, p) for p in (1, 2, 3, 4)) == limits, strategy


def test_max_positions_errors():
    with pytest.raises(ModelError, match="unknown strategy 'iron_fly'"):
        max_positions("iron_fly", 1)
    with pytest.raises(ModelError):
        max_positions("strangle", 0)


def test_strategies_unlocked_per_phase_match_v17():
    # domain.md section 5 "Unlocked (v17)"
    p1 = {"zero_dte", "ipmcc", "strangle"}
    p2 = p1 | {"lt112", "ratio", "leap_put"}
    p3 = p2 | {"butterfly", "diagonal", "box"}
    assert strategies_allowed(1) == p1
    assert strategies_allowed(2) == p2
    assert strategies_allowed(3) == p3
    assert strategies_allowed(4) == set(STRATEGIES)


def test_correlation_groups_match_tk_pdf():
    # domain.md section 6
    limits = {"A1": 2, "A2": 3, "B1": 2, "B2": 2, "C1": 2, "C2": 1, "D1": 2, "D2": 1, "E": 2}
    groups = {g.group: g for g in correlation_groups()}
    assert {k: g.limit for k, g in groups.items()} == limits
    assert groups["A1"].members == ("ES", "MES", "NQ", "MNQ", "RTY", "M2K", "YM", "MYM")
    assert groups["A1"].thetaplan_additions == ("SPX", "SPXW", "XSP")
    assert groups["B1"].members == ("GC", "MGC", "GLD", "TLT", "ZB", "ZN")
    assert groups["E"].members == ("6E", "6B", "6A", "6C", "M6E", "M6A", "DXY")
    assert groups["C2"].members == ("NG",)


def test_no_symbol_in_two_groups():
    seen: dict[str, str] = {}
    for g in correlation_groups():
        for sym in g.all_members:
            assert sym not in seen, (sym, seen.get(sym), g.group)
            seen[sym] = g.group


def test_group_limits_by_phase():
    # 2 below GBP 75k, 3 at 75k+; a group's own lower limit still applies
    assert [group_limit(p) for p in (1, 2, 3, 4)] == [2, 2, 2, 3]
    assert group_limit(4, "C2") == 1
    assert group_limit(4, "A2") == 3
    assert group_limit(1, "A2") == 2
    with pytest.raises(ModelError, match="unknown correlation group 'Z9'"):
        get_group("Z9")
    assert group_for_symbol("AAPL") is None


def test_products_by_phase_v17_ladder():
    # domain.md section 3c
    p1 = {"MCL", "MGC", "GLD", "TLT"}
    p2 = p1 | {"MES", "MNQ", "SLV", "XOP", "6A", "M6E"}
    p3_new = {"ES", "CL", "GC", "LE", "HE", "ZC", "ZS", "ZW", "6E", "6B", "ZB", "ZN"}
    assert products_allowed(1) == p1
    assert products_allowed(2) == p2
    assert products_allowed(3) == p2 | p3_new
    assert {"NQ", "RTY", "SI", "NG", "RB", "HO", "6C", "6J", "6S", "ZF", "ZT"} <= products_allowed(
        4
    )
    assert products_allowed(3) < products_allowed(4)


def test_data_readme_documents_every_data_file():
    data = resources.files("models") / "data"
    readme = (data / "README.md").read_text(encoding="utf-8")
    files = [p.name for p in data.iterdir() if p.name.endswith((".csv", ".yaml"))]
    assert len(files) >= 9
    for name in files:
        assert f"## {name}" in readme, name
