"""MovedSurface: a surface carried to a later date and price (the tracker's as-of valuation)."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.market.chain import synthetic_surface
from models.market.surfaces import MovedSurface

T0 = datetime(2026, 1, 30, 16, 0)


def _base():
    return synthetic_surface(
        6900.0, T0, 0.18, skew=-0.1, curvature=0.05, rate=0.04, carry=0.012, strike_increment=5
    )


def test_unmoved_is_the_base():
    base = _base()
    m = MovedSurface(base, spot=base.spot, valuation_time=T0)
    k = np.array([6000.0, 6900.0, 7500.0])
    for t in (0.05, 0.3, 1.0):
        assert np.allclose(m.iv(k, t), base.iv(k, t), rtol=0, atol=1e-15)
        assert float(m.forward(t)) == pytest.approx(float(base.forward(t)), rel=1e-15)
        assert float(m.discount_factor(t)) == float(base.discount_factor(t))
    exp = datetime(2026, 5, 29, 16, 0)
    assert m.time_to_expiry(exp) == pytest.approx(float(base.time_to_expiry(exp)), abs=1e-15)


@settings(max_examples=60, deadline=None)
@given(
    ratio=st.floats(0.6, 1.5),
    scale=st.floats(0.5, 2.0),
    days=st.integers(0, 60),
    k=st.floats(4000, 9000),
    t=st.floats(0.02, 1.5),
)
def test_sticky_moneyness_carry_and_clock(ratio, scale, days, k, t):
    """iv'(K) = scale × iv(K / ratio); F' = ratio × F; the clock starts at the new time."""
    base = _base()
    when = T0 + timedelta(days=days)
    m = MovedSurface(base, spot=base.spot * ratio, valuation_time=when, vol_scale=scale)
    assert float(m.iv(k, t)) == pytest.approx(scale * float(base.iv(k / ratio, t)), rel=1e-12)
    assert float(m.forward(t)) == pytest.approx(ratio * float(base.forward(t)), rel=1e-12)
    assert float(m.total_variance(k, t)) == pytest.approx(float(m.iv(k, t)) ** 2 * t, rel=1e-12)
    exp = datetime(2026, 6, 30, 16, 0)
    assert m.time_to_expiry(exp) == pytest.approx((exp - when).days / 365.0, abs=1e-9)
    # at-the-money stays at-the-money: the moved ATM vol is the base ATM vol × scale
    assert float(m.iv(base.spot * ratio, t)) == pytest.approx(
        scale * float(base.iv(base.spot, t)), rel=1e-12
    )


def test_bad_moves_are_refused():
    base = _base()
    with pytest.raises(ValueError, match="spot and vol_scale must be > 0"):
        MovedSurface(base, spot=0.0, valuation_time=T0)
    with pytest.raises(ValueError, match="before the base"):
        MovedSurface(base, spot=base.spot, valuation_time=T0 - timedelta(days=1))
