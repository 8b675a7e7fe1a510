"""Strategy income allocator: VIX tilts, targets and least-BP rebalancing (issue 9).

* tilts against values worked by hand from seed 1's ``adjustAllocationsForVIX`` (TKT e86541e
  ``strategyIncomeAllocator.js``, domain.md §2e) at VIX 12, 20, 40, 60 and at the boundaries;
* the tilt data file: its rows, and the loader's refusals (overlap, unknown strategy);
* ``allocation_targets`` sums to the target and reports the all-strategy size multiplier;
* ``rebalance`` against brute-force enumeration of every add vector in small boxes: same
  feasibility, same least BP, same income tie-break, bands recomputed ex post from the returned
  adds, the reported smallest feasible tolerance equal to the brute-force one;
* hand cases (in band, one strategy under, infeasible with a reason) on every backend;
* bad input raises ValueError naming the problem.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import models.allocation as allocation_module
from models.allocation import DEFAULT_WEIGHTS, tilt_factors
from models.errors import DataError
from models.instruments import parse_reference_csv
from optimizer.tracking.allocator import (
    MIN_TOLERANCE_PRECISION,
    RebalanceStatus,
    allocation_targets,
    allocation_tilts,
    rebalance,
    rebalance_problem,
    size_multiplier,
    tilted_weights,
)

TK = dict(DEFAULT_WEIGHTS)
SEED_NAMES = {"0DTE": "zero_dte", "LT112": "lt112", "STRANGLE": "strangle"}
NAMES = ("zero_dte", "lt112", "strangle")


# --------------------------------------------------------------------------------------
# Tilts
# --------------------------------------------------------------------------------------


def _normalised(raw):
    total = sum(raw)
    return [r / total for r in raw]


@pytest.mark.parametrize(
    ("vix", "expected"),
    [
        # VIX < 15: 0.4*1.1, 0.35*1.05, 0.25*0.85 = 0.44, 0.3675, 0.2125 (sum 1.02)
        (12, _normalised([0.44, 0.3675, 0.2125])),
        (20, [0.40, 0.35, 0.25]),  # 15 <= VIX < 35: untilted
        # 35 <= VIX < 50: 0.4*0.9, 0.35*0.95, 0.25*1.15 = 0.36, 0.3325, 0.2875 (sum 0.98)
        (40, _normalised([0.36, 0.3325, 0.2875])),
        (60, [0.40, 0.35, 0.25]),  # VIX >= 50: all x0.5 cancels
    ],
)
def test_tilted_weights_hand_values(vix, expected):
    got = tilted_weights(TK, vix)
    assert list(got) == list(TK)
    assert [got[s] for s in NAMES] == pytest.approx(expected, abs=1e-12)
    assert sum(got.values()) == pytest.approx(1.0, abs=1e-12)


def test_tilted_weights_rounded_hand_values_at_vix_12():
    got = tilted_weights(TK, 12)
    assert [round(got[s], 4) for s in NAMES] == [0.4314, 0.3603, 0.2083]


@pytest.mark.parametrize(
    ("vix", "factors", "size"),
    [
        (0, (1.1, 1.05, 0.85), 1.0),
        (14.99, (1.1, 1.05, 0.85), 1.0),
        (15, (1.0, 1.0, 1.0), 1.0),  # half-open: 15 is in the untilted band
        (34.99, (1.0, 1.0, 1.0), 1.0),
        (35, (0.9, 0.95, 1.15), 1.0),  # seed: "> 35"; thetaplan: [35, 50)
        (49.99, (0.9, 0.95, 1.15), 1.0),
        (50, (1.0, 1.0, 1.0), 0.5),  # seed: "> 50"; thetaplan: [50, inf)
        (80, (1.0, 1.0, 1.0), 0.5),
    ],
)
def test_tilt_factors_and_size_multiplier_at_boundaries(vix, factors, size):
    got = tilt_factors(NAMES, vix)
    assert tuple(got[s] for s in NAMES) == pytest.approx(factors, abs=1e-15)
    assert size_multiplier(vix) == size


def test_size_multiplier_is_what_cancels_in_the_weights():
    # multiplying every weight by the "*" tilt and renormalising gives the untilted weights
    raw = {s: w * size_multiplier(60) for s, w in TK.items()}
    total = sum(raw.values())
    assert {s: v / total for s, v in raw.items()} == pytest.approx(tilted_weights(TK, 60))
    assert size_multiplier(60) == 0.5 and size_multiplier(20) == 1.0


def test_seed_names_through_aliases():
    seed = {"0DTE": 0.4, "LT112": 0.35, "STRANGLE": 0.25}
    got = tilted_weights(seed, 12, strategy_aliases=SEED_NAMES)
    assert list(got) == ["0DTE", "LT112", "STRANGLE"]
    assert list(got.values()) == pytest.approx(list(tilted_weights(TK, 12).values()))
    with pytest.raises(ValueError, match=r"unknown strategy '0DTE'.*strategy_aliases"):
        tilted_weights(seed, 12)


def test_strategy_without_tilt_rows_keeps_its_relative_weight():
    w = {"zero_dte": 0.3, "lt112": 0.3, "strangle": 0.2, "ipmcc": 0.2}
    got = tilted_weights(w, 12)
    raw = {"zero_dte": 0.33, "lt112": 0.315, "strangle": 0.17, "ipmcc": 0.2}
    assert got == pytest.approx({s: v / sum(raw.values()) for s, v in raw.items()})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"weights": {"zero_dte": 0.5, "lt112": 0.4}, "vix": 20}, "must sum to 1"),
        ({"weights": {"zero_dte": 1.2, "lt112": -0.2}, "vix": 20}, ">= 0"),
        ({"weights": {}, "vix": 20}, "non-empty"),
        ({"weights": TK, "vix": -1}, "vix must be a finite number >= 0"),
        ({"weights": TK, "vix": math.nan}, "vix must be a finite number >= 0"),
        ({"weights": TK, "vix": 20, "rule": "nope"}, "unknown allocation tilt rule 'nope'"),
        ({"weights": {"zdte": 0.4, "lt112": 0.6}, "vix": 20}, "unknown strategy 'zdte'"),
    ],
)
def test_tilted_weights_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tilted_weights(**kwargs)


def test_tilt_data_rows_and_sources():
    rows = allocation_tilts("tk")
    assert [(t.vix_min, t.vix_max, t.strategy, t.multiplier) for t in rows] == [
        (-math.inf, 15, "zero_dte", 1.1),
        (-math.inf, 15, "lt112", 1.05),
        (-math.inf, 15, "strangle", 0.85),
        (35, 50, "zero_dte", 0.9),
        (35, 50, "lt112", 0.95),
        (35, 50, "strangle", 1.15),
        (50, math.inf, "*", 0.5),
    ]
    for t in rows:
        assert "strategyIncomeAllocator.js" in t.source and "e86541e" in t.source
        assert "2e" in t.source


_HEADER = "rule,vix_min,vix_max,strategy,multiplier,source\n"


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("x,,15,lt112,1.1,s\nx,10,20,lt112,1.2,s\n", "overlaps"),
        ("x,,15,zdte,1.1,s\n", "unknown strategy"),
        ("x,20,15,lt112,1.1,s\n", "vix_min < vix_max"),
        ("x,,15,lt112,0,s\n", "must be > 0"),
        ("x,,15,lt112,1.1,\n", "column source"),
    ],
)
def test_tilt_loader_refuses_bad_rows(monkeypatch, body, match):
    def fake(name, required):
        return parse_reference_csv(_HEADER + body, name, required)

    monkeypatch.setattr(allocation_module, "read_reference_csv", fake)
    allocation_module._tilts.cache_clear()
    try:
        with pytest.raises(DataError, match=match):
            allocation_tilts("x")
    finally:
        monkeypatch.undo()
        allocation_module._tilts.cache_clear()
    assert len(allocation_tilts("tk")) == 7


# --------------------------------------------------------------------------------------
# Targets
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("vix", [None, 12, 20, 40, 60])
def test_allocation_targets_sum_to_target(vix):
    tilts = None if vix is None else "tk"
    df = allocation_targets(10_000, TK, vix=vix, tilts=tilts)
    assert list(df.columns) == ["strategy", "base_weight", "tilt", "weight", "target"]
    assert df["strategy"].tolist() == list(NAMES)
    assert df["target"].sum() == pytest.approx(10_000, abs=1e-9)
    assert df["weight"].sum() == pytest.approx(1.0, abs=1e-12)
    assert (df["target"] == df["weight"] * 10_000).all()
    expected = TK if vix is None else tilted_weights(TK, vix)
    assert df["weight"].tolist() == pytest.approx([expected[s] for s in NAMES])
    # weight = base x tilt, renormalised
    raw = df["base_weight"] * df["tilt"]
    assert (raw / raw.sum()).tolist() == pytest.approx(df["weight"].tolist())
    assert df.attrs["size_multiplier"] == (0.5 if vix == 60 else 1.0)


def test_allocation_targets_vix_12_hand_values():
    df = allocation_targets(10_000, vix=12, tilts="tk").set_index("strategy")
    assert df["tilt"].tolist() == pytest.approx([1.1, 1.05, 0.85])
    assert df["target"].round(0).tolist() == [4314, 3603, 2083]


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((-1, TK), {}, "monthly_target"),
        ((math.inf, TK), {}, "monthly_target"),
        ((100, TK), {"vix": 20}, "vix given without tilts"),
        ((100, TK), {"tilts": "tk"}, "needs the VIX level"),
        ((100, {"zero_dte": 0.5}), {}, "must sum to 1"),
    ],
)
def test_allocation_targets_bad_input(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        allocation_targets(*args, **kwargs)


# --------------------------------------------------------------------------------------
# Rebalancing: brute force
# --------------------------------------------------------------------------------------


def _band_ok(income, labels, weights, tol, floor, n):
    """Rows of the documented rule for books ``n`` (N, K): shares in band and income floor."""
    n = np.atleast_2d(n)
    total = n @ income
    eps = 1e-9 * np.maximum(1.0, n @ np.abs(income))
    ok = total >= floor - eps
    for s, w in weights.items():
        own = n @ (income * (labels == s))
        ok &= own - (w + tol) * total <= eps
        ok &= own - (w - tol) * total >= -eps
    return ok


def _brute_force(case):
    """Every add vector in the box: feasibility, least BP, best income at least BP, min tol."""
    income, bp, held, max_add = (case[k] for k in ("income", "bp", "held", "max_add"))
    labels = np.array(case["strategy"], dtype=object)
    ys = np.array(list(itertools.product(*(range(m + 1) for m in max_add))), dtype=float)
    ys = ys.reshape(-1, len(held))
    n = held + ys
    floor = max(float(income @ held), 0.0)
    fits = ys @ bp <= case["bp_available"] + 1e-9
    ok = fits & _band_ok(income, labels, case["weights"], case["tolerance"], floor, n)
    out = {"feasible": bool(ok.any()), "in_band": bool(ok[0])}  # row 0 is y = 0
    if ok.any():
        least = float((ys[ok] @ bp).min())
        at_least = ok & (ys @ bp <= least + 1e-9)
        out["least_bp"] = least
        out["best_income"] = float((n[at_least] @ income).max())
    # smallest tolerance: min over books with T > 0 that meet the floor and the BP budget
    total = n @ income
    cand = fits & (total >= floor - 1e-9) & (total > 1e-9)
    if cand.any():
        dev = np.zeros(cand.sum())
        for s, w in case["weights"].items():
            own = n[cand] @ (income * (labels == s))
            dev = np.maximum(dev, np.abs(own / total[cand] - w))
        out["min_tolerance"] = float(dev.min())
    else:
        out["min_tolerance"] = None
    return out


def _advise(case, **kw):
    return rebalance(
        case["strategy"],
        case["income"],
        case["bp"],
        case["held"],
        case["max_add"],
        weights=case["weights"],
        tolerance=case["tolerance"],
        bp_available=case["bp_available"],
        **kw,
    )


def _check_against_brute_force(case):
    advice = _advise(case)
    brute = _brute_force(case)
    income, bp, held = case["income"], case["bp"], case["held"]
    labels = np.array(case["strategy"], dtype=object)
    # shares before, recomputed
    t0 = float(income @ held)
    for s in case["weights"]:
        want = float(income[labels == s] @ held[labels == s]) / t0 if t0 > 0 else math.nan
        assert advice.shares_before[s] == pytest.approx(want, nan_ok=True)
    assert (advice.status is RebalanceStatus.INFEASIBLE) == (not brute["feasible"])
    assert (advice.status is RebalanceStatus.IN_BAND) == brute["in_band"]
    if advice.status is RebalanceStatus.INFEASIBLE:
        assert not advice.adds.any() and advice.added_bp == 0
        t_star = brute["min_tolerance"]
        if t_star is None:
            assert advice.min_tolerance is None and advice.message
        else:
            assert advice.min_tolerance is not None
            assert t_star - 1e-9 <= advice.min_tolerance <= t_star + MIN_TOLERANCE_PRECISION
            # reported == recomputed: the same limits suffice at the reported tolerance
            again = _advise({**case, "tolerance": advice.min_tolerance + 1e-9})
            assert again.status is not RebalanceStatus.INFEASIBLE
        return advice, brute
    adds = advice.adds
    assert adds.dtype == np.int64 and adds.shape == held.shape
    assert np.all(adds >= 0) and np.all(adds <= case["max_add"])
    assert advice.added_bp == pytest.approx(float(bp @ adds), abs=1e-9)
    assert advice.added_bp == pytest.approx(brute["least_bp"], abs=1e-6)
    assert advice.added_bp <= case["bp_available"] + 1e-9
    # lexicographic tie-break: the most income among the least-BP adds
    assert advice.income_after == pytest.approx(brute["best_income"], abs=1e-6)
    # bands recomputed ex post from the returned adds
    floor = max(t0, 0.0)
    n = held + adds
    assert _band_ok(income, labels, case["weights"], case["tolerance"], floor, n)[0]
    t1 = float(income @ n)
    for s, w in case["weights"].items():
        share = float(income[labels == s] @ n[labels == s]) / t1 if t1 > 0 else math.nan
        assert advice.shares_after[s] == pytest.approx(share, nan_ok=True)
        if t1 > 0:
            assert w - case["tolerance"] - 1e-9 <= share <= w + case["tolerance"] + 1e-9
    if advice.status is RebalanceStatus.IN_BAND:
        assert not adds.any() and not advice.over and not advice.under
    return advice, brute


@st.composite
def _cases(draw):
    k = draw(st.integers(1, 5))
    labels = draw(st.lists(st.sampled_from(NAMES), min_size=k, max_size=k))
    present = list(dict.fromkeys(labels))
    parts = draw(st.lists(st.integers(1, 4), min_size=len(present), max_size=len(present)))
    weights = {s: p / sum(parts) for s, p in zip(present, parts, strict=True)}

    def ints(lo, hi):
        return st.lists(st.integers(lo, hi), min_size=k, max_size=k)

    return {
        "strategy": labels,
        "income": np.array(draw(ints(-5, 40)), dtype=float),
        "bp": np.array(draw(ints(1, 40)), dtype=float) * 25,
        "held": np.array(draw(ints(0, 2))),
        "max_add": np.array(draw(ints(0, 3))),
        "weights": weights,
        "tolerance": draw(st.sampled_from([0.0, 0.05, 0.1, 0.15, 0.25])),
        "bp_available": draw(st.sampled_from([0.0, 500.0, 2_000.0, math.inf])),
    }


@given(case=_cases())
@settings(max_examples=50, deadline=None, derandomize=True)
def test_rebalance_matches_brute_force(case):
    advice, _ = _check_against_brute_force(case)
    event(f"status {advice.status.value}, min_tolerance {advice.min_tolerance is not None}")


def _random_case(rng):
    k = int(rng.integers(2, 6))
    labels = [NAMES[i] for i in rng.integers(0, 3, k)]
    present = list(dict.fromkeys(labels))
    parts = rng.integers(1, 5, len(present))
    return {
        "strategy": labels,
        "income": rng.integers(-5, 40, k).astype(float),
        "bp": rng.integers(1, 40, k).astype(float) * 25,
        "held": rng.integers(0, 3, k),
        "max_add": rng.integers(0, 4, k),
        "weights": {s: p / parts.sum() for s, p in zip(present, parts, strict=True)},
        "tolerance": float(rng.choice([0.05, 0.1, 0.15, 0.25])),
        "bp_available": float(rng.choice([500.0, 2_000.0, math.inf])),
    }


def test_brute_force_comparison_covers_every_status():
    """The property above is not vacuous: seeded cases reach every status, both reasons."""
    rng = np.random.default_rng(9)
    seen = Counter()
    for _ in range(60):
        advice, _ = _check_against_brute_force(_random_case(rng))
        seen[advice.status, advice.min_tolerance is not None] += 1
    for status in RebalanceStatus:
        assert seen[status, False] + seen[status, True] >= 3, seen
    assert seen[RebalanceStatus.INFEASIBLE, True] >= 3, seen  # smallest tolerance compared
    assert seen[RebalanceStatus.INFEASIBLE, False] >= 1, seen  # "no positive income" reason


# --------------------------------------------------------------------------------------
# Rebalancing: hand cases
# --------------------------------------------------------------------------------------

LABELS = ["zero_dte", "lt112", "strangle", "zero_dte", "strangle"]
INCOME = np.array([10.0, 35.0, 25.0, 8.0, 20.0])
BP = np.array([200.0, 2_500.0, 1_500.0, 150.0, 1_000.0])


@pytest.mark.parametrize("backend", ["highs", "cvxpy", "pulp"])
def test_in_band_book_needs_no_adds(backend):
    # 4 x 10 = 40, 1 x 35 = 35, 1 x 25 = 25: exactly 40/35/25
    advice = rebalance(
        LABELS,
        INCOME,
        BP,
        [4, 1, 1, 0, 0],
        [3, 3, 3, 3, 3],
        weights=TK,
        tolerance=0.05,
        bp_available=10_000,
        backend=backend,
    )
    assert advice.status == "in_band"
    assert advice.adds.tolist() == [0, 0, 0, 0, 0] and advice.added_bp == 0
    assert advice.shares_before == pytest.approx({"zero_dte": 0.4, "lt112": 0.35, "strangle": 0.25})
    assert advice.over == () and advice.under == ()
    assert advice.message.startswith("in band")


def test_empty_book_is_in_band():
    advice = rebalance(
        LABELS, INCOME, BP, [0] * 5, [3] * 5, weights=TK, tolerance=0.05, bp_available=1e4
    )
    assert advice.status == "in_band" and not advice.adds.any()
    assert all(math.isnan(v) for v in advice.shares_before.values())
    assert "book has no income" in advice.message


@pytest.mark.parametrize("backend", ["highs", "cvxpy", "pulp"])
def test_one_strategy_under_gets_adds_only_there(backend):
    # 40 / 35 / 0: strangles under (0% < 20%), zero_dte and lt112 over; adds allowed everywhere
    advice = rebalance(
        LABELS,
        INCOME,
        BP,
        [4, 1, 0, 0, 0],
        [3, 3, 3, 3, 3],
        weights=TK,
        tolerance=0.05,
        bp_available=10_000,
        backend=backend,
    )
    assert advice.status == "rebalance"
    assert advice.under == ("strangle",)
    labels = np.array(LABELS)
    assert advice.adds[labels != "strangle"].tolist() == [0, 0, 0]
    # one strangle at 1,000 BP (20 income -> 20/95 = 21.1%) is the least BP that restores it
    assert advice.adds.tolist() == [0, 0, 0, 0, 1]
    assert advice.added_bp == 1_000
    assert advice.shares_after["strangle"] == pytest.approx(20 / 95)
    assert advice.income_after == advice.income_before + 20
    assert "strangle 1" in advice.message


def test_tie_break_takes_more_income_at_equal_bp():
    # two strangle candidates at the same BP; the one with more income wins
    advice = rebalance(
        ["zero_dte", "strangle", "strangle"],
        [10.0, 20.0, 24.0],
        [100.0, 500.0, 500.0],
        [8, 0, 0],
        [0, 1, 1],
        weights={"zero_dte": 0.8, "strangle": 0.2},
        tolerance=0.05,
        bp_available=math.inf,
    )
    assert advice.adds.tolist() == [0, 0, 1]


def test_adds_never_reduce_the_books_income():
    # zero_dte 40 vs strangle 30 (57% / 43%, band 45-55%). Two cheap negative-income zero_dte
    # adds would restore 50/50 for 20 BP but cut the income 70 -> 60; the income floor forbids
    # that, so one strangle (500 BP) is added instead: 40 / 40.
    advice = rebalance(
        ["zero_dte", "zero_dte", "strangle"],
        [10.0, -5.0, 10.0],
        [100.0, 10.0, 500.0],
        [4, 0, 3],
        [0, 3, 1],
        weights={"zero_dte": 0.5, "strangle": 0.5},
        tolerance=0.05,
        bp_available=math.inf,
    )
    assert advice.status == "rebalance"
    assert advice.adds.tolist() == [0, 0, 1]
    assert advice.income_after == 80 and advice.income_before == 70


def test_infeasible_reports_smallest_tolerance():
    # strangles 0%, at most 1 add of 25 -> 25/100 = 25% of a 100 book ... but BP allows none
    common = dict(weights=TK, tolerance=0.05)
    args = (LABELS, INCOME, BP, [4, 1, 0, 0, 0], [0, 0, 1, 0, 0])
    advice = rebalance(*args, bp_available=1_000, **common)
    assert advice.status == "infeasible"
    # no add fits in 1,000 BP: the smallest tolerance is the held book's own deviation
    # (zero_dte 40/75 = 53.3% vs 40%, strangle 0% vs 25%: max 25 points)
    assert advice.min_tolerance == pytest.approx(0.25, abs=MIN_TOLERANCE_PRECISION)
    assert "smallest feasible tolerance" in advice.message
    assert advice.over == ("zero_dte", "lt112") and advice.under == ("strangle",)
    ok = rebalance(*args, bp_available=1_500, **common)
    assert ok.status == "rebalance" and ok.adds.tolist() == [0, 0, 1, 0, 0]


def test_infeasible_without_positive_income_gives_the_reason():
    advice = rebalance(
        ["zero_dte", "lt112"],
        [-10.0, 5.0],
        [100.0, 100.0],
        [1, 0],
        [0, 1],
        weights={"zero_dte": 0.5, "lt112": 0.5},
        tolerance=0.1,
        bp_available=math.inf,
    )
    assert advice.status == "infeasible" and advice.min_tolerance is None
    assert "negative" in advice.message and "lift the book's income to 0" in advice.message


def test_problem_rows_are_named():
    problem = rebalance_problem(
        LABELS, INCOME, BP, [4, 1, 0, 0, 0], [3] * 5, weights=TK, tolerance=0.05, bp_available=1e4
    )
    assert problem.row_names == (
        "alloc_upper[zero_dte]",
        "alloc_lower[zero_dte]",
        "alloc_upper[lt112]",
        "alloc_lower[lt112]",
        "alloc_upper[strangle]",
        "alloc_lower[strangle]",
        "income_floor",
        "bp_added",
    )
    assert problem.objective.sense == "minimize" and problem.is_mip


GOOD = dict(
    strategy=["zero_dte", "lt112"],
    income=[10.0, 20.0],
    bp=[100.0, 200.0],
    held=[1, 1],
    max_add=[1, 1],
    weights={"zero_dte": 0.5, "lt112": 0.5},
    tolerance=0.05,
    bp_available=1_000.0,
)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"income": [10.0]}, r"income must have shape \(2,\)"),
        ({"bp": [100.0, 200.0, 300.0]}, r"bp must have shape \(2,\)"),
        ({"held": [1, -1]}, r"held\[1\] = -1 must be >= 0"),
        ({"held": [1, 0.5]}, "whole numbers"),
        ({"max_add": [1, -2]}, r"max_add\[1\] = -2 must be >= 0"),
        ({"bp": [100.0, 0.0]}, r"bp\[1\] = 0 must be > 0"),
        ({"income": [10.0, math.nan]}, "not finite"),
        ({"weights": {"zero_dte": 0.5, "lt112": 0.4}}, "must sum to 1"),
        (
            {"weights": {"zero_dte": 0.4, "lt112": 0.4, "strangle": 0.2}},
            "unknown strategy in weights: 'strangle' has no candidate",
        ),
        ({"weights": {"zero_dte": 1.0}}, "candidate strategy 'lt112' has no weight"),
        ({"tolerance": -0.01}, "tolerance must be"),
        ({"bp_available": -5.0}, "bp_available must be >= 0"),
        ({"strategy": []}, "non-empty"),
        ({"backend": "gurobi"}, "unknown backend 'gurobi'"),
    ],
)
def test_rebalance_bad_input(change, match):
    kw = {**GOOD, **change}
    args = [kw.pop(k) for k in ("strategy", "income", "bp", "held", "max_add")]
    with pytest.raises(ValueError, match=match):
        rebalance(*args, **kw)
